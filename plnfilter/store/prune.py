"""Retention: removing posts older than a cut-off with everything stored about them, in batches.

A post is old when it was created before the cut-off (one the server gave no date: first seen
before it). An old post is removable when no filter the archive knows keeps it and every one of
them has judged it as it is now (a verdict no older than its `last_seen`, under the current rules):
a filter that has not judged a post yet might keep it. `everything` removes every old post.

Each batch is one write transaction that checks its posts again before removing them with their
verdicts, findings (`post_sources`) and raw objects; the full-text indexes follow through the
posts' delete trigger (schema.m007). Cursors (`sources`) and runs are never touched, so a later
catch-up neither re-fetches nor skips anything. A kill between batches leaves a consistent archive.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.transaction import write_transaction, writing

if TYPE_CHECKING:
    import sqlite_utils

    Db = sqlite_utils.Database | sqlite3.Connection

_SEPARATOR = "\x1f"
# The verdicts are keyed by (filter, post id): each lookup names the filter, from `filters` (left to
# itself, the planner would scan the partial index of kept verdicts for every post).
_KEPT = (
    "EXISTS (SELECT 1 FROM filters f WHERE (SELECT v.kept FROM verdicts v "
    'WHERE v."filter" = f.name AND v.post_id = posts.id) = 1)'
)
_BEHIND = (
    "(SELECT group_concat(f.name, char(31)) FROM filters f WHERE NOT EXISTS (SELECT 1 FROM verdicts v "
    'WHERE v."filter" = f.name AND v.post_id = posts.id AND v.judged_at >= posts.last_seen))'
)
# Old posts, in two parts so each walks the created_at index: dated ones, then those without a date.
_OLD_PARTS = (
    "posts.created_at > '' AND posts.created_at < ?",
    "(posts.created_at IS NULL OR posts.created_at = '') AND posts.first_seen < ?",
)
_CANDIDATES_SQL = " UNION ALL ".join(
    f"SELECT posts.id, {_KEPT}, {_BEHIND} FROM posts WHERE {part}"  # noqa: S608 (constants only)
    for part in _OLD_PARTS
)
_IDS = "(SELECT value FROM json_each(?))"
_STILL_REMOVABLE_SQL = (
    f"SELECT posts.id FROM posts WHERE posts.id IN {_IDS} AND NOT {_KEPT} AND {_BEHIND} IS NULL"  # noqa: S608
)
_STILL_THERE_SQL = f"SELECT posts.id FROM posts WHERE posts.id IN {_IDS}"  # noqa: S608
_DELETE_VERDICTS_SQL = (
    'DELETE FROM verdicts WHERE ("filter", post_id) IN '
    "(SELECT f.name, j.value FROM filters f, json_each(?) j)"
)
# post_sources is indexed by (source, post_id): each delete names the timelines.
_DELETE_FINDINGS_SQL = (
    "DELETE FROM post_sources WHERE (source, post_id) IN "
    "(SELECT s.value, j.value FROM json_each(?) s, json_each(?) j)"
)
_DELETE_RAW_SQL = f"DELETE FROM post_raw WHERE post_id IN {_IDS}"  # noqa: S608
_DELETE_POSTS_SQL = f"DELETE FROM posts WHERE id IN {_IDS}"  # noqa: S608
_FINDING_SOURCES_SQL = "SELECT DISTINCT source FROM post_sources"
_SOURCE_NAMES_SQL = "SELECT name FROM sources"


@dataclass
class Candidates:
    """The old posts of an archive: those to remove, and why the others stay."""

    removable: list[int] = field(default_factory=list)
    kept: int = 0  # old posts a filter keeps
    behind: dict[str, int] = field(default_factory=dict)  # filter -> old posts it has not judged as they are


@dataclass
class Removed:
    posts: int = 0
    findings: int = 0
    raw: int = 0
    verdicts: int = 0

    def add(self, other: Removed) -> None:
        self.posts += other.posts
        self.findings += other.findings
        self.raw += other.raw
        self.verdicts += other.verdicts


def knows_filters(db: Db) -> bool:
    """Whether the archive has per-filter verdicts (schema m009): one opened read-only may not yet."""
    conn = as_connection(db)
    with db_errors(conn):
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'filters'"
        return conn.execute(sql).fetchone() is not None


def old_posts(db: Db, before: str, everything: bool = False) -> Candidates:
    """Every post older than `before` (an ISO time), sorted into removable and staying ones."""
    conn = as_connection(db)
    found = Candidates()
    with db_errors(conn):
        for post_id, kept, behind in conn.execute(_CANDIDATES_SQL, [before, before]):
            if everything:
                found.removable.append(post_id)
            elif kept:
                found.kept += 1
            elif behind:
                for name in behind.split(_SEPARATOR):
                    found.behind[name] = found.behind.get(name, 0) + 1
            else:
                found.removable.append(post_id)
    found.removable.sort()
    return found


def finding_sources(db: Db) -> list[str]:
    """The timeline names findings are stored under (read once per prune; new ones come from `sources`)."""
    conn = as_connection(db)
    with db_errors(conn):
        return [row[0] for row in conn.execute(_FINDING_SOURCES_SQL)]


def remove_posts(db: Db, ids: list[int], sources: list[str], everything: bool = False) -> Removed:
    """Remove these posts in one transaction, each only if it is still removable (a run may have
    kept it meanwhile), with its verdicts, findings and raw object."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(conn):
        wanted = json.dumps(ids)
        check = _STILL_THERE_SQL if everything else _STILL_REMOVABLE_SQL
        gone = [row[0] for row in conn.execute(check, [wanted])]
        if not gone:
            return Removed()
        chosen = json.dumps(gone)
        names = set(sources) | {row[0] for row in conn.execute(_SOURCE_NAMES_SQL)}
        removed = Removed(
            verdicts=conn.execute(_DELETE_VERDICTS_SQL, [chosen]).rowcount,
            findings=conn.execute(_DELETE_FINDINGS_SQL, [json.dumps(sorted(names)), chosen]).rowcount,
            raw=conn.execute(_DELETE_RAW_SQL, [chosen]).rowcount,
        )
        removed.posts = conn.execute(_DELETE_POSTS_SQL, [chosen]).rowcount
    return removed


def batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def archive_bytes(path: str) -> int:
    """The archive's size on disk: the file and its write-ahead log."""
    total = 0
    for name in (path, path + "-wal"):
        try:
            total += os.path.getsize(name)
        except OSError:
            pass
    return total


def compact(db: Db) -> None:
    """Reclaim the space removed posts left: merge the full-text indexes, rebuild the file (VACUUM,
    which writes a copy of the archive through a temporary file and the WAL), and fold the WAL back.

    Needs free disk of about twice the archive's size; holds the archive's write lock throughout
    (ArchiveLocked when another writer keeps it past the connection's wait)."""
    conn = as_connection(db)
    with db_errors(conn), writing(conn):
        with write_transaction(conn):
            for table in ("posts_fts", "posts_search"):
                conn.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")  # noqa: S608
        conn.execute("PRAGMA temp_store = FILE")  # the copy on disk, not in memory
        try:
            conn.execute("VACUUM")
        finally:
            conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
