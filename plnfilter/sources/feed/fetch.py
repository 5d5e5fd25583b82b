"""Feed timelines: one per feed address, fetched whole each run with a conditional GET.

Cursor = the validators the server sent (`{"etag": ..., "modified": ...}` as JSON): sent back as
If-None-Match / If-Modified-Since, so an unchanged feed is one 304 and no parsing. A changed feed is
parsed and every item in it saved (an upsert by identity, see normalize.py), with the new validators
as cursor in the same page: nothing is skipped, nothing duplicated, and items a feed no longer lists
stay archived.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from plnfilter.errors import SourceError
from plnfilter.sources import FetchContext, Page

if TYPE_CHECKING:
    from plnfilter.filterfile import SourceSpec


@dataclass
class FeedTimeline:
    """One feed; `problem` is an error found while expanding the source (a broken OPML file)."""

    name: str
    host: str
    spec: str
    url: str
    max_bytes: int
    problem: SourceError | None = None
    network: str = "feed"

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Page]:
        from plnfilter.sources.feed.http import get_feed
        from plnfilter.sources.feed.normalize import to_post
        from plnfilter.sources.feed.parse import parse_document

        if self.problem is not None:
            raise self.problem
        validators = _validators(cursor)
        got = get_feed(self.url, validators, ctx, self.name, self.max_bytes)
        if got.status == 304:
            return
        doc = parse_document(got.body, got.content_type, self.url, self.name)
        posts, problems = [], list(doc.problems)
        for item in doc.items:
            raw = {"feed": self.url, "feed_title": doc.title, "feed_link": doc.link, "item": item}
            try:
                posts.append(to_post(raw, self.name))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                problems.append(f"skipped a malformed item {str(item.get('id'))[:80]!r}: {exc}")
        cursor_now = json.dumps({"etag": got.etag, "modified": got.modified}, sort_keys=True)
        yield Page(posts, cursor_now, problems)


def _validators(cursor: str | None) -> dict:
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def timelines(spec: SourceSpec) -> list[FeedTimeline]:
    """One timeline per feed: the URL written, each of `feeds:`, or each subscription of an OPML file."""
    from plnfilter.sources.feed.opml import OpmlError, feeds_in
    from plnfilter.sources.feed.options import DEFAULT_MAX_SIZE

    max_bytes = int(spec.options.get("max_size") or DEFAULT_MAX_SIZE)
    name = spec.options.get("name") or ""
    if spec.options.get("opml"):
        try:
            urls = feeds_in(spec.target)
        except OpmlError as exc:
            label = name or f"opml:{spec.target}"
            return [
                FeedTimeline(
                    label, "", f"opml: {spec.target}", "", max_bytes, SourceError(label, exc.problem, exc.fix)
                )
            ]
    else:
        urls = spec.target.split()
    return [
        FeedTimeline(f"feed:{url}", urlsplit(url).netloc.lower(), f"feed: {url}", url, max_bytes)
        for url in urls
    ]
