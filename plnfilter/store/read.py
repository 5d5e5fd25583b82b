"""Reading Posts back (for `plnfilter apply`, `top` and `explain`) and looking one up, on any connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.errors import UsageError
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import (
    ALL_COLUMNS,
    RAW_SQL,
    ROW_COLUMNS,
    clean_text,
    column_sql,
    html_of_blob,
    html_sql,
    load_list,
    row_decoder,
    row_to_post,
)
from plnfilter.times import to_iso

if TYPE_CHECKING:
    import sqlite_utils

    from plnfilter.post import Post
    from plnfilter.store.select import Selection

# Every post column, and the raw API object from `post_raw`.
_ALL = ", ".join(ROW_COLUMNS) + ", " + RAW_SQL + " AS raw"
# The post columns (no raw object): rules and scores never read it, and unpacking it is most of a scan's cost.
SCAN_COLUMNS = ROW_COLUMNS


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
    sql, query_params = build_sql(where, columns=(*ROW_COLUMNS, "raw"))
    return _posts(conn, sql, query_params)


def get_post(db: sqlite_utils.Database | sqlite3.Connection, uri: str) -> Post | None:
    """The stored Post with this uri, or None."""
    conn = as_connection(db)
    sql = f"SELECT {_ALL} FROM posts WHERE uri = ?"  # noqa: S608
    return next(iter(_posts(conn, sql, [clean_text(uri)])), None)


def get_row(
    conn: sqlite3.Connection, uri: str, columns: Sequence[str] = ALL_COLUMNS, filter_name: str | None = None
) -> dict[str, Any] | None:
    """One post with the filter `filter_name`'s verdict (None: the archive's only filter's) as an
    output row (lists decoded), or None."""
    if filter_name is None:
        from plnfilter.store.filters import choose_filter

        filter_name = choose_filter(conn, None)
    unknown = [c for c in columns if c not in ALL_COLUMNS]
    if unknown:
        raise UsageError(f"unknown column {unknown[0]!r}", "choose from: " + ", ".join(ALL_COLUMNS))
    sql = (
        f"SELECT {', '.join(column_sql(c) for c in columns)} FROM posts "  # noqa: S608 (names from a whitelist)
        'LEFT JOIN verdicts ON verdicts.post_id = posts.id AND verdicts."filter" = ? WHERE posts.uri = ?'
    )
    with db_errors(conn):
        cursor = conn.execute(sql, [filter_name, clean_text(uri)])
        decode = row_decoder([d[0] for d in cursor.description or ()])
        row = cursor.fetchone()
    return None if row is None else decode(row)


def posts_with_verdicts(
    db: sqlite_utils.Database | sqlite3.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    kept_only: bool = True,
    filter_name: str | None = None,
    unjudged: bool = False,
    seen_since: datetime | None = None,
    with_links: bool = False,
) -> Iterator[tuple[Post, bool, tuple[str, ...]]]:
    """Posts created in the window (and first seen at `seen_since` or later, when given; without
    `raw`), oldest saved first, each with the stored verdict of the filter `filter_name` (None: the
    archive's only filter) (kept, matched rules); only the posts it judged; with `unjudged`, every
    post in the window as kept with no rules matched (for a filter file that has not judged this
    archive: its caller judges them); with `with_links`, only posts with a link or a link card."""
    conn = as_connection(db)
    source, where, params = window_sql(
        conn, since, until, kept_only, filter_name, unjudged, seen_since, with_links
    )
    columns = ", ".join("posts." + c for c in SCAN_COLUMNS)
    sql = (
        f"SELECT {columns}, coalesce(verdicts.kept, 1) AS kept, verdicts.matched FROM {source} "  # noqa: S608
        f"WHERE {where} ORDER BY posts.id"
    )
    with db_errors(conn):
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            yield row_to_post(row), bool(row["kept"]), tuple(load_list(row["matched"]))


def window_sql(
    conn: sqlite3.Connection,
    since: datetime | None,
    until: datetime | None,
    kept_only: bool,
    filter_name: str | None,
    unjudged: bool,
    seen_since: datetime | None,
    with_links: bool,
) -> tuple[str, str, list[Any]]:
    """The FROM and WHERE (and its parameters) of `posts_with_verdicts`' window (its arguments, in
    its order): `posts` joined to each one's `verdicts` row of the filter."""
    from plnfilter.store.filters import choose_filter

    if filter_name is None and not unjudged:
        filter_name = choose_filter(conn, None)
    where: list[str] = ['verdicts."filter" = ?']
    params: list[Any] = [filter_name]
    if kept_only:
        where.append("verdicts.kept = 1")
    # A window is read through the posts' time index, each post's verdict looked up (on its own,
    # SQLite would walk all of the filter's verdicts and keep those in the window).
    source = (
        "posts CROSS JOIN verdicts ON verdicts.post_id = posts.id"
        if since is not None
        else "verdicts JOIN posts ON posts.id = verdicts.post_id"
    )
    if unjudged:  # every post in the window, as if kept: the caller judges them itself
        where, params = ["1"], []
        source = "posts LEFT JOIN verdicts ON 0"
    if since is not None:
        where.append("posts.created_at >= ?")
        params.append(to_iso(since))
    if until is not None:
        where.append("posts.created_at < ?")
        params.append(to_iso(until))
    if seen_since is not None:
        where.append("posts.first_seen >= ?")
        params.append(to_iso(seen_since))
    if with_links:
        where.append("(coalesce(posts.links, '[]') NOT IN ('[]', '') OR coalesce(posts.card_url, '') != '')")
    return source, " AND ".join(where), params


def stored_html(conn: sqlite3.Connection, uris: Sequence[str]) -> dict[str, str]:
    """The html of the archived posts with these uris, where they have one (`rows.html_sql`: a scan
    of SCAN_COLUMNS leaves a Mastodon post's html in its raw object)."""
    if not uris:
        return {}
    sql = f"SELECT uri, {html_sql()} FROM posts WHERE uri IN (SELECT value FROM json_each(?))"  # noqa: S608
    with db_errors(conn):
        found = conn.execute(sql, [json.dumps([clean_text(uri) for uri in uris])]).fetchall()
    out = {}
    for uri, html in found:
        text = html_of_blob(html) if isinstance(html, bytes) else html
        if text:
            out[uri] = text
    return out


def uri_of_url(db: sqlite_utils.Database | sqlite3.Connection, url: str) -> str | None:
    """The uri of a post whose web URL this is, or None."""
    found = as_connection(db).execute("SELECT uri FROM posts WHERE url = ? LIMIT 1", [url]).fetchone()
    return found[0] if found else None


def stored_verdict(
    db: sqlite_utils.Database | sqlite3.Connection, uri: str, filter_name: str | None = None
) -> tuple[bool | None, float, tuple[str, ...], str]:
    """The verdict the filter `filter_name` (None: the archive's only filter) stored on an archived
    post: kept (None: not judged by it), score, matched rules, the exclude rule that dropped it."""
    if filter_name is None:
        from plnfilter.store.filters import choose_filter

        filter_name = choose_filter(as_connection(db), None)
    row = (
        as_connection(db)
        .execute(
            "SELECT v.kept, v.score, v.matched, v.dropped_by FROM verdicts v JOIN posts p ON p.id = v.post_id "
            'WHERE p.uri = ? AND v."filter" = ?',
            [uri, filter_name],
        )
        .fetchone()
    )
    if row is None:
        return None, 0.0, (), ""
    kept, score, matched, dropped_by = row
    return bool(kept), float(score or 0.0), tuple(load_list(matched)), dropped_by or ""
