"""The options of a feed source: `- feed: URL`, `- feeds: [URL, ...]` or `- opml: FILE`, with
`max_size` (the most a feed may weigh; 20 MB unless said) and `name`."""

from __future__ import annotations

import os
import re
from typing import Any

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import as_text, as_text_list, check_keys
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import SourceSpec
from plnfilter.filterfile.source_checks import SYNONYMS, check_url

OPTIONS = ("max_size", "name")
DEFAULT_MAX_SIZE = (
    20 * 1000 * 1000
)  # bytes: the biggest real feeds (podcasts with years of items) are a few MB
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(kb|mb|gb|k|m|g)?\s*$", re.I)
_UNITS = {"": 1000**2, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3}


def parse_source(head: Any, options: YMap, path: str, line: int, head_key: str = "feed") -> SourceSpec:
    check_keys(options, OPTIONS, path, f"for a {head_key} source", SYNONYMS)
    clean: dict[str, Any] = {}
    lines = options.key_lines
    if "name" in options:
        clean["name"] = as_text(options["name"], path, lines["name"], "name", "education blogs")
    if "max_size" in options:  # else DEFAULT_MAX_SIZE, at fetch time
        clean["max_size"] = as_size(options["max_size"], path, lines["max_size"])
    if head_key == "opml":
        written = as_text(head, path, line, "opml", "subscriptions.opml")
        base = os.path.dirname(path) if path and not path.startswith("<") else ""
        target = os.path.normpath(os.path.join(base, os.path.expanduser(written)))
        clean["opml"] = True
        return SourceSpec("feed", target, clean, line, clean.get("name") or f"opml {written}")
    if head_key == "feeds":
        urls = as_text_list(head, path, line, "feeds", "[https://example.org/feed.xml]")
    else:
        urls = (as_text(head, path, line, "feed", "https://example.org/feed.xml"),)
    example = "[https://example.org/feed.xml]" if head_key == "feeds" else "https://example.org/feed.xml"
    for url in urls:
        check_url(url, path, line, head_key, example)
        if any(char.isspace() for char in url):
            raise FilterFileError(
                path, line, f"{url!r} has a space in it", "write a space in an address as %20"
            )
    urls = tuple(dict.fromkeys(urls))
    label = urls[0] if len(urls) == 1 else f"{len(urls)} feeds"
    # The target is the feeds' addresses, one space between each (an address has no space in it).
    return SourceSpec("feed", " ".join(urls), clean, line, clean.get("name") or f"feed {label}")


def as_size(value: Any, path: str, line: int) -> int:
    """`max_size: 5 MB`, `500 KB` or a number of megabytes, as bytes."""
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    match = _SIZE.match(text) if isinstance(text, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise FilterFileError(
            path, line, f"max_size {value!r} is not a size", "write e.g. `max_size: 5 MB` (or KB, GB)"
        )
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])
