"""Times as ISO 8601 UTC strings (sortable as text) and human durations like `12h`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """`90s`, `15m`, `12h`, `7d`, `2w` (a bare number is hours). Raises ValueError."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        return timedelta(hours=float(text))
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit such as 90s, 15m, 12h, 7d or 2w"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def to_iso(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: `2026-11-26T09:30:00Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse API times (`...Z`, `+00:00`, fractional seconds); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise_iso(text: str) -> str:
    """Any API timestamp as our canonical string; empty or unparsable input gives ''."""
    if not text:
        return ""
    try:
        return to_iso(parse_iso(text))
    except ValueError:
        return ""


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A `--since`/`--until` value: a duration back from now (`24h`) or an ISO date/time."""
    now = now or now_utc()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_iso(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (24h, 7d) nor a date (2026-11-26 or 2026-11-26T09:30:00Z)"
        ) from None
