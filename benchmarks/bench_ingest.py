"""Figure 1: ingest (normalise + evaluate + score + save with FTS) against sqlite-utils `upsert_all`.

plnfilter works as `plnfilter run` does: one fetch thread per timeline (a Mastodon and a Bluesky
one) normalises its API pages (40 items) and hands them through `fetching.fetch_concurrently`'s
bounded queue to the single writer, which judges them with filters/pln-digest.yaml and saves them
with their cursors through `pipeline.save_arriving`. When pages arrive faster than they are written
(what an ingest rate measures) the writer finds the queue full, saves every waiting page at once and
keeps the transaction open while more wait, up to `pipeline.HOLD_SECONDS` (writer busy); a second
row saves each page in its own transaction, as when a slow network hands over one page at a time.

The baseline writes the very rows plnfilter stored (already normalised, judged, serialised and
compressed: posts, their raw API JSON, the filter's verdicts and the findings) with sqlite-utils
`upsert_all`, table by table in one transaction, into the same schema: plnfilter's own tables,
indexes, both full-text indexes and the triggers that feed them, copied from its archive, with the
same connection settings (WAL, synchronous, cache). Not in the baseline: the sources row (cursor)
and the filters row plnfilter writes per page and per batch.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from measure import ROOT, Row

FILTER = ROOT / "filters/pln-digest.yaml"
WRITTEN = ("posts", "post_raw", "verdicts", "post_sources")
"""The tables a page of posts writes (besides one sources row for its cursor)."""
PAGE = 40  # posts per API page, as the corpus makes them
KEYS = {
    "posts": "id",
    "post_raw": "post_id",
    "verdicts": ("filter", "post_id"),
    "post_sources": ("source", "post_id"),
}


@dataclass(frozen=True)
class BenchTimeline:
    name: str
    network: str
    spec: str
    host: str


class _Split:
    """The corpus's pages (both networks interleaved) handed out per network to the fetch threads.

    Lazy, so a large corpus is never held whole: the fetch queue keeps the two threads within a few
    pages of each other, so little waits here.
    """

    def __init__(self, pages) -> None:
        self._pages = iter(pages)
        self._lock = threading.Lock()
        self._waiting: dict[str, deque] = {"mastodon": deque(), "bluesky": deque()}

    def next_items(self, network: str):
        """The next page of `network`'s raw items; StopIteration at the end of the corpus."""
        with self._lock:
            while not self._waiting[network]:
                other, items = next(self._pages)
                self._waiting[other].append(items)
            return self._waiting[network].popleft()


def _fetch(timeline: BenchTimeline, split: _Split):
    """A timeline's fetch as a source does it: each page normalised in the fetch thread."""
    from plnfilter.sources import Page
    from plnfilter.sources.bluesky import normalize as bluesky
    from plnfilter.sources.mastodon import normalize as mastodon

    number = 0
    while True:
        try:
            items = split.next_items(timeline.network)
        except StopIteration:
            return
        if timeline.network == "mastodon":
            posts = [mastodon.to_post(s, "mastodon.social", timeline.name) for s in items]
        else:
            posts = [bluesky.to_post(i, timeline.name) for i in items]
        number += 1
        yield Page(posts, str(number))


def ingest(pages, db_path: Path, filter_file, now, page_by_page: bool = False) -> float:
    """What `plnfilter run` does with pages from the moment they arrive; returns the mean pages per
    transaction."""
    from plnfilter import store
    from plnfilter.fetching import fetch_concurrently
    from plnfilter.pipeline import RunReport, SourceReport, save_arriving, save_batch
    from plnfilter.rules import compile_rules
    from plnfilter.sources import FetchContext

    ruleset = compile_rules(filter_file)
    db = store.open_archive(db_path)
    timelines = [
        BenchTimeline(
            "mastodon:mastodon.social/tag/edtech", "mastodon", "mastodon: bench", "mastodon.social"
        ),
        BenchTimeline("bluesky:search/edtech", "bluesky", "bluesky: bench", "bsky.social"),
    ]
    report = RunReport(sources={t.name: SourceReport(t.name) for t in timelines})
    split = _Split(pages)
    saved = transactions = 0
    batches = fetch_concurrently(timelines, lambda t: _fetch(t, split), FetchContext(since=now))
    if page_by_page:
        for batch in batches:
            for item in batch:
                save_batch(db, [item], ruleset, filter_file.rank, report, filter_file.name)
                saved += 1
                transactions += 1
    else:
        for pages_saved in save_arriving(db, batches, ruleset, filter_file.rank, report, filter_file.name):
            saved += len(pages_saved)
            transactions += 1
    db.conn.close()
    return saved / max(transactions, 1)


def stored_rows(db_path: Path) -> dict[str, list[dict]]:
    """The rows plnfilter stored for its posts, table by table, as dicts for sqlite-utils."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return {
            table: [dict(row) for row in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608 (constant names)
            for table in WRITTEN
        }
    finally:
        conn.close()


def stored_schema(db_path: Path) -> list[str]:
    """plnfilter's DDL for those tables: the tables, their indexes, both full-text indexes, the
    triggers on them (FTS5 makes its own shadow tables) and the tables those triggers keep or read
    (m012's tallies by author and day, `filters`), so the baseline pays for what plnfilter pays."""
    import re
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid"
        ).fetchall()
    finally:
        conn.close()
    triggers = " ".join(sql for kind, _name, table, sql in rows if kind == "trigger" and table in WRITTEN)
    tables = set(WRITTEN) | {
        name for kind, name, _table, _sql in rows if kind == "table" and re.search(rf"\b{name}\b", triggers)
    }
    return [
        sql for _kind, _name, table, sql in rows if table in tables or sql.startswith("CREATE VIRTUAL TABLE")
    ]


def baseline_upsert(
    tables: dict[str, list[dict]], schema: list[str], db_path: Path, page_size: int | None = None
) -> None:
    """sqlite-utils storing the rows: all in one transaction, or `page_size` posts (with their raw
    JSON, verdicts and findings) per transaction, as pages arriving one at a time are."""
    import sqlite_utils

    from plnfilter.store.archive import WRITER_PRAGMAS

    db = sqlite_utils.Database(db_path)
    db.enable_wal()
    for pragma in WRITER_PRAGMAS:
        db.execute(pragma)
    for sql in schema:
        db.execute(sql)
    for part in _pages(tables, page_size) if page_size else [tables]:
        with db.atomic():
            for table in WRITTEN:
                db[table].upsert_all(part[table], pk=KEYS[table])
    db.conn.close()


def _pages(tables: dict[str, list[dict]], size: int) -> list[dict[str, list[dict]]]:
    """The stored rows cut into pages of `size` posts (by id, the order they were saved in)."""
    posts = sorted(tables["posts"], key=lambda row: row["id"])
    page_of = {row["id"]: n // size for n, row in enumerate(posts)}
    pages: list[dict[str, list[dict]]] = [
        {table: [] for table in WRITTEN} for _ in range(len(posts) // size + 1)
    ]
    for row in posts:
        pages[page_of[row["id"]]]["posts"].append(row)
    for table in WRITTEN[1:]:
        for row in tables[table]:
            pages[page_of[row["post_id"]]][table].append(row)
    return [page for page in pages if page["posts"]]


def _fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def _timed(work) -> tuple[float, float, object]:
    """Wall and CPU seconds (every thread of the process) of `work()`, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def measure(ctx) -> list[Row]:
    """Returns the figure; leaves the last plnfilter archive at `ctx.archive` for the later figures."""
    from plnfilter.filterfile import load

    filter_file = load(FILTER)
    pages = list(ctx.corpus.pages(ctx.posts))
    count = sum(len(items) for _, items in pages)
    runs: dict[str, list[tuple[float, float, object]]] = {
        "single": [],
        "batched": [],
        "theirs": [],
        "pages": [],
    }
    tables = schema = None
    baseline = ctx.work / "baseline-upsert.db"
    for _ in range(ctx.repeat_ingest):
        runs["single"].append(
            _timed(lambda: ingest(pages, _fresh(ctx.archive), filter_file, ctx.now, page_by_page=True))
        )
        runs["batched"].append(_timed(lambda: ingest(pages, _fresh(ctx.archive), filter_file, ctx.now)))
        if tables is None:
            tables, schema = stored_rows(ctx.archive), stored_schema(ctx.archive)
        runs["theirs"].append(_timed(lambda t=tables, s=schema: baseline_upsert(t, s, _fresh(baseline))))
        runs["pages"].append(_timed(lambda t=tables, s=schema: baseline_upsert(t, s, _fresh(baseline), PAGE)))
    _fresh(baseline)
    wall = {name: statistics.median(r[0] for r in results) for name, results in runs.items()}
    cpu = {name: statistics.median(r[1] for r in results) for name, results in runs.items()}
    stored = len(tables["posts"])
    rates = {
        name: (stored if name in ("theirs", "pages") else count) / seconds for name, seconds in wall.items()
    }
    per_transaction = statistics.median(r[2] for r in runs["batched"])

    def cpu_note(ours: str, theirs: str) -> str:
        return f"CPU s (all threads) {cpu[ours]:.2f} vs {cpu[theirs]:.2f}: CPU ratio {cpu[ours] / cpu[theirs]:.2f}"

    # Both store the same rows: the ratio is of the times (plnfilter also reads the duplicates).
    busy, single = wall["batched"] / wall["theirs"], wall["single"] / wall["pages"]
    return [
        Row(
            f"1 ingest {count:,} posts (writer busy)",
            "posts/s",
            rates["batched"],
            rates["theirs"],
            busy,
            "ratio <= 1.0",
            busy <= 1.0,
            f"pages of {PAGE} from 2 fetch threads, {per_transaction:.1f} per transaction; baseline: sqlite-utils "
            f"upsert_all of the rows stored for the {stored:,} posts (posts, raw, verdicts, findings) into the "
            f"same schema with both FTS indexes, 1 transaction; {cpu_note('batched', 'theirs')}",
        ),
        Row(
            f"1 ingest {count:,} posts (page by page)",
            "posts/s",
            rates["single"],
            rates["pages"],
            single,
            "ratio <= 1.0",
            single <= 1.0,
            f"one transaction per page of {PAGE}, as when the network hands over one page at a time; baseline: "
            f"the same upsert_all, {PAGE} posts per transaction; {cpu_note('single', 'pages')}; against the "
            f"1-transaction baseline: {wall['single'] / wall['theirs']:.2f}",
        ),
    ]
