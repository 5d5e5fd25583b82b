"""Following one timeline for `watch`, in its own thread, handing pages to the one writer.

With a stream (the network's optional `streams`/`subscribe`), every connection repeats the same
sequence, so nothing falls between REST and the stream and nothing is handed over twice:
1. subscribe (the stream buffers from then on);
2. catch up over REST from the cursor (the timeline's own `fetch`, as `run` does), until a
   fetch brings nothing newer; only these pages move the cursor;
3. drain the buffer, skipping the posts the catch-up fetched;
4. follow the stream (pages without a cursor) until it ends, then back off and start again.
A stream may drop events (a full server-side queue, a cut connection): the next catch-up
fetches them, because the cursor never moved past them. While a stream flows, steps 2-3 are
repeated every `resync_every` seconds (600 by default; every poll interval for a stream that leaves out part of
its timeline), so even a drop the connection never reports is fetched. Without a stream: the catch-up alone,
every `poll_every` seconds.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import dataclass, field

from plnfilter.errors import PlnError, SourceError
from plnfilter.fetching import prepared
from plnfilter.sources import FetchContext, Page, streaming

STREAM_PAGE = 200  # posts handed over at once while following a busy stream
BACKOFF_BASE = 1.0  # seconds before the first reconnect; doubled per failure
BACKOFF_CAP = 60.0
RESYNC_EVERY = 600.0  # seconds between catch-ups while a stream flows: what it dropped silently is fetched


@dataclass
class FollowStats:
    """Counts every follower adds to, for the session's record."""

    malformed: int = 0
    reconnects: int = 0
    positions: dict[str, str] = field(default_factory=dict)  # timeline name -> stream position
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, malformed: int = 0, reconnects: int = 0) -> None:
        with self._lock:
            self.malformed += malformed
            self.reconnects += reconnects


class Backoff:
    """Jittered exponential waits between reconnects, reset once a connection has worked."""

    def __init__(self, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.failures) * random.uniform(0.5, 1.0)  # noqa: S311
        self.failures = min(self.failures + 1, 16)
        return delay

    def reset(self) -> None:
        self.failures = 0


def hand_over(out: queue.Queue, item, stop: threading.Event) -> bool:
    """Put an item on the writer's bounded queue, waiting while it is full; False once stopping.

    A page's rows are prepared here, in the follower's thread (see `fetching.prepared`)."""
    timeline, page = item
    if isinstance(page, Page):
        item = (timeline, prepared(page))
    while not stop.is_set():
        try:
            out.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False


def catch_up(timeline, cursor: str | None, out: queue.Queue, stop: threading.Event, ctx: FetchContext):
    """Fetch over REST from `cursor` until nothing newer comes; returns (cursor, uris fetched)."""
    fetched: set[str] = set()
    while not stop.is_set():
        before = cursor
        for page in timeline.fetch(cursor, ctx):
            if not hand_over(out, (timeline, page), stop):
                return cursor, fetched
            fetched.update(post.uri for post in page.posts)
            if page.cursor:
                cursor = page.cursor
        if cursor == before:
            break
    return cursor, fetched


def follow(
    timeline,
    cursor: str | None,
    position: str | None,
    out: queue.Queue,
    stop: threading.Event,
    ctx: FetchContext,
    poll_every: float,
    stats: FollowStats,
    resync_every: float = RESYNC_EVERY,
) -> None:
    """Follow `timeline` until `stop` is set; failures are handed to the writer and retried."""
    network = streaming(timeline)
    backoff = Backoff()
    while not stop.is_set():
        subscription = None
        try:
            if network is None:
                cursor, _ = catch_up(timeline, cursor, out, stop, ctx)
                backoff.reset()
                stop.wait(poll_every)
                continue
            subscription = network.subscribe(timeline, ctx, stats.positions.get(timeline.name, position))
            resync = min(poll_every, resync_every) if _misses(network, timeline) else resync_every
            while not stop.is_set():
                cursor, fetched = catch_up(timeline, cursor, out, stop, ctx)
                backoff.reset()
                _follow_stream(timeline, subscription, fetched, out, stop, stats, time.monotonic() + resync)
        except PlnError as exc:
            hand_over(out, (timeline, exc), stop)
        except Exception as exc:  # a bug or an SDK surprise must not end the session
            error = SourceError(
                timeline.name, f"unexpected {type(exc).__name__}: {exc}", "report this as a bug"
            )
            hand_over(out, (timeline, error), stop)
        finally:
            if subscription is not None:
                subscription.close()
        if not stop.is_set():
            stats.add(reconnects=1)
            stop.wait(backoff.next())


def _misses(network, timeline) -> bool:
    """Whether the stream leaves out some of what the REST timeline shows (the network's optional
    `stream_misses`, e.g. a Bluesky author's reposts): then the catch-up runs every poll interval."""
    misses = getattr(network, "stream_misses", None)
    return bool(misses is not None and misses(timeline))


def _follow_stream(timeline, subscription, fetched, out, stop, stats, until: float) -> None:
    """Hand over the stream's posts, skipping those the catch-up fetched, until `until` (time for
    the next catch-up) or the stream ends (SourceError, raised once what was read is handed over)."""
    while not stop.is_set() and time.monotonic() < until:
        posts, problems = [], []
        try:
            for event in subscription.events(0.5):
                if event.position:
                    stats.positions[timeline.name] = event.position
                if event.problem:
                    problems.append(event.problem)
                elif event.post is not None and event.post.uri not in fetched:
                    posts.append(event.post)
                if len(posts) >= STREAM_PAGE:
                    break
        finally:
            if problems:
                stats.add(malformed=len(problems))
            if posts or problems:
                hand_over(out, (timeline, Page(posts, None, problems)), stop)
