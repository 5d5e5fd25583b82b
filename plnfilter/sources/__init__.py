"""Sources: each filter-file source expands into timelines; a timeline yields pages of Posts.

A source module (`files`, `mastodon`, `bluesky`) exposes `timelines(spec) -> list[Timeline]`
and imports its SDK only inside `fetch`, so `plnfilter query` never pays for atproto.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from plnfilter.filterfile import SourceSpec
    from plnfilter.post import Post


@dataclass(frozen=True)
class Page:
    """Posts to save in one transaction, with the cursor that covers them.

    `cursor=None` leaves the saved cursor unchanged: a source walking backwards in time
    (a first run, a search) only yields its new cursor with the page that completes the walk,
    so a run killed half-way redoes the walk instead of leaving a gap.
    """

    posts: list[Post]
    cursor: str | None = None
    problems: list[str] = field(default_factory=list)  # e.g. "skipped malformed post at://..."


@dataclass
class FetchContext:
    """What every fetch needs to know about this run."""

    since: datetime  # horizon for a first run (no cursor yet)
    max_pages: int | None = None  # per timeline per run; None = the source's own default
    timeout: float = 20.0  # seconds per request
    max_wait: float = 30.0  # the longest rate-limit wait worth sitting out
    deadline: float | None = None  # time.monotonic() value by which to stop (--max-time)
    log: Callable[[str], None] = field(default=lambda message: None)

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def in_chunks(items: list[str], size: int, ctx: FetchContext, source: str) -> Iterator[list[str]]:
    """`items` a request's worth at a time, for the multi-get methods a refresh uses; SourceError
    when --max-time passes between two requests."""
    from plnfilter.errors import SourceError

    for start in range(0, len(items), size):
        if start and ctx.past_deadline():
            raise SourceError(source, "stopped by --max-time", "the next run refreshes the rest")
        yield items[start : start + size]


class Timeline(Protocol):
    """One incremental stream with its own cursor (one hashtag on one instance, one list...)."""

    name: str  # unique key in the `sources` table, e.g. "mastodon:mastodon.social/tag/edtech"
    network: str  # "mastodon" | "bluesky" | "file"
    host: str  # concurrency is bounded per host
    spec: str  # the source as written, for `plnfilter sources`

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Page]:
        """Yield pages oldest-cursor-safe; raise SourceError after yielding what was fetched."""
        ...


_MODULES = {
    "file": "plnfilter.sources.files.replay",
    "mastodon": "plnfilter.sources.mastodon.fetch",
    "bluesky": "plnfilter.sources.bluesky.fetch",
}


def timelines(spec: SourceSpec) -> list[Timeline]:
    """Expand one filter-file source into the timelines it names."""
    module = importlib.import_module(_MODULES[spec.kind])
    return module.timelines(spec)
