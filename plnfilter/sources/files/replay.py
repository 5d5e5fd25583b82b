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

from plnfilter.errors import SourceError
from plnfilter.post import POST_FIELDS, Post
from plnfilter.sources import FetchContext, Page

PAGE_SIZE = 500


def timelines(spec) -> list[FileTimeline]:
    """One timeline: the file."""
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


def is_row(obj: Any) -> bool:
    """plnfilter's own JSONL row (from `query`, `export`, `filter`)."""
    return isinstance(obj, dict) and "network" in obj and "uri" in obj


def posts_from_objects(objects: Iterable[Any], source: str) -> tuple[list[Post], list[str]]:
    """Normalise every object by the network that sent it; a malformed one is reported and skipped, never fatal."""
    from plnfilter.sources import registry

    posts: list[Post] = []
    problems: list[str] = []
    for index, obj in enumerate(objects):
        network = registry.recognise(obj)
        try:
            if network is not None:
                posts.append(network.to_post(obj, source))
            elif is_row(obj):
                posts.append(post_from_row(obj, source))
            else:
                problems.append(f"item {index + 1}: not a Mastodon status, Bluesky post or plnfilter row")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            ident = obj.get("uri") or obj.get("post", {}).get("uri") if isinstance(obj, dict) else None
            problems.append(f"item {index + 1} ({ident or 'no uri'}): skipped, {type(exc).__name__}: {exc}")
    return posts, problems


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
    from plnfilter.sources import registry

    if not values.get("uri") or values.get("network") not in registry.post_networks():
        raise ValueError("row lacks a uri or a network")
    return Post(**values)
