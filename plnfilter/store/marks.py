"""The moments a digest window can start from: the last successful run of a filter, the last digest
marked read (kept in the `settings` table of m006 as `last_read:<filter name>`), the newest post."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from plnfilter.store.archive import db_errors, open_archive
from plnfilter.times import to_iso

LAST_READ = "last_read:"


def last_run_started(conn: sqlite3.Connection, filter_file: str | None) -> str | None:
    """When the last run with status 'ok' of `filter_file` (a resolved path; None: any filter) started."""
    sql = "SELECT max(started) FROM runs WHERE status = 'ok'"
    params: list[str] = []
    if filter_file is not None:
        sql += " AND filter_file = ?"
        params.append(filter_file)
    with db_errors(conn):
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def last_read(conn: sqlite3.Connection, name: str) -> str | None:
    """When the last digest of filter `name` made with --mark-read was made, or None."""
    with db_errors(conn):
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'"
        ).fetchone():
            return None
        row = conn.execute("SELECT value FROM settings WHERE key = ?", [LAST_READ + name]).fetchone()
    return row[0] if row else None


def mark_read(path: str | Path, name: str, when: datetime) -> None:
    """Record that the digest of filter `name` was read at `when` (opens the archive to write, once)."""
    from plnfilter.store.transaction import write_transaction  # the one writer here: readers never load it

    db = open_archive(path)
    try:
        with db_errors(db.conn), write_transaction(db):
            db.conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [LAST_READ + name, to_iso(when)],
            )
    finally:
        db.conn.close()


def newest_kept(
    conn: sqlite3.Connection, until: datetime | None = None, filter_name: str | None = None
) -> str | None:
    """The `created_at` of the newest post the filter `filter_name` kept (any filter's when None;
    created before `until` when given), or None."""
    # Newest first through the time index, stopping at the first kept one (max() would read every post).
    sql = (
        "SELECT posts.created_at FROM posts WHERE posts.created_at IS NOT NULL AND EXISTS (SELECT 1 FROM verdicts "
        "WHERE verdicts.post_id = posts.id AND verdicts.kept = 1"
    )
    params: list[str] = []
    if filter_name is not None:
        sql += ' AND verdicts."filter" = ?'
        params.append(filter_name)
    sql += ")"
    if until is not None:
        sql += " AND posts.created_at < ?"
        params.append(to_iso(until))
    sql += " ORDER BY posts.created_at DESC LIMIT 1"
    with db_errors(conn):
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None
