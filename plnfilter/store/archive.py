"""Opening the archive: read-write for runs (migrated, WAL) and strictly read-only for queries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from plnfilter.errors import ArchiveError, ArchiveLocked

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 5000

_READ_ONLY_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "database_list",
        "collation_list",
        "function_list",
        "module_list",
        "pragma_list",
        "compile_options",
        "data_version",
    }
)
_SETTABLE_PRAGMAS_READ = frozenset(
    {
        "user_version",
        "schema_version",
        "page_count",
        "page_size",
        "freelist_count",
        "encoding",
        "journal_mode",
    }
)


def _translate(error: sqlite3.Error, path: str) -> ArchiveError:
    """Turn SQLite's terse errors into a message with a next step."""
    text = str(error)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return ArchiveLocked(
            f"archive {path} is busy: another plnfilter is writing to it",
            "wait for the other run to finish, then try again",
        )
    if "readonly" in lowered or "read-only" in lowered:
        return ArchiveError(
            f"archive {path} is read-only",
            "check the file's and directory's permissions, or choose another --db",
        )
    if "disk is full" in lowered or "disk full" in lowered:
        return ArchiveError(
            f"disk full while writing archive {path}",
            "free some space and run again; the last page was not saved",
        )
    if "not a database" in lowered or "file is encrypted" in lowered:
        return ArchiveError(
            f"{path} is not a SQLite database",
            "check --db / PLNFILTER_DB, or move the file aside to start a new archive",
        )
    if "malformed" in lowered or "corrupt" in lowered:
        return ArchiveError(
            f"archive {path} is corrupt ({text})", f"restore a backup, or try `sqlite3 {path} .recover`"
        )
    if "unable to open" in lowered:
        return ArchiveError(
            f"cannot open archive {path}",
            "check that its directory exists and is writable, or choose another --db",
        )
    return ArchiveError(f"archive {path}: {text}", "check the file, or choose another --db")


@contextmanager
def archive_errors(path: str | Path) -> Iterator[None]:
    """Re-raise sqlite3 errors as ArchiveError (or ArchiveLocked) naming the archive."""
    try:
        yield
    except sqlite3.Error as error:
        raise _translate(error, str(path)) from error


WRITER_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    # An 8 MB page cache: a saved post lands on a random page of each of six indexes (posts_uri,
    # posts_by_author, m012's tallies by author), ~38 MB of them at 100k posts, so past ~10k posts no
    # cache of a size memory can afford keeps them, and a larger one only grows the writer with the
    # archive (ingest peak 80 MB at 10k, 102 at 100k with 32 MB; 63 and 78 with 8 MB; the same CPU).
    # `apply`, which reads every post once, needs no more either.
    # Checkpoint (two fsyncs, and FTS pages written back) every ~160 MB of WAL rather than every
    # 40 MB (ingest ~10% faster); the WAL file is cut back to 64 MB after.
    "PRAGMA cache_size = -8192",
    "PRAGMA wal_autocheckpoint = 40000",
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA temp_store = MEMORY",  # FTS merges and sorts: no temp files on disk
)
"""The writer's settings after WAL (the ingest benchmark gives its baseline the same)."""


def open_archive(path: str | Path, lock_wait: float = 60.0) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the archive for writing; WAL so readers never wait.

    Every write transaction on it holds the archive's write lock (plnfilter/locks.py), waiting at
    most `lock_wait` seconds for it (then ArchiveLocked); so does creating or migrating the archive."""
    import sqlite_utils  # here, not at import: it costs ~0.1 s that read-only commands never need

    from plnfilter.store.transaction import LockedConnection, writing

    memory = str(path) == ":memory:"
    if not memory:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ArchiveError(
                f"cannot create the directory for archive {path}: {error.strerror}", "choose another --db"
            ) from error
    with archive_errors(path):
        conn = sqlite3.connect(
            ":memory:" if memory else str(path), timeout=BUSY_TIMEOUT_MS / 1000, factory=LockedConnection
        )
        try:
            if not memory:
                from plnfilter.locks import write_lock

                conn.write_lock = write_lock(path, lock_wait)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db = sqlite_utils.Database(conn)
            for pragma in WRITER_PRAGMAS:
                conn.execute(pragma)
            from plnfilter.store.schema import migrate, pending  # writers only: readers never load them

            wal = memory or conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            if not wal or pending(db):  # two processes opening an old archive at once take turns
                with writing(conn):
                    if not memory:
                        db.enable_wal()
                    migrate(db)
        except BaseException:
            conn.close()
            raise
    return db


def _deny_writes(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    """SQLite authorizer for the query connection: reading is allowed, nothing else."""
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
        # FTS5's constructor asks for this while declaring its table; mode=ro and query_only still
        # make any real write to the schema fail.
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() == "load_extension" else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _READ_ONLY_PRAGMAS or (name in _SETTABLE_PRAGMAS_READ and arg2 is None):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def require_archive(path: str | Path) -> Path:
    """The archive's path, or ArchiveError when there is no file there: commands that only read or
    re-judge the archive refuse to create an empty one from a mistyped --db."""
    path = Path(path)
    if not path.exists():
        raise ArchiveError(f"no archive at {path}", "run `plnfilter run FILTER` first")
    return path


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A connection that cannot write: opened `mode=ro`, `query_only`, and an authorizer denying writes."""
    path = require_archive(path)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    with archive_errors(path):
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = ON")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except BaseException:
            conn.close()
            raise
    if "posts" not in tables:
        conn.close()
        raise ArchiveError(
            f"{path} is not a plnfilter archive (it has no posts table)", "check --db / PLNFILTER_DB"
        )
    conn.set_authorizer(_deny_writes)
    return conn


def as_connection(db: sqlite_utils.Database | sqlite3.Connection) -> sqlite3.Connection:
    """Store functions take either the sqlite-utils Database or a plain connection."""
    return db if isinstance(db, sqlite3.Connection) else db.conn


def archive_path(db: sqlite_utils.Database | sqlite3.Connection) -> str:
    """The file behind a connection, for error messages (':memory:' for an in-memory archive)."""
    try:
        for _seq, name, file in as_connection(db).execute("PRAGMA database_list"):
            if name == "main":
                return file or ":memory:"
    except sqlite3.Error:
        pass
    return "the archive"


@contextmanager
def db_errors(db: sqlite_utils.Database | sqlite3.Connection) -> Iterator[None]:
    """Like `archive_errors`, finding the path from the connection only when something failed."""
    try:
        yield
    except sqlite3.Error as error:
        raise _translate(error, archive_path(db)) from error
