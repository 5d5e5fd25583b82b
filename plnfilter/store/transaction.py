"""One write transaction, taken with BEGIN IMMEDIATE so a busy archive waits instead of deadlocking."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

_SAVEPOINTS = itertools.count(1)  # unique savepoint names without importing `secrets` (~10 ms)


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
