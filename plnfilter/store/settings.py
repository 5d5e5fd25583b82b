"""What an archive keeps about itself (the `settings` table of migration m006): its own id."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from plnfilter.store.archive import db_errors, open_archive


def archive_id(conn: sqlite3.Connection) -> str | None:
    """The id the archive was given once (a UUID), or None when it predates the settings table."""
    with db_errors(conn):
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'"
        ).fetchone():
            return None
        row = conn.execute("SELECT value FROM settings WHERE key = 'archive_id'").fetchone()
    return row[0] if row else None


def ensure_archive_id(path: str | Path) -> str:
    """The archive's id, migrating an archive written before it had one (this writes to it, once)."""
    db = open_archive(path)
    try:
        found = archive_id(db.conn)
    finally:
        db.conn.close()
    if found is None:  # pragma: no cover - m006 always inserts it
        raise RuntimeError(f"archive {path} has no id after migrating")
    return found
