"""Young archived posts whose counts a run re-fetches, and the counts it brings back.

A refresh never inserts a post, adds no `post_sources` finding (it found nothing new: the post's
sources stay the timelines that found it) and touches no cursor. It updates the four counts,
`last_seen`, and the running filter's verdict and score judged from the new counts; `first_seen`, `raw` (what the
timeline said, kept as received) and everything else stay as they were.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from plnfilter.post import Post
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.read import iter_posts
from plnfilter.store.rows import clean_text, unpack_raw
from plnfilter.store.transaction import write_transaction
from plnfilter.store.verdicts import DEFAULT_FILTER, write_verdicts

if TYPE_CHECKING:
    import sqlite_utils

    Db = sqlite_utils.Database | sqlite3.Connection

# Driven from post_sources (indexed by source): only the findings of the timelines being refreshed
# are read, never the whole archive. `windows` is a JSON object {timeline name: oldest first_seen}.
# The local id is the boosted original's for a Mastodon boost (the raw object is the wrapper).
_CANDIDATES_SQL = (
    "SELECT p.uri, (SELECT raw FROM post_raw WHERE post_raw.post_id = p.id) "
    "FROM posts p WHERE p.uri IN ("
    "SELECT ps.uri FROM json_each(?) w JOIN post_sources ps ON ps.source = w.key AND ps.first_seen >= w.value"
    ") AND p.network = ? AND p.uri NOT IN (SELECT value FROM json_each(?)) "
    "ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
)
_UPDATE_SQL = "UPDATE posts SET likes = ?, reposts = ?, replies = ?, quotes = ?, last_seen = ? WHERE uri = ?"


class Candidate(NamedTuple):
    """An archived post to refresh: its uri and, on Mastodon, the status id its raw object carries."""

    uri: str
    local_id: str


def refresh_candidates(
    db: Db, network: str, windows: Mapping[str, str], fetched: Iterable[str], limit: int
) -> list[Candidate]:
    """Posts of `network` first found by one of `windows`' timelines since its cutoff, newest first.

    Posts in `fetched` (this run's: their counts are fresh) are left out; at most `limit` are returned.
    """
    if not windows or limit <= 0:
        return []
    conn = as_connection(db)
    with db_errors(conn):
        rows = conn.execute(
            _CANDIDATES_SQL,
            [
                json.dumps({clean_text(k): v for k, v in windows.items()}),
                network,
                json.dumps([clean_text(uri) for uri in fetched]),
                int(limit),
            ],
        ).fetchall()
    found = []
    for uri, blob in rows:
        raw = unpack_raw(blob)
        original = raw["reblog"] if isinstance(raw.get("reblog"), dict) else raw
        local_id = original.get("id", raw.get("id"))
        found.append(Candidate(uri, "" if local_id is None else str(local_id)))
    return found


def stored_posts(db: Db, uris: Iterable[str]) -> dict[str, Post]:
    """The archived Posts with these uris (the ones still there), keyed by uri."""
    wanted = [clean_text(uri) for uri in uris]
    if not wanted:
        return {}
    posts = iter_posts(as_connection(db), "uri IN (SELECT value FROM json_each(?))", [json.dumps(wanted)])
    return {post.uri: post for post in posts}


def save_refreshed(db: Db, judged: Iterable[Any], now: str, filter_name: str = DEFAULT_FILTER) -> int:
    """Store re-fetched counts with `filter_name`'s verdict and score judged from them; return the
    rows updated. Other filters' verdicts on these posts become stale (judged before `last_seen`).

    `judged` items need `.post .kept .score .matched` (see `store.Judged`).
    """
    judged = list(judged)
    rows = [
        (
            int(item.post.likes or 0),
            int(item.post.reposts or 0),
            int(item.post.replies or 0),
            int(item.post.quotes or 0),
            now,
            clean_text(item.post.uri),
        )
        for item in judged
    ]
    if not rows:
        return 0
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        cursor = conn.executemany(_UPDATE_SQL, rows)
        updated = cursor.rowcount
        write_verdicts(conn, filter_name, judged, now)
    return updated
