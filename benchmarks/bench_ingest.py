"""Figure 1: ingest (normalise + evaluate + score + save with FTS) against sqlite-utils `upsert_all`.

plnfilter works as `plnfilter run`'s writer does: each API page (40 items) is normalised, then
`pipeline.save_batch` judges it with filters/pln-digest.yaml and saves it with its cursor. When
pages arrive faster than they are written (what an ingest rate measures) the writer finds the
fetch queue full and saves its 16 waiting pages in one transaction; a second row saves every page
in its own transaction, as when a slow network hands over one page at a time. The baseline writes
the very rows plnfilter wrote (already normalised, judged and serialised) with sqlite-utils
`upsert_all` into a posts table with FTS triggers on the same columns, in one transaction, with
the same WAL and synchronous settings: the cost of storing alone, without plnfilter's indexes
(created_at, uri; a filter's kept posts by score) and its post_sources and verdicts tables.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from measure import ROOT, Row, rate_ratio, timed

FILTER = ROOT / "filters/pln-digest.yaml"


@dataclass(frozen=True)
class BenchTimeline:
    name: str
    network: str
    spec: str


QUEUE_PAGES = 16  # fetching.fetch_concurrently's queue: what a busy writer finds waiting


def ingest(pages, db_path: Path, filter_file, now, batch_pages: int = QUEUE_PAGES) -> None:
    """What `plnfilter run` does with pages after they arrive."""
    from plnfilter import store
    from plnfilter.pipeline import RunReport, SourceReport, save_batch
    from plnfilter.rules import compile_rules
    from plnfilter.sources import Page
    from plnfilter.sources.bluesky import normalize as bluesky
    from plnfilter.sources.mastodon import normalize as mastodon

    ruleset = compile_rules(filter_file)
    db = store.open_archive(db_path)
    timelines = {
        "mastodon": BenchTimeline("mastodon:mastodon.social/tag/edtech", "mastodon", "mastodon: bench"),
        "bluesky": BenchTimeline("bluesky:search/edtech", "bluesky", "bluesky: bench"),
    }
    report = RunReport(sources={t.name: SourceReport(t.name) for t in timelines.values()})
    batch = []
    for number, (network, items) in enumerate(pages):
        timeline = timelines[network]
        if network == "mastodon":
            posts = [mastodon.to_post(s, "mastodon.social", timeline.name) for s in items]
        else:
            posts = [bluesky.to_post(i, timeline.name) for i in items]
        batch.append((timeline, Page(posts, str(number))))
        if len(batch) >= batch_pages:
            save_batch(db, batch, ruleset, filter_file.rank, report, filter_file.name)
            batch = []
    if batch:
        save_batch(db, batch, ruleset, filter_file.rank, report, filter_file.name)
    db.conn.close()


VERDICT_COLUMNS = ("kept", "score", "matched", "dropped_by")


def stored_rows(db_path: Path) -> list[dict]:
    """The rows plnfilter stored, as dicts for sqlite-utils."""
    import sqlite3
    import zlib

    from plnfilter.store import ROW_COLUMNS

    conn = sqlite3.connect(db_path)
    columns = (*ROW_COLUMNS, *VERDICT_COLUMNS, "raw")
    try:  # each post with the filter's verdict and its raw JSON text, one row as the baseline stores it
        names = ", ".join([*("posts." + c for c in ROW_COLUMNS), *("verdicts." + c for c in VERDICT_COLUMNS)])
        return [
            dict(zip(columns, (*row[:-1], zlib.decompress(row[-1]).decode() if row[-1] else ""), strict=True))
            for row in conn.execute(
                f"SELECT {names}, post_raw.raw FROM posts LEFT JOIN verdicts ON verdicts.post_id = posts.id "  # noqa: S608
                "LEFT JOIN post_raw ON post_raw.post_id = posts.id"
            )
        ]
    finally:
        conn.close()


def baseline_upsert(rows: list[dict], db_path: Path) -> None:
    import sqlite_utils

    from plnfilter.store.columns import FTS_COLUMNS, POST_SCHEMA

    db = sqlite_utils.Database(db_path)
    db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")
    schema = {name: kind for name, kind in POST_SCHEMA.items() if name != "id"}
    schema.update(
        kept=int, score=float, matched=str, dropped_by=str, raw=str
    )  # verdict and raw JSON text beside
    db["posts"].create(schema, pk="uri")
    db["posts"].enable_fts(list(FTS_COLUMNS), create_triggers=True)
    with db.atomic():
        db["posts"].upsert_all(rows, pk="uri")
    db.conn.close()


def _fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def measure(ctx) -> list[Row]:
    """Returns the figure; leaves the last plnfilter archive at `ctx.archive` for the later figures."""
    from plnfilter.filterfile import load

    filter_file = load(FILTER)
    pages = list(ctx.corpus.pages(ctx.posts))
    count = sum(len(items) for _, items in pages)
    batched, single, theirs = [], [], []
    rows = None
    for _ in range(ctx.repeat_ingest):
        single.append(timed(lambda: ingest(pages, _fresh(ctx.archive), filter_file, ctx.now, batch_pages=1)))
        batched.append(timed(lambda: ingest(pages, _fresh(ctx.archive), filter_file, ctx.now)))
        if rows is None:
            rows = stored_rows(ctx.archive)
        baseline_path = _fresh(ctx.work / "baseline-upsert.db")
        theirs.append(timed(lambda rows=rows, path=baseline_path: baseline_upsert(rows, path)))
    _fresh(ctx.work / "baseline-upsert.db")
    batched_rate = count / statistics.median(batched)
    single_rate = count / statistics.median(single)
    theirs_rate = len(rows) / statistics.median(theirs)
    ratio = rate_ratio(batched_rate, theirs_rate)
    return [
        Row(
            f"1 ingest {count:,} posts (writer busy)",
            "posts/s",
            batched_rate,
            theirs_rate,
            ratio,
            "ratio <= 1.5",
            ratio <= 1.5,
            f"pages of 40, {QUEUE_PAGES} per transaction; baseline: sqlite-utils upsert_all of the "
            f"{len(rows):,} stored rows with FTS triggers, 1 transaction",
        ),
        Row(
            f"1 ingest {count:,} posts (page by page)",
            "posts/s",
            single_rate,
            theirs_rate,
            rate_ratio(single_rate, theirs_rate),
            "",
            None,
            "one transaction per page of 40, as when the network hands over one page at a time",
        ),
    ]
