"""Figure 10: `plnfilter voices suggest` and `voices report` on the benchmark archive, each a fresh
process, beside `bare_query.py` (click + sqlite3) running a plain SQL aggregate of the same rows:
the window's posts counted by author, which is the least either command must read.

The filter file names 200 voices (the authors with most kept posts: 150 trusted, 30 outside-sector,
20 dissenting) and one account source, as a network someone follows might.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from measure import PLNFILTER, PYTHON, ROOT, Row, interleaved_children, median_cpu_seconds, median_seconds

from plnfilter.times import to_iso

BARE = str(ROOT / "benchmarks/bare_query.py")
TARGET_S = 1.0
# The plain aggregates: what each command reads at least, grouped by author (no signals, no JSON);
# kept is the verdict of the filter figure 1 ingested with (the first parameter).
SUGGEST_BASELINE = (
    'SELECT p."network", lower(p."author") AS a, count(*), sum(v."kept" = 1), max(p."created_at") '
    'FROM "posts" p LEFT JOIN "verdicts" v ON v."post_id" = p."id" AND v."filter" = ? '
    'WHERE p."author" != \'\' AND p."created_at" >= ? GROUP BY p."network", a'
)
REPORT_BASELINE = (
    'SELECT p."network", lower(p."author") AS a, sum(v."kept" = 1 AND p."created_at" >= ?), max(p."created_at") '
    'FROM "posts" p LEFT JOIN "verdicts" v ON v."post_id" = p."id" AND v."filter" = ? '
    'WHERE p."author" != \'\' GROUP BY p."network", a'
)


def judged_by() -> str:
    """The filter whose verdicts the benchmark archive holds (figure 1 ingested with it)."""
    from plnfilter.filterfile import load

    return load(ROOT / "filters/pln-digest.yaml").name


def write_filter(ctx) -> str:
    """A filter file whose voices are the archive's 200 most-kept authors."""
    conn = sqlite3.connect(f"file:{ctx.archive}?mode=ro", uri=True)
    try:
        authors = [
            row[0]
            for row in conn.execute(
                'SELECT lower(p."author") FROM "posts" p JOIN "verdicts" v ON v."post_id" = p."id" '
                'WHERE v."filter" = ? AND v."kept" = 1 GROUP BY lower(p."author") '
                'ORDER BY count(*) DESC, lower(p."author") LIMIT 200',
                [judged_by()],
            )
        ]
    finally:
        conn.close()
    path = ctx.work / "voices-bench.yaml"
    path.write_text(
        "name: voices-bench\n"
        "sources:\n  - mastodon: mastodon.social\n    account: user1@mastodon.social\n"
        f"voices:\n  trusted: {json.dumps(authors[:150])}\n"
        f"  outside_sector: {json.dumps(authors[150:180])}\n  dissenting: {json.dumps(authors[180:])}\n"
        "rank:\n  mix: {outside_sector: 2, dissenting: 1}\n",
        encoding="utf-8",
    )
    return str(path)


def measure(ctx) -> list[Row]:
    env = ctx.child_env()
    filter_path = write_filter(ctx)
    since = to_iso(ctx.now - timedelta(days=30))
    db = str(ctx.archive)
    name = judged_by()
    commands = {
        "suggest": [
            PLNFILTER,
            "voices",
            "suggest",
            filter_path,
            "--since",
            since,
            "--format",
            "jsonl",
            "--filter",
            name,
            "--db",
            db,
        ],
        "bare suggest": [
            PYTHON,
            BARE,
            "--db",
            db,
            "--sql-json",
            json.dumps([SUGGEST_BASELINE, [name, since]]),
        ],
        "report": [
            PLNFILTER,
            "voices",
            "report",
            filter_path,
            "--since",
            since,
            "--format",
            "markdown",
            "--filter",
            name,
            "--db",
            db,
        ],
        "bare report": [PYTHON, BARE, "--db", db, "--sql-json", json.dumps([REPORT_BASELINE, [since, name]])],
    }
    repeat = max(ctx.repeat_process // 4, 3)
    results = interleaved_children(commands, repeat, env=env)
    for name, runs in results.items():
        if runs[0].returncode != 0:
            raise RuntimeError(f"{name}: {runs[0].stderr.decode(errors='replace')[-500:]}")
    rows = []
    for name, what in (("suggest", "20 suggestions"), ("report", "the Markdown report")):
        ours = median_seconds(results[name])
        theirs = median_seconds(results[f"bare {name}"])
        cpu = median_cpu_seconds(results[name]), median_cpu_seconds(results[f"bare {name}"])
        rows.append(
            Row(
                f"10 voices {name} (since 30d)",
                "s",
                ours,
                theirs,
                ours / theirs,
                f"< {TARGET_S:g} s",
                ours < TARGET_S,
                f"{what}; baseline: click + sqlite3 grouping the same posts by author; {repeat} runs each; "
                f"CPU (user + system) {cpu[0]:.2f} s, baseline {cpu[1]:.2f} s",
            )
        )
    return rows


if __name__ == "__main__":
    raise SystemExit("run benchmarks/run.py")
