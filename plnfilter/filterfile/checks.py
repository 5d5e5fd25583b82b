"""Typed reads of YAML values: each returns a clean value or raises FilterFileError at the line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from plnfilter.errors import FilterFileError, FilterFileErrors
from plnfilter.filterfile.lined import YList, YMap
from plnfilter.times import parse_duration


def type_name(value: Any) -> str:
    """How a YAML value looks to the person who wrote it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (yes/no/on/off are read as true/false)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, dict):
        return "a mapping (key: value)"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({str(value)[:40]})"


def check_keys(
    mapping: YMap, allowed: Iterable[str], path: str, where: str, aliases: dict[str, str] | None = None
) -> None:
    """Reject keys not in `allowed`, suggesting the nearest valid one (or a known synonym's)."""
    allowed = list(allowed)
    unknown = []
    for key in mapping:
        if key not in allowed:
            near = [aliases[key]] if aliases and aliases.get(key) in allowed else []
            if not near:
                import difflib  # only for a key that is wrong: a good filter file never loads it

                near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{near[0]}'?" if near else "valid keys here: " + ", ".join(allowed)
            unknown.append(
                FilterFileError(path, mapping.key_lines[key], f"unknown key '{key}' {where}", hint)
            )
    if len(unknown) == 1:
        raise unknown[0]
    if unknown:
        raise FilterFileErrors(unknown)


def need_mapping(value: Any, path: str, line: int, what: str, example: str) -> YMap:
    if not isinstance(value, YMap):
        raise FilterFileError(
            path, line, f"{what} should be a mapping, not {type_name(value)}", f"write it as {example}"
        )
    return value


def need_list(value: Any, path: str, line: int, what: str, example: str) -> YList:
    if not isinstance(value, YList):
        raise FilterFileError(
            path, line, f"{what} should be a list, not {type_name(value)}", f"write it as {example}"
        )
    return value


def as_text(value: Any, path: str, line: int, key: str, example: str = "") -> str:
    """A non-empty string (numbers are refused: quote them)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    hint = f"write `{key}: {example}`" if example else f"write `{key}:` followed by text"
    if isinstance(value, int | float) and not isinstance(value, bool):
        hint += f" (quote numbers: {key}: '{value}')"
    if value is None:
        hint += " (an unquoted ' #' starts a YAML comment: put text with a '#' in single quotes)"
    raise FilterFileError(path, line, f"'{key}' needs text, not {type_name(value)}", hint)


def as_text_list(value: Any, path: str, line: int, key: str, example: str) -> tuple[str, ...]:
    """A list of non-empty strings; a single string is taken as a one-item list."""
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if not isinstance(value, YList) or not value:
        what = "an empty list" if isinstance(value, list) else type_name(value)
        hint = f"write `{key}: {example}`"
        if value is None:
            hint += " (an unquoted ' #tag' is a YAML comment: quote it or leave out the '#')"
        raise FilterFileError(path, line, f"'{key}' needs a list of text, not {what}", hint)
    items = []
    for item, item_line in zip(value, value.item_lines, strict=True):
        if not isinstance(item, str) or not item.strip():
            hint = f"write `{key}: {example}`"
            if isinstance(item, int | float) and not isinstance(item, bool):
                hint = f"quote numbers: '{item}'"
            raise FilterFileError(
                path, item_line, f"each item of '{key}' must be text, not {type_name(item)}", hint
            )
        items.append(item.strip())
    return tuple(items)


def as_bool(value: Any, path: str, line: int, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise FilterFileError(
        path,
        line,
        f"'{key}' needs true or false, not {type_name(value)}",
        f"write `{key}: true` or `{key}: false`",
    )


def as_count(value: Any, path: str, line: int, key: str, minimum: int = 0) -> int:
    """A whole number no smaller than `minimum`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    raise FilterFileError(
        path,
        line,
        f"'{key}' needs a whole number of at least {minimum}, not {type_name(value)}",
        f"write for example `{key}: {max(minimum, 3)}`",
    )


def as_number(value: Any, path: str, line: int, key: str) -> float:
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float("inf")
    ):
        return float(value)
    raise FilterFileError(
        path, line, f"'{key}' needs a number, not {type_name(value)}", f"write for example `{key}: 1.5`"
    )


def as_duration(value: Any, path: str, line: int, key: str) -> timedelta:
    """`90s`, `15m`, `12h`, `7d`, `2w`; a bare number is hours. Must be more than zero."""
    problem = ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problem = type_name(value)
    else:
        try:
            duration = parse_duration(value)
            if duration.total_seconds() > 0 and duration < timedelta(days=36500):
                return duration
            problem = f"{value!r}"
        except (ValueError, OverflowError):
            problem = f"{value!r}"
    raise FilterFileError(
        path,
        line,
        f"'{key}' needs a duration, not {problem}",
        f"write a number and a unit such as `{key}: 12h` (s, m, h, d, w)",
    )


def _window(value: Any, shortest: timedelta) -> timedelta | None:
    """A duration (`48h`, `90d`, a number of hours) from `shortest` up to a century, else None."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        window = parse_duration(value)
    except (ValueError, OverflowError):
        return None
    return window if shortest <= window < timedelta(days=36500) else None


def as_refresh(value: Any, path: str, line: int, key: str = "refresh") -> timedelta | None:
    """`refresh:` a window (`48h`, `2d`), `on` for the default window, or `off`: None means off."""
    from plnfilter.filterfile.model import DEFAULT_REFRESH

    if value is True:
        return DEFAULT_REFRESH
    if value is False:
        return None
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "never"):
        return None
    window = _window(value, shortest=timedelta(0))
    if window is not None and window > timedelta(0):
        return window
    raise FilterFileError(
        path,
        line,
        f"'{key}' needs a duration or off, not {type_name(value) if not isinstance(value, str) else repr(value)}",
        f"write `{key}: 48h` (how long after a post is first seen its counts are re-fetched) or `{key}: off`",
    )


def as_retain(value: Any, path: str, line: int) -> timedelta | None:
    """`retain:` how long posts no filter keeps stay in the archive (`90d`, `26w`), or `forever`."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("forever", "off", "never")):
        return None
    window = _window(value, shortest=timedelta(days=1))
    if window is not None:
        return window
    raise FilterFileError(
        path,
        line,
        f"'retain' needs a duration of a day or more, or forever, not "
        f"{type_name(value) if not isinstance(value, str) else repr(value)}",
        "write `retain: 90d` (each run then removes posts older than that which no filter keeps) "
        "or `retain: forever`",
    )
