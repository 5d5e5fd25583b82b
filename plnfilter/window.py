"""The time window of a digest or a query: `--since`, `--until` and `--as-of` read against the archive.

`--as-of TIME` makes a past digest again: recency is judged at TIME, durations count back from it
and posts created after it stay out. `--since last-run` and `--since last-read` are moments the
archive remembers, and they select by `first_seen` (when a post arrived here), so an old post that
arrives late still counts as new.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timedelta

from plnfilter.errors import UsageError
from plnfilter.times import now_utc, parse_iso, parse_since, to_iso

NEWEST = "newest"
ARCHIVE_WORDS = ("last-run", "last-read")
AS_OF_FORMS = (
    "a date or time (2026-11-26, 2026-11-26T09:30:00Z), a duration back from now (7d), today, "
    "yesterday, or newest (the moment of the newest kept post)"
)
SECOND = timedelta(seconds=1)


class Window:
    """Which posts a command looks at, and the moment it judges them at. A plain class: `@dataclass`
    compiles its methods with `exec` at every start (~1 ms of a reading command's start-up, issue 14)."""

    __slots__ = ("now", "since", "until", "seen_since", "since_text", "as_of_text", "notes")

    def __init__(
        self,
        now: datetime,
        since: datetime | None = None,
        until: datetime | None = None,
        seen_since: datetime | None = None,
        since_text: str | None = None,
        as_of_text: str | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.now = now  # --as-of, else the clock: recency is scored here
        self.since = since  # created at or after
        self.until = until  # created before
        self.seen_since = seen_since  # first seen here at or after (last-run, last-read)
        self.since_text = since_text
        self.as_of_text = as_of_text
        self.notes = notes

    def describe(self) -> str:
        """`--since 24h as of 2026-11-26T12:00:00Z`, for messages."""
        parts = [f"--since {self.since_text}"] if self.since_text else ["the whole archive"]
        if self.as_of_text:
            parts.append(f"as of {to_iso(self.now)}")
        return " ".join(parts)


def parse_as_of(text: str | None, newest: str | None, now: datetime) -> datetime | None:
    """An --as-of value as a moment; `newest` is the newest kept post's time (None: the archive has none)."""
    if text is None:
        return None
    if text.strip().lower() == NEWEST:
        if newest is None:
            raise UsageError(
                "--as-of newest: the archive has no kept posts", "run `plnfilter run FILTER` first"
            )
        return parse_iso(newest)
    try:
        return parse_since(text, now)
    except ValueError:
        raise UsageError(f"--as-of: {text!r} is not a time", f"write {AS_OF_FORMS}") from None


def check_flags(
    since: str | None, as_of: str | None = None, until: str | None = None, archive_words: bool = True
) -> None:
    """Refuse a malformed --since, --until or --as-of before the archive is even opened (exit 2)."""
    clock = now_utc()
    if as_of is not None and as_of.strip().lower() != NEWEST:
        parse_as_of(as_of, None, clock)
    if since is not None and since.strip().lower() in ARCHIVE_WORDS:
        if not archive_words:
            _refuse_archive_word(since)
    elif since is not None:
        _time(since, "--since", clock)
    if until is not None:
        _time(until, "--until", clock)


def _refuse_archive_word(since: str) -> None:
    raise UsageError(
        f"--since {since}: only `top` and `links` take {' and '.join(ARCHIVE_WORDS)}",
        "give a duration (24h, 7d), today, yesterday or a date here",
    )


def resolve_window(
    conn: sqlite3.Connection,
    since: str | None,
    as_of: str | None = None,
    until: str | None = None,
    *,
    filter_file: str | None = None,
    filter_name: str = "",
    archive_words: bool = True,
    kept_by: str | None = None,
) -> Window:
    """Read the flags against the archive: `newest` (the newest post the filter `kept_by` kept; any
    filter's when None), `last-run` (the start of the last successful run of `filter_file`, any
    filter's when None) and `last-read` (the last digest of `filter_name` made with --mark-read).
    Bad values are usage errors that list the forms."""
    check_flags(since, as_of, until, archive_words)
    clock = now_utc()
    newest = None
    if as_of and as_of.strip().lower() == NEWEST:
        from plnfilter.store.marks import newest_kept  # the moments below are read only when named

        newest = newest_kept(conn, filter_name=kept_by)
    moment = parse_as_of(as_of, newest, clock)
    now = moment or clock
    notes: list[str] = []
    seen_since = start = None
    word = (since or "").strip().lower()
    if word in ARCHIVE_WORDS:
        if not archive_words:
            _refuse_archive_word(since)
        from plnfilter.store.marks import last_read, last_run_started

        if word == "last-run":
            found = last_run_started(conn, filter_file)
            what = "no successful run of this filter" if filter_file else "no successful run"
        else:
            found = last_read(conn, filter_name)
            what = (
                f"no digest of filter {filter_name!r} was made with --mark-read"
                if filter_name
                else ("no digest without FILTER was made with --mark-read")
            )
        if found:
            seen_since = parse_iso(found)
        else:
            notes.append(f"--since {since}: {what} yet, so every post counts as new")
    elif since is not None:
        start = _time(since, "--since", now)
    end = _time(until, "--until", now) if until is not None else None
    if moment is not None and (end is None or end > moment + SECOND):
        end = moment + SECOND  # posts created up to and including that moment
    return Window(now, start, end, seen_since, since, as_of, tuple(notes))


def _time(text: str, flag: str, now: datetime) -> datetime:
    try:
        return parse_since(text, now)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def age_words(delta: timedelta) -> str:
    """`3 days`, `5 hours`, `12 minutes`: how old, roughly, for a person."""
    seconds = max(delta.total_seconds(), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def covering_since(delta: timedelta) -> str:
    """A --since duration a little longer than `delta`: `4d` for 3 days 2 hours, `6h` for 5 hours."""
    hours = delta.total_seconds() / 3600
    if hours < 23:
        return f"{max(math.floor(hours) + 1, 1)}h"
    return f"{math.floor(hours / 24) + 1}d"


def empty_hint(window: Window, newest: str | None, what: str = "kept post") -> str:
    """What to say when the window holds nothing: how old the newest matching post is and which
    --since or --as-of shows it."""
    if not newest:
        return f"No posts in this window ({window.describe()}), and no {what} in the archive at all."
    moment = parse_iso(newest)
    shown = f"{newest[:10]} {newest[11:16]} UTC"
    if window.seen_since is not None:
        return (
            f"Nothing arrived since {window.since_text} ({to_iso(window.seen_since)}). The newest {what} "
            f"was posted {shown}: --since {covering_since(window.now - moment)} shows it."
        )
    if moment > window.now:
        return (
            f"No posts in this window ({window.describe()}). The newest {what} was posted {shown}, "
            f"after that moment: --as-of newest (or --as-of {newest}) shows it."
        )
    age = window.now - moment
    return (
        f"No posts in this window ({window.describe()}). The newest {what} was posted {shown}, "
        f"{age_words(age)} before {'that moment' if window.as_of_text else 'now'}: "
        f"--since {covering_since(age)} or --as-of newest shows it."
    )
