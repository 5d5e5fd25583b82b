"""One write transaction, taken with BEGIN IMMEDIATE so a busy archive waits instead of deadlocking,
and holding the archive's write lock (plnfilter/locks.py) when the connection carries one."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

_SAVEPOINTS = itertools.count(1)  # unique savepoint names without importing `secrets` (~10 ms)


class LockedConnection(sqlite3.Connection):
    """A connection whose outermost write transactions hold `write_lock()` (set by open_archive)."""

    write_lock: Callable[[], AbstractContextManager[None]] | None = None


def writing(db: sqlite_utils.Database | sqlite3.Connection) -> AbstractContextManager[None]:
    """The archive's write lock, held for a block of writes that is not one transaction (VACUUM)."""
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    lock = getattr(conn, "write_lock", None)
    return lock() if lock is not None else nullcontext()


@contextmanager
def write_transaction(db: sqlite_utils.Database | sqlite3.Connection) -> Iterator[None]:
    """Commit everything in the block or nothing; nested blocks become savepoints."""
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if conn.in_transaction:
        name = f"pln_{next(_SAVEPOINTS)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    with writing(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
