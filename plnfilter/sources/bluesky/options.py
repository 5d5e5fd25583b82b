"""The options of a `- bluesky: {...}` source, checked with FILE:LINE messages."""

from __future__ import annotations

import re
from typing import Any

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import as_bool, as_text, check_keys, type_name
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import SourceSpec
from plnfilter.filterfile.source_checks import SYNONYMS, check_url, common_options

OPTIONS = (
    "hashtags",
    "q",
    "lang",
    "sort",
    "list",
    "author",
    "filter",
    "feed",
    "timeline",
    "service",
    "max_pages",
    "refresh",
    "name",
    "stream",
    "stream_url",
)
STREAMS = ("jetstream", "firehose", "off")
AUTHOR_FEED_FILTERS = (
    "posts_with_replies",
    "posts_no_replies",
    "posts_with_media",
    "posts_and_author_threads",
    "posts_with_video",
)
_HANDLE_OR_DID = re.compile(r"^(did:[a-z]+:[A-Za-z0-9._:%-]+|@?[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9-]+)$")


def parse_source(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    """`- bluesky: {hashtags: [...]}`: the options may sit in the head mapping or below it."""
    if isinstance(head, YMap):
        merged = dict(options)
        merged_lines = dict(options.key_lines)
        for key, value in head.items():
            if key in merged:
                raise FilterFileError(
                    path, head.key_lines[key], f"'{key}' is given twice for this source", "keep one of them"
                )
            merged[key] = value
            merged_lines[key] = head.key_lines[key]
        item_line = options.line
        options = YMap(merged)
        options.line = item_line
        options.key_lines = merged_lines
    return _bluesky(head, options, path, line)


def _bluesky(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    if head is not None and not isinstance(head, YMap):
        raise FilterFileError(
            path,
            line,
            f"'bluesky' takes a mapping of options, not {type_name(head)}",
            "write for example `- bluesky: {hashtags: [edtech]}` or `- bluesky: {author: carol.bsky.social}`",
        )
    check_keys(options, OPTIONS, path, "for a bluesky source", SYNONYMS)
    clean = common_options(options, path)
    lines = options.key_lines
    for key in ("q", "lang", "sort", "list", "author", "filter", "feed", "service", "stream", "stream_url"):
        if key in options:
            clean[key] = as_text(options[key], path, lines[key], key)
    if "timeline" in options:
        clean["timeline"] = as_bool(options["timeline"], path, lines["timeline"], "timeline")
    if clean.get("sort", "latest") not in ("latest", "top"):
        raise FilterFileError(
            path,
            lines["sort"],
            f"sort must be latest or top, not {clean['sort']!r}",
            "write `sort: latest` or `sort: top`",
        )
    if clean.get("filter", AUTHOR_FEED_FILTERS[0]) not in AUTHOR_FEED_FILTERS:
        raise FilterFileError(
            path,
            lines["filter"],
            f"unknown author feed filter {clean['filter']!r}",
            "use one of " + ", ".join(AUTHOR_FEED_FILTERS),
        )
    if "author" in clean:
        if not _HANDLE_OR_DID.match(clean["author"]):
            raise FilterFileError(
                path,
                lines["author"],
                f"{clean['author']!r} is not a handle or DID",
                "write e.g. `author: carol.bsky.social`",
            )
        clean["author"] = clean["author"].lstrip("@")
    for key, kind in (("list", "app.bsky.graph.list"), ("feed", "app.bsky.feed.generator")):
        if key in clean:
            _check_bluesky_ref(clean[key], kind, key, path, lines[key])
    if "service" in clean:
        check_url(clean["service"], path, lines["service"], "service", "https://public.api.bsky.app")
    if clean.get("stream", STREAMS[0]) not in STREAMS:
        raise FilterFileError(
            path,
            lines["stream"],
            f"unknown stream {clean['stream']!r}",
            "write `stream: jetstream` (the default), `stream: firehose` (with `stream_url:` or `service:`) or `stream: off`",
        )
    if "stream_url" in clean:
        _check_stream_url(clean["stream_url"], path, lines["stream_url"])
    chosen = [key for key in ("hashtags", "q", "list", "author", "feed", "timeline") if clean.get(key)]
    if not chosen:
        raise FilterFileError(
            path,
            line,
            "this bluesky source says nothing to fetch",
            "give one of hashtags, q, list, author, feed or timeline: true",
        )
    search = {"hashtags", "q"}
    for key in ("lang", "sort"):
        if key in clean and not search & set(chosen):
            raise FilterFileError(
                path, lines[key], f"'{key}' only applies to searches", "add `hashtags:` or `q:`, or remove it"
            )
    if "filter" in clean and "author" not in clean:
        raise FilterFileError(
            path,
            lines["filter"],
            "'filter' only applies to an author feed",
            "add `author: handle`, or remove it",
        )
    if "hashtags" in clean:
        what = " ".join("#" + tag for tag in clean["hashtags"])
    else:
        what = "timeline" if chosen[0] == "timeline" else f"{chosen[0]} {clean[chosen[0]]}"
    return SourceSpec("bluesky", "", clean, line, clean.get("name") or f"bluesky {what}")


def _check_stream_url(text: str, path: str, line: int) -> None:
    """A websocket (or http) address with a host: where `watch` follows the stream."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("ws", "wss", "http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    if not ok:
        raise FilterFileError(
            path,
            line,
            f"{text!r} is not a stream address",
            "write e.g. `stream_url: wss://jetstream.us-east.bsky.network` or `stream_url: wss://my-pds.example`",
        )


def _check_bluesky_ref(text: str, kind: str, key: str, path: str, line: int) -> None:
    """A list or feed: an at:// URI of the right record type, or its bsky.app page URL."""
    web = "lists" if key == "list" else "feed"
    if text.startswith("at://"):
        parts = text[5:].split("/")
        if len(parts) == 3 and parts[0] and parts[1] == kind and parts[2]:
            return
    elif text.startswith(("https://bsky.app/profile/", "https://www.bsky.app/profile/")):
        parts = text.partition("/profile/")[2].rstrip("/").split("/")
        if len(parts) == 3 and parts[0] and parts[1] == web and parts[2]:
            return
    raise FilterFileError(
        path,
        line,
        f"{text!r} is not a Bluesky {key}",
        f"write at://did:plc:.../{kind}/RKEY or https://bsky.app/profile/HANDLE/{web}/RKEY",
    )
