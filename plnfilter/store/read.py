"""Reading Posts back (for `plnfilter apply` and `explain`), on any connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from plnfilter.post import Post
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import ROW_COLUMNS, clean_text, row_to_post

if TYPE_CHECKING:
    import sqlite_utils

    from plnfilter.query import Selection

_ALL = ", ".join(ROW_COLUMNS)


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
    from plnfilter.query import build_sql

    if where.sql is not None:
        return _posts(conn, where.sql, params)
    sql, query_params = build_sql(where, columns=ROW_COLUMNS)
    return _posts(conn, sql, query_params)


def get_post(db: sqlite_utils.Database | sqlite3.Connection, uri: str) -> Post | None:
    """The stored Post with this uri, or None."""
    conn = as_connection(db)
    sql = f"SELECT {_ALL} FROM posts WHERE uri = ?"  # noqa: S608
    return next(iter(_posts(conn, sql, [clean_text(uri)])), None)
