"""Writing fetched pages and new verdicts: each page and its cursor in one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from plnfilter.post import Post
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import ROW_COLUMNS, clean_text, pack_raw, post_to_row
from plnfilter.store.transaction import write_transaction
from plnfilter.store.verdicts import DEFAULT_FILTER, write_verdicts, write_verdicts_by_id
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
_NAMES = ", ".join(ROW_COLUMNS)
_MARKS = "(" + ", ".join("?" for _ in ROW_COLUMNS) + ")"
_SETS = ", ".join(f"{c} = excluded.{c}" for c in _UPDATED) + f", reposted_by = {_REPOSTED_BY_UNION}"
# Rows per upsert statement. FTS5 (SQLite < 3.44) flushes its pending terms into a new segment at the
# end of every statement that writes it: one statement per row (executemany) made a segment per post
# and kept FTS5 busy merging them. Several rows per statement flush once.
_ROWS_PER_STATEMENT = 40


def _upsert_sql(count: int) -> str:
    """The upsert of `count` rows in one statement (column names are constants, values parameters)."""
    values = ", ".join([_MARKS] * count)
    return f"INSERT INTO posts ({_NAMES}) VALUES {values} ON CONFLICT(uri) DO UPDATE SET {_SETS}"  # noqa: S608


def _upsert_rows(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert rows a few dozen per statement (within SQLite's limit on parameters)."""
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(_ROWS_PER_STATEMENT, limit // len(ROW_COLUMNS)))
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        conn.execute(_upsert_sql(len(chunk)), [value for row in chunk for value in row])


# A page's findings in one statement, keyed by the post's id (see schema.m005), looked up in the uri
# index the upsert has just touched.
_INSERT_FINDINGS_SQL = (
    "INSERT OR IGNORE INTO post_sources (uri, source, first_seen, post_id) "
    "SELECT uri, ?, ?, id FROM posts WHERE uri IN (SELECT value FROM json_each(?))"
)
_UPSERT_SOURCE_SQL = (
    "INSERT INTO sources (name, network, spec, cursor, last_run, last_error) VALUES (?, ?, ?, ?, ?, NULL) "
    "ON CONFLICT(name) DO UPDATE SET network = excluded.network, spec = excluded.spec, "
    "cursor = COALESCE(excluded.cursor, sources.cursor), last_run = excluded.last_run, last_error = NULL"
)
_EXISTING_SQL = "SELECT uri FROM posts WHERE uri IN (SELECT value FROM json_each(?))"
_EXISTING_IDS_SQL = "SELECT uri, id FROM posts WHERE uri IN (SELECT value FROM json_each(?))"
_RAW_PER_STATEMENT = 100


def _upsert_raw(conn: sqlite3.Connection, rows: Sequence[tuple[int, bytes]]) -> None:
    """Each post's compressed raw object into post_raw, a hundred rows per statement."""
    for start in range(0, len(rows), _RAW_PER_STATEMENT):
        chunk = rows[start : start + _RAW_PER_STATEMENT]
        values = ", ".join(["(?, ?)"] * len(chunk))
        conn.execute(
            f"INSERT INTO post_raw (post_id, raw) VALUES {values} "  # noqa: S608 (placeholders only)
            "ON CONFLICT(post_id) DO UPDATE SET raw = excluded.raw",
            [value for row in chunk for value in row],
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
    stamp = _iso(now)
    items = _merge_duplicates(judged)
    rows = [post_to_row(i.post, stamp) for i in items]
    uris = [row[0] for row in rows]
    source = clean_text(timeline.name)
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        uri_list = json.dumps(uris)
        existing = {r[0] for r in conn.execute(_EXISTING_SQL, [uri_list])} if uris else set()
        _upsert_rows(conn, rows)
        if uris:
            conn.execute(_INSERT_FINDINGS_SQL, [source, stamp, uri_list])
        ids = dict(conn.execute(_EXISTING_IDS_SQL, [uri_list]).fetchall()) if uris else {}
        pairs = [(ids[uri], item) for uri, item in zip(uris, items, strict=True) if uri in ids]
        _upsert_raw(conn, [(post_id, pack_raw(item.post.raw)) for post_id, item in pairs])
        write_verdicts_by_id(conn, filter_name, pairs, stamp)
        conn.execute(
            _UPSERT_SOURCE_SQL,
            [source, clean_text(timeline.network), clean_text(timeline.spec), cursor, stamp],
        )
    new = sum(1 for uri in uris if uri not in existing)
    return SaveResult(new=new, updated=len(uris) - new)


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
