"""Sources: each filter-file source expands into timelines; a timeline yields pages of Posts.

One package per network (`mastodon/`, `bluesky/`, `files/`), registered in `registry.py`; this
module hands out what they all speak: Page, FetchContext, Timeline, and Refreshed for count refresh
(defined in `base.py`, built when first asked for).
A network imports its SDK only inside `fetch`, so `plnfilter query` never pays for atproto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from plnfilter.lazy import attributes_of

if TYPE_CHECKING:
    from plnfilter.filterfile import SourceSpec
    from plnfilter.post import Post
    from plnfilter.sources.base import FetchContext, Page, Refreshed, StreamEvent, Subscription, Timeline

# The classes of `sources/base.py`, built when first asked for (`from plnfilter.sources import Page`
# works as before): scoring asks the registry, below this package, and needs none of them.
__all__ = ["FetchContext", "Page", "Refreshed", "StreamEvent", "Subscription", "Timeline"]
__getattr__ = attributes_of(__name__, "base", __all__)  # the names so far; the module's own follow
__all__ += ["in_chunks", "matched", "streaming", "timelines"]


def in_chunks(items: list[str], size: int, ctx: FetchContext, source: str) -> Iterator[list[str]]:
    """`items` a request's worth at a time, for the multi-get methods a refresh uses; SourceError
    when --max-time passes between two requests."""
    from plnfilter.errors import SourceError

    for start in range(0, len(items), size):
        if start and ctx.past_deadline():
            raise SourceError(source, "stopped by --max-time", "the next run refreshes the rest")
        yield items[start : start + size]


def streaming(timeline: Timeline):
    """The network package of `timeline` when it offers a live stream for it (its optional
    `streams(timeline)` and `subscribe(timeline, ctx, position)`), else None: polled instead."""
    from plnfilter.sources import registry

    module = registry.network(timeline.network)
    streams = getattr(module, "streams", None)
    return module if streams is not None and streams(timeline) else None


_MALFORMED = (ValueError, TypeError, AttributeError, KeyError)


def matched(wanted: set[str], answers: list[dict], to_post: Callable[[dict], Post]) -> Refreshed:
    """The answers that are the posts asked about (by uri), normalised; malformed ones noted."""
    from plnfilter.sources.base import Refreshed

    posts: dict[str, Post] = {}
    problems: list[str] = []
    for answer in answers:
        try:
            post = to_post(answer)
        except _MALFORMED as exc:
            problems.append(f"skipped a malformed answer: {exc}")
            continue
        if post.uri in wanted:
            posts[post.uri] = post
    return Refreshed(list(posts.values()), len(wanted), sorted(wanted - set(posts)), problems)


def timelines(spec: SourceSpec) -> list[Timeline]:
    """Expand one filter-file source into the timelines it names."""
    from plnfilter.sources import registry

    return registry.network(spec.kind).timelines(spec)
