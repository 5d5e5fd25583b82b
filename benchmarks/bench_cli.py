"""Figures 5-7 and the export half of 9: whole commands as a user runs them, each a fresh process.

5. start-up: `plnfilter --help` and `plnfilter query --limit 20 --format jsonl` against
   benchmarks/bare_query.py (click + sqlite3 running the same SQL).
6. full-text search: `plnfilter query TEXT --format jsonl` against the same bare script running
   the raw FTS5 SQL plnfilter builds (process start-up included on both sides).
7. export of every post to CSV and JSONL against the sqlite3 shell's `-csv` / `-json` output of
   the same query (or Python's sqlite3 module when the shell is not installed); the Parquet
   dataset of the same posts against plnfilter's own JSONL export, written whole into a new
   folder and then re-exported with nothing changed (fingerprints only), when pyarrow is installed.
9. peak RSS of the export child.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys

from measure import PLNFILTER, PYTHON, ROOT, Row, interleaved_children, median_seconds, peak_rss_kb, run_child

BARE = str(ROOT / "benchmarks/bare_query.py")
SEARCH_WORDS = ("rubric", "edtech")


def _sql(selection) -> tuple[str, list]:
    """The SQL plnfilter runs for a selection, with the verdicts of the filter figure 1 ingested with."""
    from dataclasses import replace

    from plnfilter.filterfile import load
    from plnfilter.query import build_sql

    if selection.filter is None:
        selection = replace(selection, filter=load(ROOT / "filters/pln-digest.yaml").name)
    return build_sql(selection)


def shell_sql(selection) -> str:
    """`_sql` with its parameters inlined: the sqlite3 shell takes none (figure 7's baseline)."""
    sql, params = _sql(selection)
    for value in params:  # the filter's name
        assert isinstance(value, str) and "?" not in value
        sql = sql.replace("?", "'" + value.replace("'", "''") + "'", 1)
    assert "?" not in sql
    return sql


def _bare(ctx, selection) -> list[str]:
    return [PYTHON, BARE, "--db", str(ctx.archive), "--sql-json", json.dumps(_sql(selection))]


def _row(figure, results, ours_name, theirs_name, target_ratio, note="") -> Row:
    ours = median_seconds(results[ours_name]) * 1000
    theirs = median_seconds(results[theirs_name]) * 1000
    ratio = ours / theirs
    return Row(
        figure,
        "ms",
        ours,
        theirs,
        ratio,
        f"ratio <= {target_ratio}" if target_ratio else "",
        ratio <= target_ratio if target_ratio else None,
        note,
    )


def _check_same_output(ours: bytes, theirs: bytes, what: str) -> str:
    """plnfilter decodes lists and booleans, so compare the uris row by row."""
    mine = [json.loads(line)["uri"] for line in ours.splitlines() if line.strip()]
    bare = [json.loads(line)["uri"] for line in theirs.splitlines() if line.strip()]
    return (
        f"{len(mine)} rows" if mine == bare else f"{what}: OUTPUT DIFFERS ({len(mine)} vs {len(bare)} rows)"
    )


def measure_startup(ctx) -> list[Row]:
    from plnfilter.query import Selection

    env = ctx.child_env()
    selection = Selection(limit=20)
    commands = {
        "help": [PLNFILTER, "--help"],
        "bare help": [PYTHON, BARE, "--help"],
        "query": [PLNFILTER, "query", "--limit", "20", "--format", "jsonl", "--db", str(ctx.archive)],
        "bare query": _bare(ctx, selection),
    }
    results = interleaved_children(commands, ctx.repeat_process, env=env)
    same = _check_same_output(results["query"][0].stdout, results["bare query"][0].stdout, "query")
    return [
        _row(
            "5 start-up: plnfilter --help",
            results,
            "help",
            "bare help",
            1.5,
            "baseline: bare click script --help",
        ),
        _row(
            "5 start-up: query --limit 20 --format jsonl",
            results,
            "query",
            "bare query",
            1.5,
            f"baseline: click + sqlite3, same SQL; {same}; {ctx.repeat_process} runs each",
        ),
    ]


def measure_search(ctx) -> list[Row]:
    from plnfilter.query import Selection

    env = ctx.child_env()
    rows = []
    for words, limit in (*((w, None) for w in SEARCH_WORDS), (SEARCH_WORDS[-1], 20)):
        selection = Selection(
            text=words, syntax="catalogue", limit=limit
        )  # as `plnfilter query TEXT` reads it
        more = ["--limit", str(limit)] if limit else []
        commands = {
            "ours": [PLNFILTER, "query", words, *more, "--format", "jsonl", "--db", str(ctx.archive)],
            "bare": _bare(ctx, selection),
        }
        repeat = ctx.repeat_process if words == SEARCH_WORDS[0] else max(ctx.repeat_process // 4, 3)
        results = interleaved_children(commands, repeat, env=env)
        same = _check_same_output(results["ours"][0].stdout, results["bare"][0].stdout, "search")
        rows.append(
            _row(
                f'6 full-text: query "{words}"' + (f" --limit {limit}" if limit else ""),
                results,
                "ours",
                "bare",
                1.2,
                f"baseline: raw FTS5 SQL in click + sqlite3; {same}; {repeat} runs each",
            )
        )
    return rows


def measure_export(ctx) -> list[Row]:
    """CSV and JSONL exports of every post; also records the children's peak memory for figure 9."""
    from plnfilter.query import Selection

    env = ctx.child_env()
    sql = shell_sql(Selection(kept=None))
    shell = shutil.which("sqlite3")
    rows = []
    jsonl_seconds = 0.0
    for fmt, flag in (("csv", "-csv"), ("jsonl", "-json")):
        out = ctx.work / f"export.{fmt}"
        base_out = ctx.work / f"export-baseline.{fmt}"
        ours_argv = [PLNFILTER, "export", "--all", "--format", fmt, "-o", str(out), "--db", str(ctx.archive)]
        if shell:
            base_argv = [shell, "-readonly", flag, "-header", str(ctx.archive), sql]
            base_name = f"sqlite3 {flag}"
        else:
            base_argv = [PYTHON, "-c", _PY_EXPORT, str(ctx.archive), sql, fmt]
            base_name = f"python sqlite3 {fmt} (no sqlite3 shell installed)"
        run_child(ours_argv, env=env)  # untimed: bytecode and page caches warm
        ours_runs, base_runs = [], []
        for _ in range(ctx.repeat_heavy):
            # Both start without the last run's output: the shell's file is truncated before its clock
            # starts (run_child opens it), so plnfilter's is removed before its clock too, not unlinked
            # by its rename inside the timing (~0.07 s for 66 MB).
            out.unlink(missing_ok=True)
            ours_runs.append(_ok(run_child(ours_argv, env=env)))
            base_runs.append(_ok(run_child(base_argv, env=env, stdout_to=base_out)))
        ours_s = statistics.median(r.seconds for r in ours_runs)
        base_s = statistics.median(r.seconds for r in base_runs)
        ours_cpu = statistics.median(r.cpu_seconds for r in ours_runs)
        base_cpu = statistics.median(r.cpu_seconds for r in base_runs)
        jsonl_seconds = ours_s if fmt == "jsonl" else jsonl_seconds
        size = out.stat().st_size / 1e6
        rows.append(
            Row(
                f"7 export all posts to {fmt}",
                "s",
                ours_s,
                base_s,
                ours_s / base_s,
                "ratio <= 1.5" if fmt == "csv" else "",
                ours_s / base_s <= 1.5 if fmt == "csv" else None,
                f"baseline: {base_name} of the same selection (plnfilter's plain SELECT of the same columns); "
                f"{size:.0f} MB written; CPU {ours_cpu:.2f} / {base_cpu:.2f} s, ratio {ours_cpu / base_cpu:.2f}",
            )
        )
        ctx.export_rss[fmt] = (
            peak_rss_kb(ours_argv, env=env),
            peak_rss_kb(base_argv, env=env, stdout_to=base_out),
        )
        out.unlink(missing_ok=True)
        base_out.unlink(missing_ok=True)
    return rows + _parquet_rows(ctx, env, jsonl_seconds)


def _parquet_rows(ctx, env, jsonl_seconds: float) -> list[Row]:
    """The Parquet dataset of every post, whole and then unchanged, beside plnfilter's JSONL export."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        return []
    folder = ctx.work / "export-parquet"
    argv = [PLNFILTER, "export", "--all", "--format", "parquet", "-o", str(folder), "--db", str(ctx.archive)]
    whole, again = [], []
    for _ in range(ctx.repeat_heavy):
        shutil.rmtree(folder, ignore_errors=True)
        whole.append(_ok(run_child(argv, env=env)).seconds)
        again.append(_ok(run_child(argv, env=env)).seconds)
    size = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 1e6
    parts = len(list(folder.rglob("*.parquet")))
    shutil.rmtree(folder, ignore_errors=True)
    peak_mb = peak_rss_kb(argv, env=env) / 1024  # a new folder: every partition written
    shutil.rmtree(folder, ignore_errors=True)
    whole_s, again_s = statistics.median(whole), statistics.median(again)
    note = "baseline: plnfilter export --all --format jsonl of the same posts"
    return [
        Row(
            "7 export all posts to parquet (new folder)",
            "s",
            whole_s,
            jsonl_seconds,
            whole_s / jsonl_seconds,
            "",
            None,
            f"{note}; {size:.0f} MB in {parts} partitions; peak memory {peak_mb:.0f} MB",
        ),
        Row(
            "7 re-export parquet, nothing changed",
            "s",
            again_s,
            jsonl_seconds,
            again_s / jsonl_seconds,
            "",
            None,
            f"{note}; fingerprints only, no file rewritten",
        ),
    ]


def _ok(result):
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace")[-500:])
    return result


_PY_EXPORT = """
import csv, json, sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
cursor = conn.execute(sys.argv[2])
names = [d[0] for d in cursor.description]
if sys.argv[3] == "csv":
    w = csv.writer(sys.stdout)
    w.writerow(names)
    w.writerows(cursor)
else:
    for row in cursor:
        sys.stdout.write(json.dumps(dict(zip(names, row))) + "\\n")
"""


def memory_rows(ctx) -> list[Row]:
    rows = []
    for fmt, (ours, theirs) in ctx.export_rss.items():
        rows.append(
            Row(
                f"9 peak memory: export all to {fmt}",
                "MB",
                ours / 1024,
                theirs / 1024,
                ours / theirs,
                "< 64 MB",
                ours / 1024 < 64,
                f"ru_maxrss of the child (from a ~10 MB launcher); archive is {ctx.archive_mb():.0f} MB; baseline: the sqlite3 shell",
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit("run benchmarks/run.py")
