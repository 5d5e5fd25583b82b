"""`plnfilter links`' grouping in SQL: the window's kept posts by canonical link, most sharers first.

The caller's Python functions name each post's links, its sharer and its score (SQLite functions for
the one query); SQLite groups and sorts, so memory does not grow with the window (its sorter spills
to a temporary file), and only the few links that can be in the answer come back, with their posts'
ids, for the caller to describe from those posts alone.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from plnfilter.store.archive import db_errors
from plnfilter.store.columns import POST_SCHEMA
from plnfilter.store.read import SCAN_COLUMNS, window_sql

LinkGroup = tuple[str, int, float, str, list[int]]
"""(link key, distinct sharers, best score, last shared, the ids of its posts)."""


def link_groups(
    conn: sqlite3.Connection,
    filter_name: str | None,
    since: datetime | None,
    until: datetime | None,
    seen_since: datetime | None,
    *,
    keys_of: Callable[[str, str], str],
    lower: Callable[[str], str],
    score_of: Callable[[str, int, int, int, int, str], float],
    min_sharers: int = 1,
) -> Iterator[LinkGroup]:
    """Every link of the window's posts that the filter kept, by distinct sharers, then best score,
    then last shared (all descending; the caller breaks the remaining ties).

    Each post's columns come to the functions as a Post has them (text, '' for NULL; integers, 0
    for NULL): `keys_of(links, card_url)` gives a JSON list of its link keys; its sharer is its
    author, else author_id, else uri, lower-cased (by `lower` when not ASCII: SQLite's lower() folds
    ASCII only); `score_of(network, likes, reposts, replies, quotes, created_at)` gives its score.
    Read as the caller goes on.
    """
    source, where, params = window_sql(conn, since, until, True, filter_name, False, seen_since, True)
    conn.create_function("plnfilter_link_keys", 2, keys_of, deterministic=True)
    conn.create_function("plnfilter_lower", 1, lower, deterministic=True)
    conn.create_function(_SCORE, 6, score_of, deterministic=True)
    sharer = f"coalesce(nullif({_value('author')}, ''), nullif({_value('author_id')}, ''), {_value('uri')})"
    # The window through the posts' time index (window_sql), each post's links as rows, grouped.
    # Not MATERIALIZED: each post's sharer and score are worked out again for each of its links,
    # but one temporary table fewer holds the window (~2 MB at 100k posts).
    sql = (
        "SELECT link.value, count(DISTINCT shared.person), max(shared.score), max(shared.created_at), "  # noqa: S608
        "json_group_array(shared.id) FROM (SELECT posts.id AS id, "
        f"CASE WHEN {sharer} GLOB '*[^ -~]*' THEN plnfilter_lower({sharer}) ELSE lower({sharer}) END AS person, "
        f"{_SCORE}({_SCORED}) AS score, {_value('created_at')} AS created_at, "
        f"plnfilter_link_keys({_value('links')}, {_value('card_url')}) AS keys FROM {source} WHERE {where}"
        ") AS shared, json_each(shared.keys) AS link "
        "GROUP BY link.value HAVING count(DISTINCT shared.person) >= ? ORDER BY 2 DESC, 3 DESC, 4 DESC"
    )
    with db_errors(conn):
        cursor = conn.execute(sql, [*params, int(min_sharers)])
        for key, sharers, best, last, ids in cursor:
            yield key, int(sharers), float(best), last, json.loads(ids)


def posts_best_first(
    conn: sqlite3.Connection,
    ids: list[int],
    columns: tuple[str, ...],
    score_of: Callable[[str, int, int, int, int, str], float],
) -> Iterator[tuple[Any, ...]]:
    """`columns` of the posts with these ids (as `link_groups` hands them to its functions) and
    each one's `score_of` last, best score first, then newest, then by uri; sorted by SQLite, read as
    the caller goes on."""
    unknown = [c for c in columns if c not in SCAN_COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}")
    conn.create_function(_SCORE, 6, score_of, deterministic=True)
    values = ", ".join(_value(c) for c in columns)
    sql = (
        f"SELECT {values}, {_SCORE}({_SCORED}) AS score FROM posts "  # noqa: S608
        "WHERE posts.id IN (SELECT value FROM json_each(?)) "
        f"ORDER BY score DESC, {_value('created_at')} DESC, posts.uri"
    )
    with db_errors(conn):
        yield from conn.execute(sql, [json.dumps([int(i) for i in ids])])


def _value(column: str) -> str:
    """A post column as `rows.row_to_post` reads it: an integer (0 for NULL) or text ('' for NULL)."""
    if POST_SCHEMA[column] is int:
        return f"CAST(coalesce(posts.{column}, 0) AS INTEGER)"
    return f"coalesce(CAST(posts.{column} AS TEXT), '')"


_SCORE = "plnfilter_link_score"
_SCORED = ", ".join(_value(c) for c in ("network", "likes", "reposts", "replies", "quotes", "created_at"))
