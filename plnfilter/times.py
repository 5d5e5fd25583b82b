"""Times as ISO 8601 UTC strings (sortable as text) and human durations like `12h`."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
DURATION_FORMS = "a number and a unit such as 90s, 15m, 12h, 7d or 2w, or several: 1d12h, 1h30m, 7days"


def parse_duration(text: str | int | float) -> timedelta:
    """`90s`, `15m`, `12h`, `7d`, `2w`, compounds like `1d12h` or `2 weeks 3 days`, any case (a bare
    number is hours). Raises ValueError."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        return timedelta(hours=float(text))
    written = str(text).strip().lower()
    seconds = 0.0
    position = 0
    while position < len(written):
        match = _PART.match(written, position)
        if not match or match.group(2) not in _UNITS:
            raise ValueError(f"{text!r} is not a duration; write {DURATION_FORMS}")
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not written:
        raise ValueError(f"{text!r} is not a duration; write {DURATION_FORMS}")
    return timedelta(seconds=seconds)


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


NOW_VARIABLE = "PLNFILTER_NOW"
"""For tests: an ISO time (`2027-12-01T12:00:00Z`) the whole program takes as the current moment."""


def now_utc() -> datetime:
    """The current moment, or $PLNFILTER_NOW when set (tests move the clock with it, e.g. a year ahead)."""
    fixed = os.environ.get(NOW_VARIABLE)
    if fixed:
        try:
            return parse_iso(fixed.strip())
        except ValueError:
            from plnfilter.errors import UsageError

            raise UsageError(
                f"${NOW_VARIABLE}={fixed!r} is not an ISO time",
                "unset it, or write it like 2027-12-01T12:00:00Z",
            ) from None
    return datetime.now(UTC)


SINCE_FORMS = (
    "a duration back from now (24h, 7d, 7days, 1d12h, 90min), today or yesterday "
    "(from midnight, local time), or a date (2026-11-26 or 2026-11-26T09:30:00Z)"
)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A `--since`/`--until` value: a duration back from now (`24h`, `1d12h`, `7 days ago`), `today` or
    `yesterday` (the start of that day in local time), `now`, or an ISO date/time. Any case."""
    now = now or now_utc()
    word = text.strip().lower().removesuffix(" ago")
    if word == "now":
        return now
    if word in ("today", "yesterday"):
        local = now.astimezone().replace(tzinfo=None)  # the wall clock here; astimezone() below
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)  # finds that day's offset (DST)
        if word == "yesterday":
            midnight -= timedelta(days=1)
        return midnight.astimezone().astimezone(UTC)
    try:
        return now - parse_duration(word)
    except (ValueError, OverflowError):
        pass
    for written in (text.strip(), text.strip().upper()):  # 2026-11-26t09:30z is the same moment
        try:
            return parse_iso(written)
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not a time; write {SINCE_FORMS}")
