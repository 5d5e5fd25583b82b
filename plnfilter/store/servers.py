"""What the archive has learnt about a server's API (e.g. a Mastodon-API server without the multi-get),
so a run does not ask in vain every time and says so once; kept per server and looked at again later."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import clean_text

if TYPE_CHECKING:
    import sqlite_utils

    Db = sqlite_utils.Database | sqlite3.Connection


def quirks_of(db: Db, server: str) -> dict[str, str]:
    """Every quirk seen on `server`, with when it was last seen (ISO time)."""
    conn = as_connection(db)
    with db_errors(conn):
        rows = conn.execute(
            'SELECT "quirk", "noted_at" FROM "server_quirks" WHERE "server" = ?', [clean_text(server)]
        ).fetchall()
    return {quirk: noted_at for quirk, noted_at in rows}


def note_quirk(db: Db, server: str, quirk: str, now: str) -> None:
    """Record (or re-date) `quirk` on `server`; the caller holds the write transaction."""
    as_connection(db).execute(
        'INSERT INTO "server_quirks" ("server", "quirk", "noted_at") VALUES (?, ?, ?) '
        'ON CONFLICT ("server", "quirk") DO UPDATE SET "noted_at" = excluded."noted_at"',
        [clean_text(server), quirk, now],
    )


def forget_quirk(db: Db, server: str, quirk: str) -> None:
    """The server no longer shows `quirk` (it was upgraded); the caller holds the write transaction."""
    as_connection(db).execute(
        'DELETE FROM "server_quirks" WHERE "server" = ? AND "quirk" = ?', [clean_text(server), quirk]
    )
