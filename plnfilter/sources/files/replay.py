"""`file:` sources: saved API responses replayed through the same normalisers as live fetches.

Understood shapes (detected per object, so JSONL may mix them):
- a Mastodon status list, as `/api/v1/timelines/tag/...` returns it;
- a Bluesky `searchPosts` response (`{"posts": [...]}`) or feed (`{"feed": [...]}`);
- JSONL of statuses, post views, feed items, or plnfilter's own JSONL export rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from plnfilter.errors import SourceError
from plnfilter.post import POST_FIELDS, Post
from plnfilter.sources import FetchContext, Page

PAGE_SIZE = 500


def timelines(spec) -> list[FileTimeline]:
    path = Path(spec.target)
    return [
        FileTimeline(name=f"file:{spec.options.get('name') or path.name}", path=path, spec=f"file: {path}")
    ]


@dataclass
class FileTimeline:
    """A saved response file; its cursor is the content digest, so an unchanged file is skipped."""

    name: str
    path: Path
    spec: str
    network: str = "file"
    host: str = "file"

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Page]:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise SourceError(
                self.name, f"cannot read {self.path}: {exc.strerror}", "check the path in the filter file"
            ) from None
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest == cursor:
            return
        try:
            objects = list(iter_objects(data.decode("utf-8", errors="replace")))
        except ValueError as exc:
            raise SourceError(
                self.name,
                f"{self.path} is not JSON or JSONL ({exc})",
                "save the API response as it was returned",
            ) from None
        posts, problems = posts_from_objects(objects, self.name)
        for start in range(0, max(len(posts), 1), PAGE_SIZE):
            last = start + PAGE_SIZE >= len(posts)
            yield Page(
                posts[start : start + PAGE_SIZE],
                cursor=digest if last else None,
                problems=problems if last else [],
            )


def iter_objects(text: str) -> Iterator[Any]:
    """Yield the items of a JSON document (array or API response) or of JSONL lines."""
    stripped = text.lstrip()
    if not stripped:
        return
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        document = None
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        for number, line in enumerate(lines, 1):
            try:
                yield from _items(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: {exc.msg}") from None
        return
    yield from _items(document)


def read_stream(handle: IO[str]) -> Iterator[Any]:
    """Items from stdin: JSONL streams line by line; a single JSON document is read whole."""
    first = handle.readline()
    while first and not first.strip():
        first = handle.readline()
    if not first:
        return
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        yield from iter_objects(first + handle.read())
        return
    yield from _items(head)
    for number, line in enumerate(handle, 2):
        if line.strip():
            try:
                yield from _items(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: {exc.msg}") from None


def _items(document: Any) -> Iterable[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("posts", "feed", "statuses"):
            if isinstance(document.get(key), list):
                return document[key]
        return [document]
    raise ValueError(f"expected objects, found {type(document).__name__}")


def kind_of(obj: Any) -> str:
    """'mastodon', 'bluesky' or 'plnfilter' (our own export row); '' when unrecognised."""
    if not isinstance(obj, dict):
        return ""
    if "account" in obj and ("content" in obj or "reblog" in obj):
        return "mastodon"
    if "post" in obj or ("record" in obj and "author" in obj):
        return "bluesky"
    if "network" in obj and "uri" in obj:
        return "plnfilter"
    return ""


def posts_from_objects(objects: Iterable[Any], source: str) -> tuple[list[Post], list[str]]:
    """Normalise every object; a malformed one is reported and skipped, never fatal."""
    from plnfilter.sources.bluesky import normalize as bluesky
    from plnfilter.sources.mastodon import normalize as mastodon

    posts: list[Post] = []
    problems: list[str] = []
    for index, obj in enumerate(objects):
        kind = kind_of(obj)
        try:
            if kind == "mastodon":
                posts.append(mastodon.to_post(obj, instance_of(obj), source))
            elif kind == "bluesky":
                posts.append(bluesky.to_post(obj, source))
            elif kind == "plnfilter":
                posts.append(post_from_row(obj, source))
            else:
                problems.append(f"item {index + 1}: not a Mastodon status, Bluesky post or plnfilter row")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            ident = obj.get("uri") or obj.get("post", {}).get("uri") if isinstance(obj, dict) else None
            problems.append(f"item {index + 1} ({ident or 'no uri'}): skipped, {type(exc).__name__}: {exc}")
    return posts, problems


def instance_of(status: dict) -> str:
    """The instance a saved status was fetched from is not recorded; the account's host is the best guess."""
    url = (status.get("account") or {}).get("url") or status.get("url") or status.get("uri") or ""
    return urlsplit(url).netloc


_LIST_FIELDS = {"tags", "links", "mentions", "reposted_by", "media_alt"}
_BOOL_FIELDS = {"author_bot", "has_media", "sensitive"}
_INT_FIELDS = {"author_followers", "likes", "reposts", "replies", "quotes"}


def post_from_row(row: dict, source: str) -> Post:
    """A plnfilter JSONL row (from `query`/`export`/`filter`) back into a Post."""
    values: dict[str, Any] = {}
    for name in POST_FIELDS:
        if name not in row or row[name] is None:
            continue
        value = row[name]
        if name in _LIST_FIELDS:
            value = tuple(json.loads(value) if isinstance(value, str) else value)
        elif name in _BOOL_FIELDS:
            value = bool(value)
        elif name in _INT_FIELDS:
            value = int(value)
        elif name == "raw":
            value = json.loads(value) if isinstance(value, str) else value
        else:
            value = str(value)
        values[name] = value
    values["source"] = source or values.get("source", "")
    if not values.get("uri") or values.get("network") not in ("mastodon", "bluesky"):
        raise ValueError("row lacks a uri or a network")
    return Post(**values)
