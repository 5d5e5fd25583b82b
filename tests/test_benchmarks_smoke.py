"""`make bench` must not rot: its cheap figures run and print a well-formed table (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["figure", "unit", "plnfilter", "baseline", "ratio", "target", "met", "note"]


def run_benchmark(tmp_path: Path, script: str, *args: str, timeout: int = 300) -> str:
    """A benchmark script's stdout, run in a fresh process in its own folder with no PLNFILTER_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLNFILTER_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_quick_bench_prints_a_table_of_figures(tmp_path):
    stdout = run_benchmark(tmp_path, "run.py", "--quick", "--posts", "600", "--only", "1,4,5,6,10")
    lines = stdout.splitlines()
    assert lines[0].startswith("machine: ") and "Python 3." in lines[0]
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == COLUMNS
    assert set(table[1]) <= {"|", "-"}
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
    figures = [row[0] for row in rows]
    assert any(
        f.startswith("1 ingest") and "writer busy" in f for f in figures
    )  # its baseline copies the schema
    assert any(f.startswith("4 rules filters/pln-digest.yaml") for f in figures)
    assert any(f.startswith("5 start-up: plnfilter --help") for f in figures)
    assert any(f.startswith("6 full-text") for f in figures)
    assert any(f.startswith("10 voices suggest") for f in figures)
    assert any(f.startswith("10 voices report") for f in figures)
    for row in rows:
        assert len(row) == len(COLUMNS), row
        float(row[2].replace(",", ""))  # plnfilter's figure is a number
        float(row[3].replace(",", ""))  # and so is the baseline's
        assert float(row[4]) > 0
        assert row[6] in {"yes", "NO", "-"}
    rules = next(row for row in rows if row[0].startswith("4 rules filters/pln-digest.yaml"))
    assert "differing from the hand loop: 0" in rules[7]  # the hand loop really does the same checks


def test_the_cost_curve_runs_at_tiny_sizes_and_prints_its_targets(tmp_path):
    stdout = run_benchmark(tmp_path, "scale.py", "--sizes", "400,800", "--chunk", "200", timeout=600)
    lines = stdout.splitlines()
    assert lines[0].startswith("machine: ")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| ")]
    figures = {row[0] for row in rows if len(row) == len(COLUMNS)}
    for size in ("400", "800"):
        for figure in ("ingest at", "bytes/post at", "query --limit 20 at", "top at", "links at", "apply at"):
            assert f"{figure} {size}" in figures, (figure, size)
        assert f"export to csv at {size}" in figures and f"export to jsonl at {size}" in figures
    for row in rows:
        if len(row) == len(COLUMNS) and row[0] not in ("figure",) and not row[0].startswith("-"):
            float(row[2].replace(",", ""))  # every measured figure is a number
    verdicts = [row[-1] for row in rows if len(row) == 3 and row[0] != "target"]
    assert verdicts and set(verdicts) <= {"MET", "MISSED"}
    assert any(row[0].startswith("archive at 800 <= 2,500 bytes/post") for row in rows if len(row) == 3)


def test_ingest_pages_counts_the_frames_an_ingest_writes_by_table(tmp_path):
    stdout = run_benchmark(tmp_path, "ingest_pages.py", "--posts", "400", "--pages")
    first, *rows = stdout.splitlines()
    assert first.endswith("for 400 posts")
    counted = {name: int(count.replace(",", "")) for count, name in (row.split() for row in rows)}
    assert {"posts", "posts_uri", "post_raw", "verdicts", "posts_fts_data"} <= set(counted)
    assert sum(counted.values()) == int(first.split()[0].replace(",", ""))
