"""Which filter's verdicts a reader shows: the names an archive knows, and the default among them."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

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


VOICES_KEY = "voices/"
"""`settings` keys VOICES_KEY + a filter's name hold its `voices:` groups as JSON."""


def save_filter_voices(conn: sqlite3.Connection, name: str, voices: dict[str, Any]) -> None:
    """Record a filter's `voices:` groups (group -> people), in the caller's transaction."""
    groups = {group: list(people) for group, people in voices.items() if people}
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [VOICES_KEY + name, json.dumps(groups, ensure_ascii=False, sort_keys=True)],
    )


def filter_voices(conn: sqlite3.Connection, name: str) -> dict[str, tuple[str, ...]] | None:
    """The `voices:` groups the filter `name` had at its last run or apply; None when none were
    recorded (an archive from before they were)."""
    with db_errors(conn):
        row = conn.execute("SELECT value FROM settings WHERE key = ?", [VOICES_KEY + name]).fetchone()
    try:
        found = json.loads(row[0]) if row else None
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    return {
        str(group): tuple(str(who) for who in people)
        for group, people in found.items()
        if isinstance(people, list)
    }


def forget_filter_voices(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM settings WHERE key = ?", [VOICES_KEY + name])
