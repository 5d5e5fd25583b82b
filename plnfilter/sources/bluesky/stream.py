"""Bluesky live streams for `watch`: Jetstream by default, a PDS or relay firehose when a source asks.

A hashtag (a `hashtags:` search without `q:`) or an author can be followed live; lists, feeds,
`q:` searches and the home timeline cannot (the stream does not say what they would show) and are
polled. `stream:` in the source chooses: `jetstream` (default; `stream_url:` or
$PLNFILTER_JETSTREAM names another instance), `firehose` (`com.atproto.sync.subscribeRepos` of
`stream_url:`, else of the source's `service:`), or `off`.

The clients are atproto's own (`atproto_jetstream.JetstreamClient`, the `subscribeRepos` client of
`atproto_firehose`), run in a thread; two hooks adapt them to `watch`: the subscription counts as
made once the websocket handshake is done, and a dropped connection ends it (instead of the
client's own reconnect) so that `watch` catches up over REST before it subscribes again. For speed
a Jetstream frame is read as plain JSON (~4x faster than building its pydantic model); the
client's cursor tracking and deduplication by `seq` are kept.
Jetstream: https://github.com/bluesky-social/jetstream  Firehose: https://atproto.com/specs/event-stream
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from plnfilter.errors import SourceError
from plnfilter.sources import FetchContext, StreamEvent
from plnfilter.sources.bluesky.events import firehose_posts, jetstream_frame, jetstream_post
from plnfilter.sources.bluesky.normalize import MalformedPost, to_post
from plnfilter.sources.streaming import EventBuffer

DEFAULT_JETSTREAM = "wss://jetstream.us-east.bsky.network/xrpc"
STREAMS = ("jetstream", "firehose", "off")
POSITION_EVERY = 1.0  # seconds between position-only events when nothing matches


def streams(timeline) -> bool:
    """Whether `watch` can follow this timeline live (else it is polled)."""
    if str(timeline.options.get("stream") or "jetstream") == "off":
        return False
    if timeline.kind == "search":
        return bool(timeline.target) and not timeline.options.get("q")
    return timeline.kind == "author"


def stream_misses(timeline) -> bool:
    """An author's feed also shows their reposts, which a post stream does not carry: `watch`
    fetches the feed every poll interval as well."""
    return timeline.kind == "author"


def stream_address(timeline) -> tuple[str, str]:
    """(kind, websocket base URI ending in /xrpc) of the stream this timeline follows."""
    kind = str(timeline.options.get("stream") or "jetstream")
    url = str(timeline.options.get("stream_url") or "")
    if not url and kind == "jetstream":
        url = os.environ.get("PLNFILTER_JETSTREAM") or DEFAULT_JETSTREAM
    if not url:
        url = timeline.service
    if not url:
        raise SourceError(
            timeline.name,
            "a firehose stream needs the address of a PDS or relay",
            "add `stream_url: wss://HOST` (or `service:`) to the source, or write `stream: jetstream`",
        )
    parts = urlsplit(url if "://" in url else f"wss://{url}")
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith("/xrpc"):
        path += "/xrpc"
    return kind, f"{scheme}://{parts.netloc}{path}"


def subscribe(timeline, ctx: FetchContext, position: str | None = None) -> BlueskySubscription:
    return BlueskySubscription(timeline, ctx, position)


class BlueskySubscription:
    """A Jetstream or firehose client in a thread, its matching posts in a bounded buffer."""

    def __init__(self, timeline, ctx: FetchContext, position: str | None) -> None:
        self.timeline = timeline
        self.kind, base_uri = stream_address(timeline)
        self.buffer = EventBuffer(timeline.name, urlsplit(base_uri).netloc)
        self.connected = threading.Event()
        self.did = _author_did(timeline, ctx) if timeline.kind == "author" else ""
        self.matcher = Matcher(timeline, self.did)
        self._last_position = 0.0
        self.client = self._client(base_uri, position)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"stream {timeline.name}")
        self.thread.start()
        deadline = time.monotonic() + ctx.timeout
        while not self.connected.wait(0.05):
            if self.buffer.ended.is_set() or time.monotonic() > deadline:
                self.close()
                raise SourceError(
                    timeline.name,
                    f"could not open the {self.kind} stream at {self.buffer.host}"
                    + (f": {self.buffer.reason}" if self.buffer.reason else ""),
                    "check `stream_url:`/`service:`; reconnecting with backoff",
                )

    def events(self, wait: float) -> Iterator[StreamEvent]:
        return self.buffer.events(wait)

    def close(self) -> None:
        self.buffer.end("closed")
        self.client.stop()

    def _client(self, base_uri: str, position: str | None):
        cursor = int(position) if position and position.isdigit() else None
        if self.kind == "firehose":
            client = _firehose_class()(base_uri=base_uri, params={"cursor": cursor} if cursor else None)
        else:
            params: dict[str, Any] = {"collections": ["app.bsky.feed.post"]}
            if self.did:
                params["dids"] = [self.did]
            client = _jetstream_class()(params=params, base_uri=base_uri)
            if cursor:
                client._track_cursor(cursor)  # resume there; redelivered events are dropped
        client.subscription = self
        return client

    def _run(self) -> None:
        try:
            self.client.start(self._on_firehose if self.kind == "firehose" else self._on_jetstream)
        except Exception as exc:  # a refused handshake (4xx), a bad address
            self.buffer.end(_describe(exc))
        finally:
            self.buffer.end()

    def _on_jetstream(self, payload: dict) -> None:
        seq = payload.get("seq")
        position = str(seq) if isinstance(seq, int) else None
        try:
            view = jetstream_post(payload)
        except MalformedPost as exc:
            self.buffer.offer(
                StreamEvent(problem=f"skipped a malformed Jetstream event: {exc}", position=position)
            )
            return
        self._consider(view, position)

    def _on_firehose(self, message) -> None:
        from atproto_firehose import parse_subscribe_repos_message

        try:
            commit = parse_subscribe_repos_message(message)
        except Exception as exc:  # an event the SDK's models reject
            self.buffer.offer(StreamEvent(problem=f"skipped a malformed firehose event: {_describe(exc)}"))
            return
        seq = getattr(commit, "seq", None)
        position = str(seq) if isinstance(seq, int) else None
        if type(commit).__name__ != "Commit" or (self.did and commit.repo != self.did):
            self._consider(None, position)
            return
        try:
            views = firehose_posts(commit)
        except Exception as exc:  # a damaged CAR, a missing block
            self.buffer.offer(StreamEvent(problem=f"skipped a malformed firehose commit: {_describe(exc)}"))
            return
        for view in views or [None]:
            self._consider(view, position)

    def _consider(self, view: dict | None, position: str | None) -> None:
        """Buffer a post this timeline would show (or a problem); now and then just the position."""
        event = self.matcher.event(view, position) if view is not None else None
        if event is not None:
            self.buffer.offer(event)
            self._last_position = time.monotonic()
        elif position and time.monotonic() - self._last_position >= POSITION_EVERY:
            self._last_position = time.monotonic()
            self.buffer.offer(StreamEvent(position=position))


class Matcher:
    """What one timeline keeps of a stream's post views: its author's posts, or its hashtag's
    (and language's), decided as its REST fetch decides (`BlueskyTimeline._keeper`)."""

    def __init__(self, timeline, did: str = "") -> None:
        self.source = timeline.name
        self.did = did
        self.keep = timeline._keeper()
        self.needle = timeline.target.lower() if timeline.kind == "search" else ""

    def event(self, view: dict, position: str | None = None) -> StreamEvent | None:
        if not self._may_match(view):
            return None
        try:
            post = to_post(view, self.source)
        except MalformedPost as exc:
            return StreamEvent(problem=f"skipped a malformed streamed post: {exc}", position=position)
        return StreamEvent(post, position=position) if self.keep(post, view) else None

    def _may_match(self, view: dict) -> bool:
        """A cheap look before normalising: the author, or the tag somewhere in the record."""
        if self.did:
            return view["author"]["did"] == self.did
        if not self.needle:
            return True
        record = view["record"]
        text = record.get("text")
        if isinstance(text, str) and self.needle in text.lower():
            return True
        return (
            self.needle in repr(record.get("tags") or "").lower()
            or self.needle in repr(record.get("facets") or "").lower()
        )


def jetstream_events(frames, matcher: Matcher) -> tuple[list[StreamEvent], int]:
    """(events kept, frames read) for raw Jetstream frames: the decoding `watch` does, without a
    connection (tests and `make bench`)."""
    found: list[StreamEvent] = []
    count = 0
    for raw in frames:
        count += 1
        try:
            payload = jetstream_frame(raw)
            view = jetstream_post(payload)
        except (ValueError, MalformedPost) as exc:
            found.append(StreamEvent(problem=f"skipped a malformed Jetstream frame: {exc}"))
            continue
        if view is not None:
            seq = payload.get("seq")
            event = matcher.event(view, str(seq) if isinstance(seq, int) else None)
            if event is not None:
                found.append(event)
    return found, count


def _author_did(timeline, ctx: FetchContext) -> str:
    """The author's DID (a handle resolved once through the AppView)."""
    if timeline.target.startswith("did:"):
        return timeline.target
    from plnfilter.sources.bluesky.session import appview_service, connect

    conn = connect(timeline.name, timeline.service or appview_service(), ctx, False)
    answer = conn.get("com.atproto.identity.resolveHandle", {"handle": timeline.target}, "check the handle")
    did = answer.get("did") if isinstance(answer, dict) else None
    if not isinstance(did, str) or not did.startswith("did:"):
        raise SourceError(timeline.name, f"{timeline.target} did not resolve to a DID", "check the handle")
    return did


def _describe(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}")[:300]


class _Hooks:
    """Adapts an atproto websocket client to `watch`: connected after the handshake; a drop ends it."""

    subscription: BlueskySubscription

    def _get_client(self):
        client = super()._get_client()  # the websocket handshake is done when this returns
        self.subscription.connected.set()
        return client

    def _handle_websocket_error_or_stop(self, exception: Exception) -> bool:
        self.subscription.buffer.end(_describe(exception))
        return True  # stop: `watch` catches up over REST, then subscribes again


_CLASSES: dict[str, type] = {}


def _jetstream_class() -> type:
    if "jetstream" not in _CLASSES:
        from atproto_jetstream import JetstreamClient

        class Jetstream(_Hooks, JetstreamClient):
            def _decode_frame(self, raw_frame):
                """The frame's payload as plain JSON; the cursor tracked and redeliveries dropped as
                the SDK does (`_JetstreamClientMixin._decode_frame`)."""
                if self._compression is not None and isinstance(raw_frame, bytes | bytearray):
                    raw_frame = self._compression.decompress(bytes(raw_frame))
                try:
                    payload = jetstream_frame(raw_frame)
                except ValueError as exc:
                    _raise_for_error_frame(raw_frame)
                    self.subscription.buffer.offer(
                        StreamEvent(problem=f"skipped a malformed Jetstream frame: {exc}")
                    )
                    return None
                seq = payload.get("seq")
                if isinstance(seq, int):
                    if self._cursor is not None and seq <= self._cursor:
                        return None
                    self._track_cursor(seq)
                return payload

        _CLASSES["jetstream"] = Jetstream
    return _CLASSES["jetstream"]


def _raise_for_error_frame(raw_frame) -> None:
    """An error frame (ConsumerTooSlow, ...) ends the connection, as the SDK's client does."""
    from atproto_jetstream.models import ErrorFrame, parse_frame

    try:
        frame = parse_frame(raw_frame)
    except Exception:
        return
    if isinstance(frame, ErrorFrame):
        raise RuntimeError(f"Jetstream sent error {frame.error}: {frame.message or ''}")


def _firehose_class() -> type:
    if "firehose" not in _CLASSES:
        from atproto_firehose import FirehoseSubscribeReposClient

        class Firehose(_Hooks, FirehoseSubscribeReposClient):
            pass

        _CLASSES["firehose"] = Firehose
    return _CLASSES["firehose"]
