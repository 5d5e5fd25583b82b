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
    keys_of: Callable[[Any, Any], str],
    person_of: Callable[[Any, Any, Any], str],
    score_of: Callable[..., float],
    min_sharers: int = 1,
) -> Iterator[LinkGroup]:
    """Every link of the window's posts that the filter kept, by distinct sharers, then best score,
    then last shared (all descending; the caller breaks the remaining ties).

    `keys_of(links, card_url)`: a JSON list of the post's link keys, from its stored `links` and
    `card_url`; `person_of(author, author_id, uri)`: who shared it; `score_of(network, likes,
    reposts, replies, quotes, created_at)`: its score. Read as the caller goes on.
    """
    source, where, params = window_sql(conn, since, until, True, filter_name, False, seen_since, True)
    conn.create_function("plnfilter_link_keys", 2, keys_of, deterministic=True)
    conn.create_function("plnfilter_sharer", 3, person_of, deterministic=True)
    conn.create_function(_SCORE, 6, score_of, deterministic=True)
    # The window through the posts' time index (window_sql), each post's links as rows, grouped.
    # Not MATERIALIZED: each post's sharer and score are worked out again for each of its links,
    # but one temporary table fewer holds the window (~2 MB at 100k posts).
    sql = (
        "SELECT link.value, count(DISTINCT shared.person), max(shared.score), max(shared.created_at), "  # noqa: S608
        "json_group_array(shared.id) FROM (SELECT posts.id AS id, "
        "plnfilter_sharer(posts.author, posts.author_id, posts.uri) AS person, "
        f"{_SCORE}({_SCORED}) AS score, coalesce(posts.created_at, '') AS created_at, "
        f"plnfilter_link_keys(posts.links, posts.card_url) AS keys FROM {source} WHERE {where}) AS shared, "
        "json_each(shared.keys) AS link "
        "GROUP BY link.value HAVING count(DISTINCT shared.person) >= ? ORDER BY 2 DESC, 3 DESC, 4 DESC"
    )
    with db_errors(conn):
        cursor = conn.execute(sql, [*params, int(min_sharers)])
        for key, sharers, best, last, ids in cursor:
            yield key, int(sharers), float(best), last, json.loads(ids)


def posts_best_first(
    conn: sqlite3.Connection, ids: list[int], columns: tuple[str, ...], score_of: Callable[..., float]
) -> Iterator[tuple[Any, ...]]:
    """`columns` of the posts with these ids and each one's `score_of` (as `link_groups` takes it)
    last, best score first, then newest, then by uri; sorted by SQLite, read as the caller goes on."""
    unknown = [c for c in columns if c not in SCAN_COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}")
    conn.create_function(_SCORE, 6, score_of, deterministic=True)
    names = ", ".join("posts." + c for c in columns)
    sql = (
        f"SELECT {names}, {_SCORE}({_SCORED}) AS score FROM posts "  # noqa: S608
        "WHERE posts.id IN (SELECT value FROM json_each(?)) "
        "ORDER BY score DESC, coalesce(posts.created_at, '') DESC, posts.uri"
    )
    with db_errors(conn):
        yield from conn.execute(sql, [json.dumps([int(i) for i in ids])])


_SCORE = "plnfilter_link_score"
_SCORED = "posts.network, posts.likes, posts.reposts, posts.replies, posts.quotes, posts.created_at"
