"""Figure 1: ingest (normalise + evaluate + score + save with FTS) against sqlite-utils `upsert_all`.

plnfilter works page by page as `plnfilter run` does: each API page (40 items) is normalised,
judged with filters/pln-digest.yaml, and saved with its cursor in its own transaction. The
baseline writes the very rows plnfilter wrote (already normalised, judged and serialised) with
sqlite-utils `upsert_all` into a posts table with FTS triggers on the same columns, in one
transaction, with the same WAL and synchronous settings: the cost of storing alone.
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


def ingest(pages, db_path: Path, filter_file, now) -> None:
    """What `plnfilter run` does with each page after it arrives."""
    from plnfilter import store
    from plnfilter.normalize import bluesky, mastodon
    from plnfilter.pipeline import judge
    from plnfilter.rules import compile_rules
    from plnfilter.times import to_iso

    ruleset = compile_rules(filter_file)
    db = store.open_archive(db_path)
    stamp = to_iso(now)
    timelines = {
        "mastodon": BenchTimeline("mastodon:mastodon.social/tag/edtech", "mastodon", "mastodon: bench"),
        "bluesky": BenchTimeline("bluesky:search/edtech", "bluesky", "bluesky: bench"),
    }
    for number, (network, items) in enumerate(pages):
        timeline = timelines[network]
        if network == "mastodon":
            posts = [mastodon.to_post(s, "mastodon.social", timeline.name) for s in items]
        else:
            posts = [bluesky.to_post(i, timeline.name) for i in items]
        judged = judge(posts, ruleset, filter_file.rank, now)
        store.save_page(db, timeline, judged, str(number), stamp)
    db.conn.close()


def stored_rows(db_path: Path) -> list[dict]:
    """The rows plnfilter stored, as dicts for sqlite-utils."""
    import sqlite3

    from plnfilter.store import ROW_COLUMNS

    conn = sqlite3.connect(db_path)
    try:
        names = ", ".join(ROW_COLUMNS)
        return [
            dict(zip(ROW_COLUMNS, row, strict=True))
            for row in conn.execute(f"SELECT {names} FROM posts")  # noqa: S608 (our column names)
        ]
    finally:
        conn.close()


def baseline_upsert(rows: list[dict], db_path: Path) -> None:
    import sqlite_utils

    from plnfilter.store.schema import FTS_COLUMNS, POST_SCHEMA

    db = sqlite_utils.Database(db_path)
    db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")
    schema = {name: kind for name, kind in POST_SCHEMA.items() if name != "id"}
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
    ours, theirs = [], []
    rows = None
    for _ in range(ctx.repeat_heavy):
        ours.append(timed(lambda: ingest(pages, _fresh(ctx.archive), filter_file, ctx.now)))
        if rows is None:
            rows = stored_rows(ctx.archive)
        baseline_path = _fresh(ctx.work / "baseline-upsert.db")
        theirs.append(timed(lambda rows=rows, path=baseline_path: baseline_upsert(rows, path)))
    _fresh(ctx.work / "baseline-upsert.db")
    ours_rate = count / statistics.median(ours)
    theirs_rate = len(rows) / statistics.median(theirs)
    return [
        Row(
            f"1 ingest {count:,} posts (pages of 40)",
            "posts/s",
            ours_rate,
            theirs_rate,
            rate_ratio(ours_rate, theirs_rate),
            "ratio <= 1.5",
            rate_ratio(ours_rate, theirs_rate) <= 1.5,
            f"baseline: sqlite-utils upsert_all of the stored rows + FTS triggers, 1 transaction; {len(rows):,} rows",
        )
    ]
