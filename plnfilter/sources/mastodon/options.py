"""The options of a `- mastodon: INSTANCE` source, checked with FILE:LINE messages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import as_bool, as_text, check_keys
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import SourceSpec
from plnfilter.filterfile.source_checks import SYNONYMS, check_url, common_options

OPTIONS = (
    "hashtags",
    "local",
    "list",
    "account",
    "tagged",
    "exclude_replies",
    "home",
    "timeline",
    "only_media",
    "remote",
    "max_pages",
    "refresh",
    "name",
)
PUBLIC_TIMELINES = (
    "federated",
    "local",
)  # the web UI's Federated and Local tabs: GET /api/v1/timelines/public
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")
_ACCOUNT = re.compile(r"^@?[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")


def parse_source(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    check_keys(options, OPTIONS, path, "for a mastodon source", SYNONYMS)
    target = _instance(head, path, line)
    clean = common_options(options, path)
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
    clean.update(public_options(options, path))
    if not any(
        clean.get(key) not in (None, "", False) for key in ("hashtags", "list", "account", "home", "timeline")
    ):
        raise FilterFileError(
            path,
            line,
            "this mastodon source says nothing to fetch",
            "add hashtags: [edtech], list: NAME, account: user@host, home: true or timeline: local",
        )
    label = target + (" " + " ".join("#" + tag for tag in clean["hashtags"]) if "hashtags" in clean else "")
    label += f" list {clean['list']}" if "list" in clean else ""
    label += f" account {clean['account']}" if "account" in clean else ""
    label += " home" if clean.get("home") else ""
    label += f" {clean['timeline']} timeline" if clean.get("timeline") else ""
    label += " local" if clean.get("local") else ""
    return SourceSpec("mastodon", target, clean, line, clean.get("name") or f"mastodon {label}")


def public_options(options: YMap, path: str) -> dict[str, Any]:
    """`timeline: federated|local` (the instance's public timelines), with `only_media` and `remote`."""
    lines = options.key_lines
    clean: dict[str, Any] = {}
    for key in ("only_media", "remote"):
        if key in options:
            clean[key] = as_bool(options[key], path, lines[key], key)
            if "timeline" not in options:
                raise FilterFileError(
                    path,
                    lines[key],
                    f"'{key}' only works with 'timeline'",
                    "add `timeline: federated` (or local)",
                )
    if "timeline" in options:
        value = as_text(options["timeline"], path, lines["timeline"], "timeline", "federated").lower()
        if value not in PUBLIC_TIMELINES:
            raise FilterFileError(
                path,
                lines["timeline"],
                f"timeline {value!r} is not one of the public timelines",
                "write `timeline: federated` (every public post the instance knows) or `timeline: local`",
            )
        if value == "local" and clean.get("remote"):
            raise FilterFileError(
                path,
                lines["remote"],
                "'remote' asks for other servers' posts, 'timeline: local' for this one's",
                "drop `remote: true`, or write `timeline: federated`",
            )
        clean["timeline"] = value
    return clean


def _instance(value: Any, path: str, line: int) -> str:
    """A Mastodon instance as written: `mastodon.social`, `https://host` or `http://127.0.0.1:PORT`."""
    text = as_text(value, path, line, "mastodon", "mastodon.social")
    if "://" in text:
        check_url(text, path, line, "mastodon", "https://mastodon.social")
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
