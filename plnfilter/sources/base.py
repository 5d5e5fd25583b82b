"""What every network speaks: Page, FetchContext, StreamEvent, Subscription, Timeline and Refreshed.

`plnfilter.sources` hands them out (its `__getattr__`) and holds the functions; they live here so
that a command that only scores posts (`top`, `links`), which asks the registry whether a network
has counts, does not build these classes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
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
    # uri -> (post, what the archive stores of it: `store.rows.stored_form`), prepared by the fetch
    # thread (`fetching.prepared`) so the single writer does not; the writer prepares what is missing.
    prepared: dict[str, tuple[Post, tuple]] = field(default_factory=dict, repr=False)


@dataclass
class FetchContext:
    """What every fetch needs to know about this run."""

    since: datetime  # horizon for a first run (no cursor yet)
    max_pages: int | None = None  # per timeline per run; None = the source's own default
    timeout: float = 20.0  # seconds per request
    max_wait: float = 30.0  # the longest rate-limit wait worth sitting out
    deadline: float | None = None  # time.monotonic() value by which to stop (--max-time)
    log: Callable[[str], None] = field(default=lambda message: None)
    retries: dict[str, int] = field(default_factory=dict)  # source name -> transient failures retried
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def count_retry(self, source: str) -> None:
        with self._lock:
            self.retries[source] = self.retries.get(source, 0) + 1


@dataclass(frozen=True)
class StreamEvent:
    """One event of a live stream that matters: a post, or a malformed event skipped (`problem`).

    `position` is the stream's own resume point (Bluesky's `time_us` or `seq`) when it has one.
    """

    post: Post | None = None
    problem: str = ""
    position: str | None = None


class Subscription(Protocol):
    """A live stream already subscribed: events are buffered from the moment it is returned."""

    def events(self, wait: float) -> Iterator[StreamEvent]:
        """Events buffered so far, then whatever arrives within `wait` seconds; SourceError once the
        connection has ended (dropped, server gone, buffer overflowed)."""
        ...

    def close(self) -> None: ...


class Timeline(Protocol):
    """One incremental stream with its own cursor (one hashtag on one instance, one list...)."""

    name: str  # unique key in the `sources` table, e.g. "mastodon:mastodon.social/tag/edtech"
    network: str  # its network's name in sources/registry.py
    host: str  # concurrency is bounded per host
    spec: str  # the source as written, for `plnfilter sources`

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Page]:
        """Yield pages oldest-cursor-safe; raise SourceError after yielding what was fetched."""
        ...


@dataclass
class Refreshed:
    """What one count-refresh request brought back: current versions of archived posts (only their
    counts are kept)."""

    posts: list[Post]
    asked: int  # posts asked about
    missing: list[str]  # uris not returned: deleted, no longer visible, or unknown to that server
    problems: list[str] = field(default_factory=list)
    requests: int = 1
    # What the request taught about the server's API, kept per server by the archive: a quirk
    # (something it lacks) -> True when seen now, False when it is gone (the server was upgraded).
    learnt: dict[str, bool] = field(default_factory=dict)
