"""Figure 1's question asked of any commit: plnfilter's ingest against the fair baseline, in CPU time.

The fair baseline is sqlite-utils `upsert_all` of every row plnfilter stored for the posts, into
plnfilter's own schema as that commit's archive has it (tables, indexes, full-text tables and their
triggers), with WAL and `synchronous = NORMAL`. It is read from the archive the commit itself wrote,
so an old commit and a new one are each measured against the same kind of yardstick, whatever
their schemas: this is how a change's cost is compared across commits whose `make bench` baselines
differ. Run from the root of a checkout of the commit, with its venv:

    .venv/bin/python benchmarks/ingest_across_commits.py [POSTS] [REPEAT]

Alternate two checkouts a few rounds and compare the medians (see benchmarks/README.md, issue 11).

It imports nothing of `measure.py`, only the commit's `bench_ingest` and `corpus`: an old commit's
`benchmarks/` may lack `measure.py` or hold another version of it, so the two small helpers below
(`fresh`, `cpu_and_wall`) are this script's own on purpose.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd() / "benchmarks"))

import bench_ingest  # noqa: E402  (the commit's own figure 1: its `ingest` and FILTER)
from corpus import Corpus  # noqa: E402

RUN_STATE = {"_migrations", "schema_migrations", "settings", "sources", "runs", "filters", "server_quirks"}


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm", ".lock", ".lock-next"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def cpu_and_wall(work) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def stored(db: Path) -> tuple[list[str], dict[str, list[dict]], dict[str, object]]:
    """The archive's DDL (full-text shadow tables left to FTS5), its post rows by table, their keys."""
    conn = sqlite3.connect(db)
    virtual = [
        name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")
    ]

    def shadow(name: str) -> bool:
        return name.startswith("sqlite_") or any(name.startswith(v + "_") for v in virtual)

    entries = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid"
    ).fetchall()
    schema = [sql for kind, name, sql in entries if not (kind == "table" and shadow(name))]
    tables, keys = {}, {}
    for kind, name, _ in entries:
        if kind != "table" or shadow(name) or name in virtual or name in RUN_STATE:
            continue
        cursor = conn.execute(f'SELECT * FROM "{name}"')  # noqa: S608 (names from sqlite_master)
        columns = [d[0] for d in cursor.description]
        tables[name] = [dict(zip(columns, row, strict=True)) for row in cursor]
        info = sorted(conn.execute(f'PRAGMA table_info("{name}")'), key=lambda r: r[5])
        key = [r[1] for r in info if r[5]]
        keys[name] = (key[0] if len(key) == 1 else tuple(key)) if key else None
    conn.close()
    return schema, tables, keys


def baseline(path: Path, schema: list[str], tables: dict[str, list[dict]], keys: dict[str, object]) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(fresh(path))
    db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")
    for sql in schema:
        db.execute(sql)
    with db.atomic():
        for name in sorted(tables, key=lambda n: n != "posts"):
            if tables[name] and keys[name]:
                db[name].upsert_all(tables[name], pk=keys[name])
            elif tables[name]:  # a rowid table with a unique index: new rows in a fresh archive
                db[name].insert_all(tables[name])
    db.conn.close()


def main() -> None:
    from plnfilter.filterfile import load
    from plnfilter.times import parse_iso

    posts = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    now = parse_iso("2026-11-27T00:00:00Z")
    pages = list(Corpus(now).pages(posts))
    filter_file = load(bench_ingest.FILTER)
    work = Path(tempfile.mkdtemp(prefix="plnfilter-across-"))
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(cpu_and_wall(lambda: bench_ingest.ingest(pages, fresh(work / "a.db"), filter_file, now)))
        schema, tables, keys = stored(work / "a.db")
        theirs.append(cpu_and_wall(lambda s=schema, t=tables, k=keys: baseline(work / "b.db", s, t, k)))
    cpu, wall = (statistics.median(c for c, _ in ours), statistics.median(w for _, w in ours))
    base_cpu, base_wall = (statistics.median(c for c, _ in theirs), statistics.median(w for _, w in theirs))
    print(f"{posts:,} posts; rows stored { ({name: len(rows) for name, rows in tables.items()}) }")
    print(
        f"plnfilter CPU {cpu:.2f} s (wall {wall:.2f}); baseline CPU {base_cpu:.2f} s (wall {base_wall:.2f}); "
        f"CPU ratio {cpu / base_cpu:.2f}, wall ratio {wall / base_wall:.2f}"
    )
    for suffix in ("a.db", "b.db"):
        fresh(work / suffix)
    work.rmdir()


if __name__ == "__main__":
    main()
