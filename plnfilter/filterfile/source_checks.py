"""Checks every network's source options share: `name`, `hashtags`, `max_pages`, `refresh`, URLs.

A network's own options are checked in its package (`plnfilter/sources/<network>/options.py`);
these are the pieces they have in common, so every FILE:LINE message reads the same.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import as_count, as_refresh, as_text, as_text_list
from plnfilter.filterfile.lined import YMap

# Option names people write for the ones a source takes (kind names are added from the registry).
SYNONYMS = {
    "tag": "hashtags",
    "tags": "hashtags",
    "hashtag": "hashtags",
    "query": "q",
    "search": "q",
    "language": "lang",
    "handle": "author",
    "user": "account",
}


def common_options(options: YMap, path: str) -> dict[str, Any]:
    """`name`, `hashtags`, `max_pages`, `refresh`: the options several kinds share."""
    clean: dict[str, Any] = {}
    lines = options.key_lines
    if "name" in options:
        clean["name"] = as_text(options["name"], path, lines["name"], "name", "pln-edtech")
    if "hashtags" in options:
        tags = as_text_list(options["hashtags"], path, lines["hashtags"], "hashtags", "[edtech, PLN]")
        bad = [tag for tag in tags if not tag.lstrip("#") or any(ch.isspace() for ch in tag)]
        if bad:
            raise FilterFileError(
                path,
                lines["hashtags"],
                f"{bad[0]!r} is not a hashtag",
                "write one word per tag, e.g. [edtech, LibraryTwitter]",
            )
        clean["hashtags"] = tuple(tag.lstrip("#") for tag in tags)
    if "max_pages" in options:
        clean["max_pages"] = as_count(options["max_pages"], path, lines["max_pages"], "max_pages", minimum=1)
    if "refresh" in options:  # a window, or False for off (None would read as "not given")
        clean["refresh"] = as_refresh(options["refresh"], path, lines["refresh"]) or False
    return clean


def check_url(text: str, path: str, line: int, key: str, example: str) -> None:
    """An http(s) address with a host (and a valid port, if any)."""
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise FilterFileError(
            path, line, f"{text!r} is not an http(s) address", f"write e.g. `{key}: {example}`"
        )
