"""Per-source cursors and errors, and the history of runs (`plnfilter sources`, `plnfilter runs`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.store.archive import as_connection, db_errors
from plnfilter.store.rows import clean_text
from plnfilter.store.transaction import write_transaction
from plnfilter.times import to_iso

if TYPE_CHECKING:
    import sqlite_utils

    Db = sqlite_utils.Database | sqlite3.Connection


def _iso(now: datetime | str) -> str:
    return now if isinstance(now, str) else to_iso(now)


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def get_cursor(db: Db, name: str) -> str | None:
    """The cursor saved with the last page of this timeline, or None before its first page."""
    conn = as_connection(db)
    with db_errors(conn):
        row = conn.execute("SELECT cursor FROM sources WHERE name = ?", [clean_text(name)]).fetchone()
    return row[0] if row else None


STREAM_POSITION = "stream_position:"  # settings key prefix + timeline name


def get_stream_position(db: Db, name: str) -> str | None:
    """Where a timeline's live stream resumes (Bluesky's `time_us` or `seq`), or None."""
    conn = as_connection(db)
    with db_errors(conn):
        row = conn.execute(
            "SELECT value FROM settings WHERE key = ?", [STREAM_POSITION + clean_text(name)]
        ).fetchone()
    return row[0] if row else None


def set_stream_position(db: Db, name: str, position: str) -> None:
    """Remember where a timeline's live stream resumes; the REST cursor is not touched."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(conn):
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [STREAM_POSITION + clean_text(name), clean_text(str(position))],
        )


def record_source_error(
    db: Db, name: str, network: str, spec: str, message: str, now: datetime | str
) -> None:
    """Remember why a source failed this run; its cursor stays where its last saved page left it."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(conn):
        conn.execute(
            "INSERT INTO sources (name, network, spec, cursor, last_run, last_error) VALUES (?, ?, ?, NULL, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET network = excluded.network, spec = excluded.spec, "
            "last_run = excluded.last_run, last_error = excluded.last_error",
            [clean_text(name), clean_text(network), clean_text(spec), _iso(now), clean_text(message)],
        )


def start_run(
    db: Db,
    filter_file: str,
    now: datetime | str,
    filter_name: str | None = None,
    status: str = "running",
    per_source: Mapping[str, Any] | None = None,
) -> int:
    """Record that a run of the filter `filter_name` began (status 'running', or 'watching' for a
    `watch` session, until `finish_run`); return its id."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        cursor = conn.execute(
            'INSERT INTO runs (started, filter_file, fetched, new, kept, errors, status, per_source, "filter", '
            "dropped_by) VALUES (?, ?, 0, 0, 0, '[]', ?, ?, ?, '{}')",
            [
                _iso(now),
                clean_text(str(filter_file)),
                status,
                json.dumps(per_source or {}, ensure_ascii=True, default=str),
                clean_text(filter_name) if filter_name is not None else None,
            ],
        )
    return int(cursor.lastrowid)


def open_sessions(db: Db) -> list[dict[str, Any]]:
    """`watch` sessions still marked 'watching', with `per_source` decoded (it names their process)."""
    conn = as_connection(db)
    with db_errors(conn):
        rows = _dicts(conn.execute("SELECT id, per_source FROM runs WHERE status = 'watching'"))
    for row in rows:
        row["per_source"] = _load(row["per_source"], {})
    return rows


def close_sessions(db: Db, ids: Sequence[int], now: datetime | str) -> None:
    """Mark these `watch` sessions 'interrupted': their process is gone (killed, or the machine stopped)."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        conn.executemany(
            "UPDATE runs SET status = 'interrupted', finished = ? WHERE id = ? AND status = 'watching'",
            [(_iso(now), int(run_id)) for run_id in ids],
        )


def close_interrupted_runs(db: Db, now: datetime | str, filter_name: str) -> int:
    """Mark the runs of `filter_name` still 'running' as 'interrupted' (killed, or the machine
    stopped); call holding that filter's run lock (plnfilter/locks.py), which a live run holds."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        cursor = conn.execute(
            "UPDATE runs SET status = 'interrupted', finished = ? WHERE status = 'running' AND \"filter\" = ?",
            [_iso(now), clean_text(filter_name)],
        )
    return cursor.rowcount


def finish_run(
    db: Db,
    run_id: int,
    now: datetime | str,
    fetched: int,
    new: int,
    kept: int,
    errors: Sequence[str],
    status: str,
    per_source: Mapping[str, Any] | None = None,
    dropped_by: Mapping[str, int] | None = None,
) -> None:
    """Close a run with its totals; `per_source` maps a timeline name to its counts, `dropped_by` an
    exclude rule to the posts it dropped."""
    conn = as_connection(db)
    with db_errors(conn), write_transaction(db):
        conn.execute(
            "UPDATE runs SET finished = ?, fetched = ?, new = ?, kept = ?, errors = ?, status = ?, per_source = ?, "
            "dropped_by = ? WHERE id = ?",
            [
                _iso(now),
                int(fetched),
                int(new),
                int(kept),
                json.dumps([clean_text(str(e)) for e in errors], ensure_ascii=False),
                status,
                json.dumps(per_source or {}, ensure_ascii=True, default=str),
                json.dumps(
                    dict(sorted((dropped_by or {}).items(), key=lambda kv: (-kv[1], kv[0]))),
                    ensure_ascii=False,
                ),
                int(run_id),
            ],
        )


def list_sources(db: Db) -> list[dict[str, Any]]:
    """Every timeline seen, with its cursor, last run and last error, with posts found per source."""
    conn = as_connection(db)
    with db_errors(conn):
        has_settings = conn.execute(  # an archive made before migration m006, opened read-only
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'"
        ).fetchone()
        position = "(SELECT value FROM settings WHERE key = ? || s.name)" if has_settings else "NULL"
        return _dicts(
            conn.execute(
                "SELECT s.name, s.network, s.spec, s.cursor, "  # noqa: S608 - no value in the SQL text
                + position
                + " AS stream_position, s.last_run, s.last_error, "
                "(SELECT count(*) FROM post_sources ps WHERE ps.source = s.name) AS posts "
                "FROM sources s ORDER BY s.name",
                [STREAM_POSITION] if has_settings else [],
            )
        )


def list_runs(db: Db, limit: int | None = 20, filter_name: str | None = None) -> list[dict[str, Any]]:
    """The most recent runs first (of the filter `filter_name` only, if given), with `errors`,
    `per_source` and `dropped_by` decoded."""
    conn = as_connection(db)
    where, params = ("", []) if filter_name is None else ('WHERE "filter" = ? ', [clean_text(filter_name)])
    with db_errors(conn):
        rows = _dicts(
            conn.execute(
                'SELECT id, started, finished, "filter", filter_file, fetched, new, kept, dropped_by, errors, '  # noqa: S608
                f"status, per_source FROM runs {where}ORDER BY id DESC LIMIT ?",
                [*params, -1 if limit is None else int(limit)],
            )
        )
    for row in rows:
        row["errors"] = _load(row["errors"], [])
        row["per_source"] = _load(row["per_source"], {})
        row["dropped_by"] = _load(row["dropped_by"], {})
    return rows


def _load(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default
