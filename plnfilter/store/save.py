"""Writing fetched pages and new verdicts: each page (or batch of pages) and its cursors in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from plnfilter.post import Post
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import FACT_COLUMNS, ROW_COLUMNS, clean_text, dump_list, stored_form
from plnfilter.store.transaction import write_transaction
from plnfilter.store.verdicts import DEFAULT_FILTER, ensure_filter, write_verdicts
from plnfilter.times import to_iso

if TYPE_CHECKING:
    import sqlite_utils

# Columns a re-fetch may change. Never: uri, network, created_at, source (first finder), first_seen.
_UPDATED = tuple(
    c for c in ROW_COLUMNS if c not in {"uri", "network", "created_at", "source", "first_seen", "reposted_by"}
)
_REPOSTED_BY_UNION = (
    "CASE WHEN NOT EXISTS (SELECT 1 FROM json_each(excluded.reposted_by) "
    "WHERE value NOT IN (SELECT value FROM json_each(posts.reposted_by))) THEN posts.reposted_by ELSE ("
    "SELECT json_group_array(value) FROM ("
    "SELECT value FROM json_each(posts.reposted_by) UNION ALL "
    "SELECT value FROM json_each(excluded.reposted_by) "
    "WHERE value NOT IN (SELECT value FROM json_each(posts.reposted_by)))) END"
)
_SETS = ", ".join(f"{c} = excluded.{c}" for c in _UPDATED) + f", reposted_by = {_REPOSTED_BY_UNION}"

# A batch of pages is written through a staging table: its rows go in with one executemany (cheap: a
# temporary table in memory, without indexes or triggers), then each archive table takes them in one
# INSERT ... SELECT. One statement per table and batch matters: FTS5 (SQLite < 3.44) flushes its
# pending terms into a new segment at the end of every statement that writes it, and a segment per
# post kept FTS5 busy merging them; a multi-row VALUES statement of a batch's size would be one
# statement too, but SQLite compiles one as long as it takes to run it, for every new row count.
# A staged row is `rows.stored_form` (the post's facts and its packed raw JSON), its verdict, and the
# timeline that found it (`finder`, for post_sources); the save's stamp comes as a parameter.
_STAGED = (*FACT_COLUMNS, "raw", "kept", "score", "matched", "dropped_by", "finder")
_FACTS = ", ".join(FACT_COLUMNS)
_STAGE_SQL = f"CREATE TEMP TABLE IF NOT EXISTS pln_staged ({', '.join(_STAGED)})"
_STAGE_ROW_SQL = f"INSERT INTO temp.pln_staged VALUES ({', '.join('?' for _ in _STAGED)})"  # noqa: S608
_UNSTAGE_SQL = "DELETE FROM temp.pln_staged"
# Staged rows in the order they came (a uri found twice in a batch is upserted twice, the later last),
# each with its post's id; CROSS JOIN keeps SQLite scanning the few staged rows, not the archive.
_STAGED_POSTS = "FROM temp.pln_staged AS s CROSS JOIN posts AS p ON p.uri = s.uri"
_UPSERT_STAGED_SQL = (
    f"INSERT INTO posts ({_FACTS}, first_seen, last_seen) SELECT {_FACTS}, ?1, ?1 FROM temp.pln_staged "  # noqa: S608
    f"WHERE true ORDER BY rowid ON CONFLICT(uri) DO UPDATE SET {_SETS}"
)
_STAGED_IDS_SQL = f"SELECT p.id {_STAGED_POSTS} ORDER BY s.rowid"  # noqa: S608
_INSERT_FINDINGS_SQL = (
    "INSERT OR IGNORE INTO post_sources (uri, source, first_seen, post_id) "  # noqa: S608
    f"SELECT p.uri, s.finder, ?, p.id {_STAGED_POSTS} ORDER BY s.rowid"
)
_UPSERT_RAW_SQL = (
    f"INSERT INTO post_raw (post_id, raw) SELECT p.id, s.raw {_STAGED_POSTS} WHERE true ORDER BY s.rowid "  # noqa: S608
    "ON CONFLICT(post_id) DO UPDATE SET raw = excluded.raw"
)
_UPSERT_VERDICTS_SQL = (
    'INSERT INTO verdicts ("filter", post_id, kept, score, matched, dropped_by, judged_at) '  # noqa: S608
    f"SELECT ?, p.id, s.kept, s.score, s.matched, s.dropped_by, ? {_STAGED_POSTS} WHERE true ORDER BY s.rowid "
    'ON CONFLICT("filter", post_id) DO UPDATE SET kept = excluded.kept, score = excluded.score, '
    "matched = excluded.matched, dropped_by = excluded.dropped_by, judged_at = excluded.judged_at"
)
_LAST_ID_SQL = "SELECT coalesce(max(id), 0) FROM posts"
_UPSERT_SOURCE_SQL = (
    "INSERT INTO sources (name, network, spec, cursor, last_run, last_error) VALUES (?, ?, ?, ?, ?, NULL) "
    "ON CONFLICT(name) DO UPDATE SET network = excluded.network, spec = excluded.spec, "
    "cursor = COALESCE(excluded.cursor, sources.cursor), last_run = excluded.last_run, last_error = NULL"
)


class Judged(NamedTuple):
    """A post with the verdict and score this run gave it, and the exclude rule that dropped it."""

    post: Post
    kept: bool
    score: float
    matched: tuple[str, ...] = ()
    dropped_by: str = ""


class TimelineLike(Protocol):
    name: str
    network: str
    spec: str


@dataclass(frozen=True)
class SaveResult:
    new: int
    updated: int


def _iso(now: datetime | str) -> str:
    return now if isinstance(now, str) else to_iso(now)


def _merge_duplicates(judged: Iterable[Any]) -> list[Any]:
    """The same uri twice in one page is one row: the later finding wins, reposters are merged."""
    by_uri: dict[str, Any] = {}
    for item in judged:
        uri = item.post.uri
        earlier = by_uri.get(uri)
        if earlier is not None:
            reposters = tuple(dict.fromkeys(earlier.post.reposted_by + item.post.reposted_by))
            item = Judged(
                replace(item.post, reposted_by=reposters),
                item.kept,
                item.score,
                tuple(item.matched),
                getattr(item, "dropped_by", ""),
            )
        by_uri[uri] = item
    return list(by_uri.values())


class PageToSave(NamedTuple):
    """A page of judged posts to save, with the cursor that covers it (None keeps the saved one).

    `prepared` maps a post's uri to (post, `rows.stored_form(post)`) when a fetch thread has
    prepared it already (`Page.prepared`); the writer prepares the others (and any post that is
    not the very object prepared, such as one merged from two findings).
    """

    timeline: TimelineLike
    judged: Sequence[Any]
    cursor: str | None
    prepared: Mapping[str, tuple[Post, tuple[Any, ...]]] = MappingProxyType({})


def save_page(
    db: sqlite_utils.Database,
    timeline: TimelineLike,
    judged: Sequence[Any],
    cursor: str | None,
    now: datetime | str,
    filter_name: str = DEFAULT_FILTER,
) -> SaveResult:
    """Upsert a page of judged posts with `filter_name`'s verdicts, record who found them and advance
    the cursor, all or nothing.

    `judged` items need `.post .kept .score .matched` (see `Judged`). `cursor=None` keeps the saved one.
    """
    return save_pages(db, [PageToSave(timeline, judged, cursor)], now, filter_name)[0]


def save_pages(
    db: sqlite_utils.Database | sqlite3.Connection,
    pages: Sequence[PageToSave],
    now: datetime | str,
    filter_name: str = DEFAULT_FILTER,
) -> list[SaveResult]:
    """`save_page` for several pages at once, in order, all or nothing: each archive table takes the
    batch's rows in one statement (see `_STAGED`). A post in two pages counts as new in the first."""
    stamp = _iso(now)
    verdict_filter = clean_text(filter_name)
    staged: list[tuple[Any, ...]] = []
    sizes: list[int] = []
    for page in pages:
        items = _merge_duplicates(page.judged)
        finder, prepared = clean_text(page.timeline.name), page.prepared
        for item in items:
            post = item.post
            ready = prepared.get(post.uri)
            staged.append(
                (
                    *(ready[1] if ready is not None and ready[0] is post else stored_form(post)),
                    1 if item.kept else 0,
                    float(item.score),
                    dump_list(item.matched),
                    clean_text(getattr(item, "dropped_by", "") or "") or None,
                    finder,
                )
            )
        sizes.append(len(items))
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        conn.execute(_STAGE_SQL)
        ensure_filter(conn, verdict_filter)
        last_id = conn.execute(_LAST_ID_SQL).fetchone()[0]
        if staged:
            conn.executemany(_STAGE_ROW_SQL, staged)
            conn.execute(_UPSERT_STAGED_SQL, [stamp])
            ids = [row[0] for row in conn.execute(_STAGED_IDS_SQL)]
            conn.execute(_INSERT_FINDINGS_SQL, [stamp])
            conn.execute(_UPSERT_RAW_SQL)
            conn.execute(_UPSERT_VERDICTS_SQL, [verdict_filter, stamp])
            conn.execute(_UNSTAGE_SQL)
        else:
            ids = []
        conn.executemany(_UPSERT_SOURCE_SQL, _source_rows(pages, stamp))
    results = []
    seen: set[int] = set()
    at = 0
    for size in sizes:
        page_ids = ids[at : at + size]
        at += size
        new = sum(1 for post_id in page_ids if post_id > last_id and post_id not in seen)
        seen.update(page_ids)
        results.append(SaveResult(new=new, updated=size - new))
    return results


def _source_rows(pages: Sequence[PageToSave], stamp: str) -> list[tuple[Any, ...]]:
    """One sources row per timeline of `pages`, with the cursor of its last page that has one (None
    keeps the saved one): what upserting each page's cursor in order leaves, in one row per source."""
    rows: dict[str, tuple[Any, ...]] = {}
    for page in pages:
        timeline = page.timeline
        name = clean_text(timeline.name)
        earlier = rows.get(name)
        cursor = page.cursor if page.cursor is not None or earlier is None else earlier[3]
        rows[name] = (name, clean_text(timeline.network), clean_text(timeline.spec), cursor, stamp)
    return list(rows.values())


def update_judgements(
    db: sqlite_utils.Database,
    items: Iterable[Any],
    batch_size: int = 1000,
    filter_name: str = DEFAULT_FILTER,
    now: datetime | str | None = None,
) -> int:
    """Store `filter_name`'s new verdicts (`plnfilter apply`) in batched transactions; return how many.

    Items are `Judged` or `(uri, kept, score, matched)` tuples. Read the posts from another
    connection (`open_readonly`) while writing here. Another filter's verdicts are never touched.
    """
    from plnfilter.times import now_utc

    stamp = _iso(now if now is not None else now_utc())
    conn = as_connection(db)
    changed = 0
    batch: list[Any] = []

    def flush() -> int:
        with db_errors(conn), write_transaction(db):
            count = write_verdicts(conn, filter_name, batch, stamp)
        batch.clear()
        return count

    for item in items:
        if not (isinstance(item, Judged) or hasattr(item, "post")):
            uri, kept, score, matched = item
            item = Judged(Post(uri=uri, network=""), kept, score, tuple(matched))
        batch.append(item)
        if len(batch) >= batch_size:
            changed += flush()
    if batch:
        changed += flush()
    return changed
