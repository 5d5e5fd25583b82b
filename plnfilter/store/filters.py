"""Which filter's verdicts a reader shows: the names an archive knows, and the default among them."""

from __future__ import annotations

import sqlite3

from plnfilter.errors import UsageError
from plnfilter.store.archive import db_errors


def filter_names(conn: sqlite3.Connection) -> list[str]:
    with db_errors(conn):
        return [row[0] for row in conn.execute("SELECT name FROM filters ORDER BY name")]


def choose_filter(conn: sqlite3.Connection, name: str | None) -> str | None:
    """The filter whose verdicts a reader shows: `name` if the archive knows it, else its only filter.

    None for an archive with no filter yet. UsageError (exit 2) for an unknown name, or when the
    archive holds several filters and none was named: a cron line never switches filters silently.
    """
    names = filter_names(conn)
    if name is not None:
        if name not in names:
            known = ", ".join(names) or "none yet"
            raise UsageError(f"no filter named {name!r} in this archive", f"filters in it: {known}")
        return name
    if len(names) > 1:
        raise UsageError(
            f"this archive holds the verdicts of {len(names)} filters: {', '.join(names)}",
            "choose one with --filter NAME (`plnfilter filters` lists them)",
        )
    return names[0] if names else None
