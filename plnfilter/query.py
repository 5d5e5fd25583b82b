"""Read-only selection from the archive: flags, full-text search or a user's own SELECT, streamed.

What a selection means (the flags, how full-text words are quoted) is `plnfilter.store.select`;
this is the one entry `query`, `export` and the benchmarks call, and keeps the names they import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from plnfilter.store.read import get_row
from plnfilter.store.rows import ALL_COLUMNS, OUTPUT_COLUMNS
from plnfilter.store.select import ORDERS, Rows, Selection, build_sql, fts_query, run_sql, select_rows


def select(conn: sqlite3.Connection, selection: Selection) -> Iterator[dict[str, Any]]:
    """Rows as dicts in a stable column order, JSON lists decoded, streamed from the cursor.

    A user's own SELECT (`selection.sql`) runs as written; a flag-based selection returns `Rows`,
    which a JSON Lines or CSV writer can also read as lines or cells SQLite made.
    """
    if selection.sql is not None:
        return run_sql(conn, selection.sql)
    return select_rows(conn, selection)


__all__ = [
    "ALL_COLUMNS",
    "ORDERS",
    "OUTPUT_COLUMNS",
    "Rows",
    "Selection",
    "build_sql",
    "fts_query",
    "get_row",
    "run_sql",
    "select",
]
