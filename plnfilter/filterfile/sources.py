"""The `sources:` list: which timelines to fetch, each checked against the options its kind takes."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import (
    as_bool,
    as_count,
    as_refresh,
    as_text,
    as_text_list,
    check_keys,
    need_list,
    need_mapping,
    type_name,
)
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import SourceSpec
from plnfilter.filterfile.problems import Problems

KINDS = ("mastodon", "bluesky", "file")
MASTODON_OPTIONS = (
    "hashtags",
    "local",
    "list",
    "account",
    "tagged",
    "exclude_replies",
    "home",
    "max_pages",
    "refresh",
    "name",
)
BLUESKY_OPTIONS = (
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
)
FILE_OPTIONS = ("name",)
AUTHOR_FEED_FILTERS = (
    "posts_with_replies",
    "posts_no_replies",
    "posts_with_media",
    "posts_and_author_threads",
    "posts_with_video",
)

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")
_ACCOUNT = re.compile(r"^@?[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")
_HANDLE_OR_DID = re.compile(r"^(did:[a-z]+:[A-Za-z0-9._:%-]+|@?[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9-]+)$")
SYNONYMS = {
    "tag": "hashtags",
    "tags": "hashtags",
    "hashtag": "hashtags",
    "instance": "mastodon",
    "server": "mastodon",
    "path": "file",
    "query": "q",
    "search": "q",
    "language": "lang",
    "handle": "author",
    "user": "account",
}


def parse_sources(value: Any, path: str, line: int) -> tuple[SourceSpec, ...]:
    items = need_list(value, path, line, "'sources'", "a list: `- mastodon: mastodon.social` on its own line")
    problems = Problems()  # every source is checked, so one run of `check` shows every mistake
    specs = []
    for item, item_line in zip(items, items.item_lines, strict=True):
        with problems.gather():
            specs.append(parse_source(item, path, item_line))
    seen: dict[str, int] = {}
    for spec in specs:
        explicit = spec.options.get("name")
        if explicit and explicit in seen:
            problems.add(
                [
                    FilterFileError(
                        path,
                        spec.line,
                        f"two sources are named '{explicit}' (also line {seen[explicit]})",
                        "give each source its own name",
                    )
                ]
            )
        if explicit:
            seen[explicit] = spec.line
    problems.raise_any()
    return tuple(specs)


def parse_source(item: Any, path: str, line: int) -> SourceSpec:
    """One `- mastodon: ...`, `- bluesky: {...}` or `- file: ...` entry."""
    item = need_mapping(
        item, path, line, "a source", "`- mastodon: mastodon.social` or `- bluesky: {hashtags: [edtech]}`"
    )
    kinds = [key for key in item if key in KINDS]
    if len(kinds) > 1:
        raise FilterFileError(
            path,
            item.key_lines[kinds[1]],
            f"one source has both '{kinds[0]}' and '{kinds[1]}'",
            "start a new `- ` item for each source",
        )
    if not kinds:
        options = set(MASTODON_OPTIONS) | set(BLUESKY_OPTIONS)
        strangers = YMap({key: value for key, value in item.items() if key not in options})
        strangers.key_lines = item.key_lines
        check_keys(
            strangers,
            KINDS,
            path,
            "where a source kind (mastodon, bluesky or file) should come first",
            SYNONYMS,
        )
        raise FilterFileError(
            path,
            line,
            "a source needs one of mastodon:, bluesky: or file:",
            "write for example `- mastodon: mastodon.social` with `hashtags: [edtech]` below it",
        )
    kind = kinds[0]
    kind_line = item.key_lines[kind]
    options = {key: value for key, value in item.items() if key != kind}
    option_lines = {key: item.key_lines[key] for key in options}
    head = item[kind]
    if kind == "bluesky" and isinstance(head, YMap):
        for key, value in head.items():
            if key in options:
                raise FilterFileError(
                    path, head.key_lines[key], f"'{key}' is given twice for this source", "keep one of them"
                )
            options[key] = value
            option_lines[key] = head.key_lines[key]
    options_map = YMap(options)
    options_map.line = line
    options_map.key_lines = option_lines
    if kind == "mastodon":
        return _mastodon(head, options_map, path, kind_line)
    if kind == "bluesky":
        return _bluesky(head, options_map, path, kind_line)
    return _file(head, options_map, path, kind_line)


def _mastodon(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    check_keys(options, MASTODON_OPTIONS, path, "for a mastodon source", SYNONYMS)
    target = _instance(head, path, line)
    clean = _common_options(options, path)
    lines = options.key_lines
    for key in ("local", "exclude_replies", "home"):
        if key in options:
            clean[key] = as_bool(options[key], path, lines[key], key)
    if "list" in options:
        value = options["list"]
        if isinstance(value, int) and not isinstance(value, bool):
            clean["list"] = value
        else:
            clean["list"] = as_text(value, path, lines["list"], "list", "Learning Tech")
    if "account" in options:
        account = as_text(options["account"], path, lines["account"], "account", "kate@example.social")
        if not _ACCOUNT.match(account):
            raise FilterFileError(
                path,
                lines["account"],
                f"'{account}' is not an account address",
                "write it as user@host, e.g. kate@example.social",
            )
        clean["account"] = account.lstrip("@")
    if "tagged" in options:
        if "account" not in options:
            raise FilterFileError(
                path,
                lines["tagged"],
                "'tagged' only works with 'account'",
                "add `account: user@host`, or use `hashtags:`",
            )
        clean["tagged"] = as_text(options["tagged"], path, lines["tagged"], "tagged", "edtech").lstrip("#")
    if "exclude_replies" in options and "account" not in options:
        raise FilterFileError(
            path,
            lines["exclude_replies"],
            "'exclude_replies' only works with 'account'",
            "add `account: user@host`",
        )
    if not any(clean.get(key) not in (None, "", False) for key in ("hashtags", "list", "account", "home")):
        raise FilterFileError(
            path,
            line,
            "this mastodon source says nothing to fetch",
            "add hashtags: [edtech], list: NAME, account: user@host or home: true",
        )
    label = target + (" " + " ".join("#" + tag for tag in clean["hashtags"]) if "hashtags" in clean else "")
    label += f" list {clean['list']}" if "list" in clean else ""
    label += f" account {clean['account']}" if "account" in clean else ""
    label += " home" if clean.get("home") else ""
    label += " local" if clean.get("local") else ""
    return SourceSpec("mastodon", target, clean, line, clean.get("name") or f"mastodon {label}")


def _bluesky(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    if head is not None and not isinstance(head, YMap):
        raise FilterFileError(
            path,
            line,
            f"'bluesky' takes a mapping of options, not {type_name(head)}",
            "write for example `- bluesky: {hashtags: [edtech]}` or `- bluesky: {author: carol.bsky.social}`",
        )
    check_keys(options, BLUESKY_OPTIONS, path, "for a bluesky source", SYNONYMS)
    clean = _common_options(options, path)
    lines = options.key_lines
    for key in ("q", "lang", "sort", "list", "author", "filter", "feed", "service"):
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
        _check_url(clean["service"], path, lines["service"], "service", "https://public.api.bsky.app")
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


def _file(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    check_keys(options, FILE_OPTIONS, path, "for a file source", SYNONYMS)
    written = as_text(head, path, line, "file", "samples/mastodon-tags.json")
    base = os.path.dirname(path) if path and not path.startswith("<") else ""
    target = os.path.normpath(os.path.join(base, os.path.expanduser(written)))
    clean = _common_options(options, path)
    return SourceSpec("file", target, clean, line, clean.get("name") or f"file {written}")


def _common_options(options: YMap, path: str) -> dict[str, Any]:
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


def _instance(value: Any, path: str, line: int) -> str:
    """A Mastodon instance as written: `mastodon.social`, `https://host` or `http://127.0.0.1:PORT`."""
    text = as_text(value, path, line, "mastodon", "mastodon.social")
    if "://" in text:
        _check_url(text, path, line, "mastodon", "https://mastodon.social")
        parts = urlsplit(text)
        if parts.path.strip("/") or parts.query:
            raise FilterFileError(
                path,
                line,
                f"{text!r} has a path after the instance",
                f"write just the instance: `mastodon: {parts.scheme}://{parts.netloc}`",
            )
        return text.rstrip("/")
    if not _HOST.match(text):
        raise FilterFileError(
            path,
            line,
            f"{text!r} is not an instance name",
            "write the server's host name, e.g. `mastodon: mastodon.social`",
        )
    return text


def _check_url(text: str, path: str, line: int, key: str, example: str) -> None:
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise FilterFileError(
            path, line, f"{text!r} is not an http(s) address", f"write e.g. `{key}: {example}`"
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
