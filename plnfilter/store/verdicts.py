"""Each filter's verdicts on the archive's posts, and the filters an archive knows (schema.m007).

A filter is known by its `name:`. Its verdict on a post is current when it was judged no earlier than
the post was last seen (saved or refreshed) and under the rules the filter has now (`rules_hash`);
`stale_batch` finds the others, so a run or apply judges only those.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plnfilter.errors import UsageError
from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.filters import choose_filter, filter_names, forget_filter_voices, save_filter_voices
from plnfilter.store.read import SCAN_COLUMNS
from plnfilter.store.rows import clean_text, dump_list
from plnfilter.store.transaction import write_transaction

if TYPE_CHECKING:
    import sqlite_utils

    from plnfilter.post import Post

    Db = sqlite_utils.Database | sqlite3.Connection

DEFAULT_FILTER = "default"
"""The filter name verdicts are stored under when a caller names none (library use, tests)."""

_UPSERT_SQL = (
    'INSERT INTO verdicts ("filter", post_id, kept, score, matched, dropped_by, judged_at) '
    "SELECT ?, id, ?, ?, ?, ?, ? FROM posts WHERE uri = ? "
    'ON CONFLICT("filter", post_id) DO UPDATE SET kept = excluded.kept, score = excluded.score, '
    "matched = excluded.matched, dropped_by = excluded.dropped_by, judged_at = excluded.judged_at"
)
_ENSURE_FILTER_SQL = "INSERT OR IGNORE INTO filters (name, file) VALUES (?, '')"


def verdict_rows(name: str, items: Iterable[Any], now: str) -> list[tuple[Any, ...]]:
    """The parameters of `_UPSERT_SQL` for judged items (`.post .kept .score .matched .dropped_by`)."""
    filter_name = clean_text(name)
    return [
        (
            filter_name,
            1 if item.kept else 0,
            float(item.score),
            dump_list(item.matched),
            clean_text(getattr(item, "dropped_by", "") or "") or None,
            now,
            clean_text(item.post.uri),
        )
        for item in items
    ]


def ensure_filter(db: Db, name: str) -> None:
    """The filter `name` has a row in `filters` (its file unknown until a run claims it)."""
    as_connection(db).execute(_ENSURE_FILTER_SQL, [clean_text(name)])


def write_verdicts(db: Db, name: str, items: Iterable[Any], now: str) -> int:
    """Store one filter's verdicts on archived posts (inside the caller's transaction); return how many."""
    rows = verdict_rows(name, items, now)
    conn = as_connection(db)
    ensure_filter(conn, name)
    if not rows:
        return 0
    return conn.executemany(_UPSERT_SQL, rows).rowcount


_ROWS_PER_STATEMENT = 100  # rows per multi-row upsert (7 parameters each, within SQLite's limit)


def _upsert_by_id_sql(count: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)
    return (
        'INSERT INTO verdicts ("filter", post_id, kept, score, matched, dropped_by, judged_at) '  # noqa: S608
        f"VALUES {values} "
        'ON CONFLICT("filter", post_id) DO UPDATE SET kept = excluded.kept, score = excluded.score, '
        "matched = excluded.matched, dropped_by = excluded.dropped_by, judged_at = excluded.judged_at"
    )


def write_verdicts_by_id(db: Db, name: str, pairs: list[tuple[int, Any]], now: str) -> int:
    """`write_verdicts` for items whose post ids are known: (post id, judged item) pairs, a hundred
    rows per statement (the writer's hot path: every saved page and every judged batch)."""
    conn = as_connection(db)
    filter_name = clean_text(name)
    ensure_filter(conn, filter_name)
    for start in range(0, len(pairs), _ROWS_PER_STATEMENT):
        chunk = pairs[start : start + _ROWS_PER_STATEMENT]
        params: list[Any] = []
        for post_id, item in chunk:
            params += (
                filter_name,
                int(post_id),
                1 if item.kept else 0,
                float(item.score),
                dump_list(item.matched),
                clean_text(getattr(item, "dropped_by", "") or "") or None,
                now,
            )
        conn.execute(_upsert_by_id_sql(len(chunk)), params)
    return len(pairs)


def existing_ids(db: Db, ids: list[int]) -> set[int]:
    """Those of `ids` that are still posts of the archive."""
    conn = as_connection(db)
    with db_errors(conn):
        return {
            row[0]
            for row in conn.execute(
                "SELECT id FROM posts WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
            )
        }


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return path


def claim_filter(db: Db, name: str, path: str, voices: dict[str, Any] | None = None) -> None:
    """Record that the filter file at `path` is the filter `name`, with its `voices:` groups (kept in
    `settings`, see `store.settings.filter_voices`); refuse a name another file holds.

    A name whose recorded file no longer exists (moved or renamed) passes to the new file.
    """
    conn = as_connection(db)
    name, path = clean_text(name), clean_text(_resolved(path))
    with db_errors(conn), write_transaction(db):
        row = conn.execute("SELECT file FROM filters WHERE name = ?", [name]).fetchone()
        if row and row[0] and row[0] != path and Path(row[0]).exists():
            raise UsageError(
                f"filter name {name!r} is already used in this archive by {row[0]}; {path} claims it too",
                f"give {path} another `name:` (each filter keeps its own verdicts), or run "
                f"`plnfilter filters forget {name}` if {row[0]} is no longer used",
            )
        conn.execute(
            "INSERT INTO filters (name, file) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET file = excluded.file",
            [name, path],
        )
        if voices is not None:
            save_filter_voices(conn, name, voices)


def rules_hash(db: Db, name: str) -> str | None:
    row = (
        as_connection(db)
        .execute("SELECT rules_hash FROM filters WHERE name = ?", [clean_text(name)])
        .fetchone()
    )
    return row[0] if row else None


def begin_judging(db: Db, name: str, digest: str) -> bool:
    """The filter judges under the rules hashed as `digest` from now on: when they differ from the
    last ones, its stored verdicts all become stale (so a run killed halfway still re-judges them
    next time). Returns whether they differed."""
    conn = as_connection(db)
    name = clean_text(name)
    with db_errors(conn), write_transaction(db):
        row = conn.execute("SELECT rules_hash FROM filters WHERE name = ?", [name]).fetchone()
        if row is not None and row[0] == digest:
            return False
        conn.execute("UPDATE verdicts SET judged_at = '' WHERE \"filter\" = ?", [name])
        conn.execute("UPDATE filters SET rules_hash = ? WHERE name = ?", [digest, name])
    return True


def finish_judging(db: Db, name: str, now: str) -> None:
    """Every post now has this filter's current verdict."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        conn.execute("UPDATE filters SET last_run = ? WHERE name = ?", [now, clean_text(name)])


def stale_batch(
    db: Db, name: str, after: int, limit: int, everything: bool = False
) -> list[tuple[int, Post]]:
    """Up to `limit` posts with an id above `after` (without `raw`) lacking this filter's current
    verdict, by id, each with its id; all posts with `everything`."""
    from plnfilter.store.rows import row_to_post

    columns = "posts.id, " + ", ".join("posts." + c for c in SCAN_COLUMNS)
    if everything:
        sql = f"SELECT {columns} FROM posts WHERE posts.id > ? ORDER BY posts.id LIMIT ?"  # noqa: S608
        params: list[Any] = [int(after), int(limit)]
    else:
        sql = (
            f"SELECT {columns} FROM posts LEFT JOIN verdicts ON verdicts.post_id = posts.id "  # noqa: S608
            'AND verdicts."filter" = ? WHERE posts.id > ? '
            "AND (verdicts.post_id IS NULL OR verdicts.judged_at < posts.last_seen) ORDER BY posts.id LIMIT ?"
        )
        params = [clean_text(name), int(after), int(limit)]
    conn = as_connection(db)
    with db_errors(conn):
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return [(row[0], row_to_post(dict(zip(names, row, strict=True)))) for row in rows]


def kept_count(db: Db, name: str) -> int:
    conn = as_connection(db)
    with db_errors(conn):
        row = conn.execute(
            'SELECT count(*) FROM verdicts WHERE "filter" = ? AND kept = 1', [clean_text(name)]
        ).fetchone()
    return int(row[0])


def list_filters(db: Db) -> list[dict[str, Any]]:
    """Every filter with verdicts or a run in the archive: name, file, last run, kept and dropped counts."""
    conn = as_connection(db)
    with db_errors(conn):
        cursor = conn.execute(
            "SELECT f.name, f.file, f.last_run, "
            '(SELECT count(*) FROM verdicts v WHERE v."filter" = f.name AND v.kept = 1) AS kept, '
            '(SELECT count(*) FROM verdicts v WHERE v."filter" = f.name AND v.kept = 0) AS dropped '
            "FROM filters f ORDER BY f.name"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]


def forget_filter(db: Db, name: str) -> int:
    """Delete a filter's verdicts and its entry; return how many verdicts went. Call holding the
    filter's run lock (plnfilter/locks.py): a run of it would write verdicts again."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        gone = conn.execute('DELETE FROM verdicts WHERE "filter" = ?', [clean_text(name)]).rowcount
        conn.execute("DELETE FROM filters WHERE name = ?", [clean_text(name)])
        forget_filter_voices(conn, clean_text(name))
    return gone


def dropped_counts(items: Iterable[Any]) -> dict[str, int]:
    """How many posts each exclude rule removed, most first."""
    counts: dict[str, int] = {}
    for item in items:
        rule = getattr(item, "dropped_by", "")
        if rule and not item.kept:
            counts[rule] = counts.get(rule, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def dump_counts(counts: dict[str, int]) -> str:
    return json.dumps(counts, ensure_ascii=False)


__all__ = [
    "DEFAULT_FILTER",
    "begin_judging",
    "choose_filter",
    "claim_filter",
    "ensure_filter",
    "filter_names",
    "finish_judging",
    "forget_filter",
    "kept_count",
    "list_filters",
    "stale_batch",
    "write_verdicts",
    "write_verdicts_by_id",
]
