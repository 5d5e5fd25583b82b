"""`make bench-scale`: the cost curve. Archives of 10k, 100k and 1M posts, each figure beside its baseline.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000,1000000] [--chunk 10000] [--keep DIR]

One archive grows through the sizes (the benchmark corpus, benchmarks/corpus.py, as `run` saves it);
at each size it measures:
  ingest      the last --chunk posts saved into the archive holding the rest (posts/s), beside
              the same posts saved into empty archives, a fifth at a time, taking turns
  bytes/post  the archive file per post, by table and index (SQLite's dbstat), beside the API JSON
              the posts came as
  query       `query --limit 20` by score, and a common and a rare word with `--limit 20` by score
              and by relevance: in process (plnfilter.query.select) beside the same SQL in sqlite3
              alone (relevance: beside FTS5 ranking the word by itself)
  top, links  in process beside sqlite3 reading the window's kept posts; `top`, `links` and
              `query --limit 20` end to end beside a bare click start-up
  apply       re-judging every post beside sqlite3 reading every post and rewriting every verdict
  export      CSV, JSONL and Parquet (benchmarks/bench_cli.py's figure 7) as posts/s
  memory      peak RSS of every child (ingest, query, top, links, apply, export) beside the
              same child at the size before
Then the targets beside what was measured at the largest size, MET or MISSED. No target fails the
command. --keep DIR works in DIR and keeps the archives; run again with the same DIR, an archive
(with the ingest figures noted beside it) is reused instead of built.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import bench_ingest  # noqa: E402
from measure import (  # noqa: E402
    PLNFILTER,
    PYTHON,
    Row,
    finish,
    interleaved_children,
    launched,
    rate_ratio,
    work_dir,
)

SIZES = (10_000, 100_000, 1_000_000)
CHUNK = 10_000
COMMON_WORD = "edtech"  # a hashtag of about half the corpus's posts
RARE_WORD = "member1234"  # one Bluesky author of 3,000: about one post in 7,500
AS_OF = "2026-11-27T00:00:00Z"  # the corpus's now: `top` reads its last 24 hours, `links` its last 7 days
BARE = str(HERE / "bare_query.py")
# SQLite's FTS5 keeps each full-text table in shadow tables named after it.
FTS_SHADOWS = ("_data", "_idx", "_docsize", "_config", "_content")


@dataclass
class Size:
    """One archive size: its file, and what every figure measured there."""

    posts: int
    path: Path
    rows: list[Row] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # in-process (wall) and end-to-end timings
    cpu: dict[str, float] = field(default_factory=dict)  # in-process CPU time
    peaks: dict[str, float] = field(default_factory=dict)  # peak RSS (MB) of each child
    ingest: dict[str, float] = field(default_factory=dict)
    bytes_per_post: float = 0.0


# -- growing the archive (in a child, so its peak memory is its own) --------------------------------


def _claim(path: Path, filter_file) -> None:
    """A new archive: the filter claims it and records its rules hash, as `run` does first."""
    from plnfilter import store
    from plnfilter.judge import rules_digest
    from plnfilter.pipeline import claim_filter
    from plnfilter.store.verdicts import begin_judging

    db = store.open_archive(path)
    claim_filter(db, filter_file)
    begin_judging(db, filter_file.name, rules_digest(filter_file))
    db.conn.close()


def _corpus(work: Path):
    """The benchmark corpus (as `make bench` makes it) and the filter it is judged with."""
    from run import Context

    from plnfilter.filterfile import load

    return Context(argparse.Namespace(quick=False, posts=0), work), load(bench_ingest.FILTER)


def grow(path: Path, start: int, count: int) -> dict[str, float]:
    """Save corpus posts `start`..`start+count` into `path` as `run` does (the archive's growth)."""
    ctx, filter_file = _corpus(path.parent)
    if start == 0:
        _claim(path, filter_file)
    began = time.perf_counter()
    bench_ingest.ingest(ctx.corpus.pages(count, start=start), path, filter_file, ctx.now)
    return {"bulk_posts": count, "bulk_seconds": time.perf_counter() - began}


def ingest_chunk(path: Path, start: int, count: int) -> dict[str, float]:
    """Save corpus posts `start`..`start+count` into `path`, and the same posts into empty archives,
    a fifth at a time, taking turns (so the machine's load falls on both alike): the rate at this
    size beside the rate at none."""
    ctx, filter_file = _corpus(path.parent)
    if start == 0:
        _claim(path, filter_file)
    parts = 5 if count % (5 * 40) == 0 else 1
    size = count // parts
    into = alone = 0.0
    for part in range(parts):
        first = start + part * size
        began = time.perf_counter()
        bench_ingest.ingest(ctx.corpus.pages(size, start=first), path, filter_file, ctx.now)
        into += time.perf_counter() - began
        empty = path.with_name("chunk-alone.db")
        _remove(empty)
        _claim(empty, filter_file)
        began = time.perf_counter()
        bench_ingest.ingest(ctx.corpus.pages(size, start=first), empty, filter_file, ctx.now)
        alone += time.perf_counter() - began
        _remove(empty)
    sample = [item for _, items in ctx.corpus.pages(min(count, 2000), start=start) for item in items]
    compact = [json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() for item in sample]
    return {
        "chunk_posts": count,
        "chunk_seconds": into,
        "alone_seconds": alone,
        "api_json_bytes": sum(map(len, compact)) / len(compact),
    }


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def settle(path: Path) -> None:
    """Everything in the archive's main file (its WAL checkpointed and emptied), to copy or measure it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def build(size: int, previous: Size | None, work: Path, chunk: int, env: dict[str, str]) -> Size:
    """The archive of `size` posts: the previous size's grown by the rest, or one kept from an earlier run."""
    path = work / f"archive-{size}.db"
    noted = path.with_suffix(".json")
    here = Size(size, path)
    if path.exists() and noted.exists():
        here.ingest = json.loads(noted.read_text())
        here.ingest["reused"] = 1
        return here
    _remove(path)
    start = 0
    if previous is not None:
        settle(previous.path)
        shutil.copyfile(previous.path, path)
        start = previous.posts
    chunk = min(chunk, size - start)
    figures: dict[str, float] = {"bulk_posts": 0, "bulk_seconds": 0.0}
    if size - start > chunk:  # the growth, in a child of its own (its memory is not the figure)
        grown = launched(
            [PYTHON, __file__, "--grow", str(path), str(start), str(size - start - chunk)], env=env
        )
        figures.update(json.loads(grown.stdout))
    argv = [PYTHON, __file__, "--chunk", str(path), str(size - chunk), str(chunk)]
    result = launched(argv, env=env)
    figures.update(json.loads(result.stdout))
    figures["peak_mb"] = result.max_rss_kb / 1024
    noted.write_text(json.dumps(figures))
    here.ingest = figures
    return here


def ingest_rows(here: Size) -> list[Row]:
    f = here.ingest
    ours = f["chunk_posts"] / f["chunk_seconds"]
    alone = f["chunk_posts"] / f["alone_seconds"]
    note = (
        f"the last {f['chunk_posts']:,.0f} posts into the archive of {here.posts - f['chunk_posts']:,.0f} "
        "(bench_ingest: pages of 40 as `run` saves them); baseline: the same posts into empty archives, "
        "a fifth at a time, taking turns"
    )
    if f.get("reused"):
        note += "; measured when the kept archive was built"
    rows = [Row(f"ingest at {here.posts:,}", "posts/s", ours, alone, rate_ratio(ours, alone), "", None, note)]
    if f["bulk_posts"]:
        rate = f["bulk_posts"] / f["bulk_seconds"]
        rows.append(
            Row(
                f"ingest growing to {here.posts:,}",
                "posts/s",
                rate,
                alone,
                rate_ratio(rate, alone),
                "",
                None,
                f"the {f['bulk_posts']:,.0f} posts before those, saved in one go (corpus generation included)",
            )
        )
    here.peaks["ingest"] = f["peak_mb"]
    return rows


# -- bytes per post ---------------------------------------------------------------------------------


def space(path: Path) -> tuple[dict[str, int], int]:
    """Bytes of each table with its own indexes listed apart (full-text tables with their shadow
    tables), from dbstat; without dbstat, the whole file. And the file's size."""
    settle(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        size = (
            conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        )
        try:
            used = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        except sqlite3.OperationalError:  # SQLite built without the dbstat table: page counts only
            return {"(no dbstat: whole file)": size}, size
        kinds = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"))
        fts = {
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
        }
    finally:
        conn.close()
    groups: dict[str, int] = {}
    for name, pages in used.items():
        owner = next((t for t in fts if name.startswith(t) and name[len(t) :] in FTS_SHADOWS), None)
        if owner:
            label = f"{owner} (full-text index)"
        elif name in kinds:
            label = f"{kinds[name]}: index {name}"
        elif name.startswith("sqlite_autoindex_"):
            label = f"{name.split('_')[2]}: its key"
        else:
            label = name
        groups[label] = groups.get(label, 0) + pages
    groups["free pages"] = size - sum(used.values())
    return groups, size


def space_rows(here: Size) -> list[Row]:
    groups, size = space(here.path)
    per = size / here.posts
    here.bytes_per_post = per
    api = here.ingest["api_json_bytes"]  # a sample of the posts' API objects, as compact JSON
    rows = [
        Row(
            f"bytes/post at {here.posts:,}",
            "B/post",
            per,
            api,
            per / api,
            "<= 2,500",
            per <= 2500,
            f"archive {size / 1e6:,.0f} MB, raw API JSON kept (compressed) and every index; "
            "baseline: the API JSON of a post as it came",
        )
    ]
    small = {label: used for label, used in groups.items() if used < size / 100}
    if len(small) > 1:  # the tables of sources, runs, filters, settings...: one line
        groups = {label: used for label, used in groups.items() if label not in small}
        groups[f"{len(small)} smaller tables and indexes"] = sum(small.values())
    for label, used in sorted(groups.items(), key=lambda kv: -kv[1]):
        rows.append(
            Row(
                f"  {label}",
                "B/post",
                used / here.posts,
                None,
                None,
                "",
                None,
                f"{used / size:.1%} of the file",
            )
        )
    return rows


# -- queries in process -----------------------------------------------------------------------------


def _timed(work, slow: float = 1.0) -> tuple[float, float]:
    """Median wall and CPU seconds of 5 runs after an untimed one (3 when a run takes over `slow`
    seconds). On a shared machine the wall time includes waiting for a core; the CPU time does not."""
    start = time.perf_counter()
    work()
    first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(3 if first > slow else 5):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _timed_row(here: Size, name: str, work, baseline, found: str, what: str) -> Row:
    """`work` in process beside `baseline` (both timed by `_timed`), in ms; its wall and CPU times
    noted in `here` for the targets."""
    ours, cpu = _timed(work)
    theirs, _ = _timed(baseline)
    here.seconds[name], here.cpu[name] = ours, cpu
    note = f"{found}; CPU {cpu * 1000:,.1f} ms; baseline: {what}"
    return Row(f"{name} at {here.posts:,}", "ms", ours * 1000, theirs * 1000, ours / theirs, "", None, note)


def query_rows(here: Size, filter_name: str) -> list[Row]:
    from dataclasses import replace

    from plnfilter.query import Selection, build_sql, select
    from plnfilter.store import open_readonly
    from plnfilter.store.search import parse_search

    conn = open_readonly(here.path)
    bare = sqlite3.connect(f"file:{here.path}?mode=ro", uri=True)
    rows = []
    plain = Selection(limit=20, filter=filter_name)
    cases = [("query --limit 20", plain, None)]
    for label, word in (("common", COMMON_WORD), ("rare", RARE_WORD)):
        searched = replace(plain, text=word, syntax="catalogue")
        fts_alone = (
            "SELECT rowid FROM posts_search WHERE posts_search MATCH ? ORDER BY rank LIMIT 20",
            [parse_search(word).match],
        )
        cases.append((f'query "{word}" --limit 20 ({label} word, by score)', searched, None))
        cases.append(
            (
                f'query "{word}" --limit 20 --order relevance ({label} word)',
                replace(searched, order="relevance"),
                fts_alone,
            )
        )
    for name, selection, baseline in cases:
        sql, params = baseline or build_sql(selection)
        found = list(select(conn, selection))
        count = _matches(bare, selection) if selection.text else None
        what = "FTS5 ranking the word alone (no join)" if baseline else "the same SQL in sqlite3 alone"
        rows.append(
            _timed_row(
                here,
                name,
                lambda selection=selection: list(select(conn, selection)),
                lambda sql=sql, params=params: bare.execute(sql, params).fetchall(),
                f"{len(found)} rows" + (f" of {count:,} matching" if count is not None else ""),
                what,
            )
        )
    conn.close()
    bare.close()
    return rows


def _matches(conn: sqlite3.Connection, selection) -> int:
    from plnfilter.store.search import parse_search

    return conn.execute(
        "SELECT count(*) FROM posts_search WHERE posts_search MATCH ?", [parse_search(selection.text).match]
    ).fetchone()[0]


def digest_rows(here: Size, filter_file) -> list[Row]:
    """`top` (the archive's filter's verdicts, default ranking), `top FILTER` (its rules and ranking;
    both over the last 24 hours) and `links` (7 days), in process as the commands call them, beside
    sqlite3 reading the window's kept posts."""
    from plnfilter.digest import build_digest
    from plnfilter.links import shared_links
    from plnfilter.store import open_readonly
    from plnfilter.times import parse_iso

    now = parse_iso(AS_OF)
    conn = open_readonly(here.path)
    bare = sqlite3.connect(f"file:{here.path}?mode=ro", uri=True)
    day, week = timedelta(hours=24), timedelta(days=7)

    def top():
        return build_digest(conn, None, now, now - day, limit=20, filter_name=filter_file.name)

    def top_filter():
        return build_digest(
            conn, filter_file, now, now - day, limit=filter_file.keep, filter_name=filter_file.name
        )

    def links():
        return shared_links(conn, filter_file.name, now, now - week, now, limit=20)

    rows = []
    for name, work, since in (("top", top, day), ("top FILTER", top_filter, day), ("links", links, week)):
        window = [filter_file.name, (now - since).strftime("%Y-%m-%dT%H:%M:%SZ"), AS_OF]
        sql = (
            "SELECT posts.* FROM posts CROSS JOIN verdicts ON verdicts.post_id = posts.id "
            'AND verdicts."filter" = ? WHERE verdicts.kept = 1 AND posts.created_at >= ? AND posts.created_at < ?'
        )
        candidates = len(bare.execute(sql, window).fetchall())
        rows.append(
            _timed_row(
                here,
                name,
                work,
                lambda sql=sql, window=window: bare.execute(sql, window).fetchall(),
                f"{len(work())} chosen from {candidates:,} kept posts of {since.days or 1} day(s)",
                "sqlite3 reading those posts",
            )
        )
    conn.close()
    bare.close()
    return rows


# -- whole commands ---------------------------------------------------------------------------------


def command_rows(here: Size, ctx, filter_path: Path) -> list[Row]:
    """`query --limit 20`, `query WORD --limit 20`, `top`, `top FILTER`, `links` end to end, interleaved with
    a bare click start-up (bare_query.py --help); and each one's peak memory."""
    db = ["--db", str(here.path)]
    commands = {
        "query --limit 20": [PLNFILTER, "query", "--limit", "20", "--format", "jsonl", *db],
        f'query "{COMMON_WORD}" --limit 20': [
            PLNFILTER,
            "query",
            COMMON_WORD,
            "--limit",
            "20",
            "--format",
            "jsonl",
            *db,
        ],
        "top": [PLNFILTER, "top", "--as-of", AS_OF, "--format", "jsonl", *db],
        "top FILTER": [PLNFILTER, "top", str(filter_path), "--as-of", AS_OF, "--format", "jsonl", *db],
        "links": [PLNFILTER, "links", "--as-of", AS_OF, "--format", "jsonl", *db],
        "bare click start-up": [PYTHON, BARE, "--help"],
    }
    env = ctx.child_env()
    results = interleaved_children(commands, 10, env=env)
    bare = statistics.median(r.seconds for r in results["bare click start-up"])
    bare_cpu = statistics.median(r.cpu_seconds for r in results["bare click start-up"])
    rows = []
    for name, argv in commands.items():
        if name == "bare click start-up":
            continue
        ours = statistics.median(r.seconds for r in results[name])
        cpu = statistics.median(r.cpu_seconds for r in results[name]) / bare_cpu
        here.seconds[f"{name} (CLI)"] = ours / bare
        here.peaks[name] = launched(argv, env=env).max_rss_kb / 1024
        lines = len(results[name][0].stdout.splitlines())
        rows.append(
            Row(
                f"{name} end to end at {here.posts:,}",
                "ms",
                ours * 1000,
                bare * 1000,
                ours / bare,
                "",
                None,
                f"{lines} lines; CPU time {cpu:.2f}x the bare script's; baseline: a bare click script's "
                "--help; 10 runs each, interleaved",
            )
        )
    return rows


def apply_rows(here: Size, ctx, filter_path: Path) -> list[Row]:
    """`apply FILTER` re-judging every post, beside sqlite3 reading every post and rewriting every verdict."""
    argv = [PLNFILTER, "apply", str(filter_path), "--db", str(here.path)]
    baseline = [PYTHON, "-c", _BARE_APPLY, str(here.path), bench_ingest.FILTER.stem]
    env = ctx.child_env()
    ours, theirs = [], []
    for _ in range(1 if here.posts >= 500_000 else 3):
        result = launched(argv, env=env)
        ours.append(result.seconds)
        here.peaks["apply"] = result.max_rss_kb / 1024
        theirs.append(launched(baseline, env=env).seconds)
    ours_rate, theirs_rate = here.posts / statistics.median(ours), here.posts / statistics.median(theirs)
    return [
        Row(
            f"apply at {here.posts:,}",
            "posts/s",
            ours_rate,
            theirs_rate,
            rate_ratio(ours_rate, theirs_rate),
            "",
            None,
            "every post re-judged and its verdict written; baseline: sqlite3 reading every post into "
            "Python and rewriting every verdict row in one UPDATE",
        )
    ]


_BARE_APPLY = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = NORMAL")
cursor = conn.execute("SELECT * FROM posts ORDER BY id")
while cursor.fetchmany(2000):
    pass
with conn:
    conn.execute("UPDATE verdicts SET judged_at = judged_at || '' WHERE \\"filter\\" = ?", [sys.argv[2]])
conn.close()
"""


def export_rows(here: Size, ctx) -> list[Row]:
    """Figure 7 of `make bench` (bench_cli.measure_export) on this archive, as posts/s."""
    import bench_cli

    rows = []
    for row in bench_cli.measure_export(ctx):
        what = row.figure.split(" ", 1)[1].replace("export all posts to", "export to")
        rows.append(
            Row(
                f"{what} at {here.posts:,}",
                "posts/s",
                here.posts / row.ours,
                here.posts / row.baseline,
                row.ratio,
                "",
                None,
                row.note,
            )
        )
    for fmt, (ours, _) in ctx.export_rss.items():
        here.peaks[f"export {fmt}"] = ours / 1024
    return rows


def memory_rows(sizes: list[Size]) -> list[Row]:
    """Each child's peak beside its peak at the size before (ten times fewer posts). Beside the
    previous size, not the first: a 10k-post archive spans 33 hours, so `links`' 7 days hold a fifth
    of the posts they hold from 100k on, and the writers' 8 MB page cache is not yet full (32 MB before the branch `ingest2`)."""
    rows = []
    for before, here in zip([None, *sizes], sizes, strict=False):
        for name, peak in here.peaks.items():
            start = before.peaks.get(name) if before else None
            ratio = peak / start if start else None
            rows.append(
                Row(
                    f"peak memory: {name} at {here.posts:,}",
                    "MB",
                    peak,
                    start,
                    ratio,
                    "flat (<= 1.25x)",
                    None if ratio is None else ratio <= 1.25,
                    "ru_maxrss of the child"
                    + (f"; baseline: the same at {before.posts:,}" if before else ""),
                )
            )
    return rows


# -- the targets ------------------------------------------------------------------------------------


def targets(sizes: list[Size]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) at the largest size."""
    small, large = sizes[0], sizes[-1]
    at = f"at {large.posts:,}"
    out = []
    if small is not large:
        # The rate at the largest size over the rate of the same posts into an empty archive, measured
        # in turns in one child: what the archive's size costs, whatever the load on the machine.
        share = large.ingest["alone_seconds"] / large.ingest["chunk_seconds"]
        raw_small = small.ingest["chunk_posts"] / small.ingest["chunk_seconds"]
        raw_large = large.ingest["chunk_posts"] / large.ingest["chunk_seconds"]
        out.append(
            (
                f"ingest rate {at} within 20% of the rate into an empty archive (as at {small.posts:,})",
                f"{share:.2f} of it, measured in turns ({raw_large:,.0f} posts/s; {raw_small:,.0f} at "
                f"{small.posts:,})",
                share >= 0.8,
            )
        )
    # In process: judged by CPU time, which a shared machine's load does not inflate (wall beside it).
    for name in ("query --limit 20", "top", "top FILTER"):
        ms, wall = large.cpu[name] * 1000, large.seconds[name] * 1000
        out.append((f"{name} in process {at} < 50 ms", f"{ms:.1f} ms CPU ({wall:.1f} ms wall)", ms < 50))
    for name in ("query --limit 20", "top", "top FILTER"):
        ratio = large.seconds[f"{name} (CLI)"]
        out.append((f"{name} end to end {at} <= 1.5x a bare click start-up", f"{ratio:.2f}x", ratio <= 1.5))
    for name, seconds in large.cpu.items():
        if COMMON_WORD in name:
            wall = large.seconds[name]
            out.append(
                (
                    f"{name} {at} < 1 s",
                    f"{seconds * 1000:,.0f} ms CPU ({wall * 1000:,.0f} ms wall)",
                    seconds < 1,
                )
            )
    if small is not large:
        before = sizes[-2]
        worst = max(
            ((p / before.peaks[n], n) for n, p in large.peaks.items() if before.peaks.get(n)), default=None
        )
        if worst:
            out.append(
                (
                    f"peak memory flat: {at} <= 1.25x the peak at {before.posts:,}, every child",
                    f"at most {worst[0]:.2f}x ({worst[1]})",
                    worst[0] <= 1.25,
                )
            )
    per = large.bytes_per_post
    out.append(
        (
            f"archive {at} <= 2,500 bytes/post, raw JSON and indexes included",
            f"{per:,.0f} B/post",
            per <= 2500,
        )
    )
    return out


def targets_table(found: list[tuple[str, str, bool | None]]) -> str:
    head = ("target", "measured", "verdict")
    cells = [(t, m, "MET" if ok else "MISSED") for t, m, ok in found]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |" for c in cells]
    return "\n".join(lines)


def measure_size(here: Size, ctx, filter_file) -> list[Row]:
    """Every figure at one size, the archive's own `apply` last (it rewrites every verdict)."""
    return [
        *ingest_rows(here),
        *space_rows(here),
        *query_rows(here, filter_file.name),
        *digest_rows(here, filter_file),
        *command_rows(here, ctx, bench_ingest.FILTER),
        *export_rows(here, ctx),
        *apply_rows(here, ctx, bench_ingest.FILTER),
    ]


# -- the run ----------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in SIZES), help="archive sizes, e.g. 10000,100000"
    )
    parser.add_argument("--chunk", type=int, default=CHUNK, help="posts of the timed ingest at each size")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep (and reuse) the archives there")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give numbers of posts, e.g. 10000,100000")
    if not args.sizes or any(s % 40 or s <= 0 for s in args.sizes) or args.chunk % 40 or args.chunk <= 0:
        parser.error("sizes and --chunk are positive multiples of 40 (a page of posts)")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--grow"], ["--chunk"]):  # the children that save posts
        work = grow if argv[0] == "--grow" else ingest_chunk
        print(json.dumps(work(Path(argv[1]), int(argv[2]), int(argv[3]))))
        return 0
    args = parse_args(argv)
    from run import Context, machine, table

    from plnfilter.filterfile import load

    filter_file = load(bench_ingest.FILTER)
    sizes: list[Size] = []
    with work_dir(args.keep, "plnfilter-scale-") as work:
        print(machine())
        print(f"run: sizes {', '.join(f'{s:,}' for s in args.sizes)}; work in {work}", flush=True)
        started = time.perf_counter()
        for size in args.sizes:
            ctx = Context(argparse.Namespace(quick=False, posts=size), work)
            ctx.repeat_heavy = 1 if size >= 500_000 else 3
            step = time.perf_counter()
            here = build(size, sizes[-1] if sizes else None, work, args.chunk, ctx.child_env())
            ctx.archive = here.path
            sizes.append(here)
            print(
                f"  {size:,} posts: built in {time.perf_counter() - step:.0f}s", file=sys.stderr, flush=True
            )
            here.rows = measure_size(here, ctx, filter_file)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"\n{size:,} posts (measured in {time.perf_counter() - step:.0f}s; load average {load})")
            print(table(here.rows), flush=True)
            if args.keep is None and len(sizes) > 1:  # the previous archive has been grown from
                sizes[-2].path.unlink(missing_ok=True)
        return finish(started, "peak memory\n" + table(memory_rows(sizes)), targets_table(targets(sizes)))


if __name__ == "__main__":
    sys.exit(main())
