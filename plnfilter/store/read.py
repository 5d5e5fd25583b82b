"""Reading Posts back (for `plnfilter apply`, `top` and `explain`) and looking one up, on any connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.errors import UsageError
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import ALL_COLUMNS, ROW_COLUMNS, clean_text, load_list, row_decoder, row_to_post
from plnfilter.times import to_iso

if TYPE_CHECKING:
    import sqlite_utils

    from plnfilter.post import Post
    from plnfilter.store.select import Selection

_ALL = ", ".join(ROW_COLUMNS)
# Every post column but `raw`: rules and scores never read it, and parsing it is most of a scan's cost.
SCAN_COLUMNS = tuple(name for name in ROW_COLUMNS if name != "raw")


def _posts(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Iterator[Post]:
    with db_errors(conn):
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield row_to_post(dict(zip(names, row, strict=True)))


def iter_posts(
    db: sqlite_utils.Database | sqlite3.Connection,
    where: str | Selection | None = None,
    params: Sequence[Any] = (),
) -> Iterator[Post]:
    """Stream Posts: all of them, those matching a trusted SQL `where` fragment, or a Selection."""
    conn = as_connection(db)
    if where is None:
        return _posts(conn, f"SELECT {_ALL} FROM posts ORDER BY id", ())  # noqa: S608
    if isinstance(where, str):
        return _posts(conn, f"SELECT {_ALL} FROM posts WHERE {where} ORDER BY id", params)  # noqa: S608
    from plnfilter.store.select import build_sql

    if where.sql is not None:
        return _posts(conn, where.sql, params)
    sql, query_params = build_sql(where, columns=ROW_COLUMNS)
    return _posts(conn, sql, query_params)


def get_post(db: sqlite_utils.Database | sqlite3.Connection, uri: str) -> Post | None:
    """The stored Post with this uri, or None."""
    conn = as_connection(db)
    sql = f"SELECT {_ALL} FROM posts WHERE uri = ?"  # noqa: S608
    return next(iter(_posts(conn, sql, [clean_text(uri)])), None)


def get_row(
    conn: sqlite3.Connection, uri: str, columns: Sequence[str] = ALL_COLUMNS
) -> dict[str, Any] | None:
    """One post with its verdict as an output row (lists decoded), or None."""
    unknown = [c for c in columns if c not in ROW_COLUMNS]
    if unknown:
        raise UsageError(f"unknown column {unknown[0]!r}", "choose from: " + ", ".join(ALL_COLUMNS))
    sql = f"SELECT {', '.join(columns)} FROM posts WHERE uri = ?"  # noqa: S608 (names from a whitelist)
    with db_errors(conn):
        cursor = conn.execute(sql, [clean_text(uri)])
        decode = row_decoder([d[0] for d in cursor.description or ()])
        row = cursor.fetchone()
    return None if row is None else decode(row)


def posts_with_verdicts(
    db: sqlite_utils.Database | sqlite3.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    kept_only: bool = True,
    seen_since: datetime | None = None,
) -> Iterator[tuple[Post, bool, tuple[str, ...]]]:
    """Posts created in the window (and first seen at `seen_since` or later, when given; without
    `raw`), oldest saved first, each with its stored verdict (kept, matched rules)."""
    where, params = ["1"], []
    if kept_only:
        where.append("kept = 1")
    if since is not None:
        where.append("created_at >= ?")
        params.append(to_iso(since))
    if until is not None:
        where.append("created_at < ?")
        params.append(to_iso(until))
    if seen_since is not None:
        where.append("first_seen >= ?")
        params.append(to_iso(seen_since))
    sql = f"SELECT {', '.join(SCAN_COLUMNS)} FROM posts WHERE {' AND '.join(where)} ORDER BY id"  # noqa: S608
    conn = as_connection(db)
    with db_errors(conn):
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            yield row_to_post(row), bool(row["kept"]), tuple(load_list(row["matched"]))


def uri_of_url(db: sqlite_utils.Database | sqlite3.Connection, url: str) -> str | None:
    """The uri of a post whose web URL this is, or None."""
    found = as_connection(db).execute("SELECT uri FROM posts WHERE url = ? LIMIT 1", [url]).fetchone()
    return found[0] if found else None


def stored_verdict(
    db: sqlite_utils.Database | sqlite3.Connection, uri: str
) -> tuple[bool, float, tuple[str, ...]]:
    """The verdict stored beside an archived post: kept, score, matched rules."""
    kept, score, matched = (
        as_connection(db).execute("SELECT kept, score, matched FROM posts WHERE uri = ?", [uri]).fetchone()
    )
    return bool(kept), float(score or 0.0), tuple(load_list(matched))
