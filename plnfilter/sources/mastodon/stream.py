"""Mastodon's streaming API over server-sent events: a timeline's new statuses as they are posted.

`GET /api/v1/streaming/hashtag?tag=` (or `hashtag/local`), `/list?list=ID`, `/user` (home) and
`/public` (`/public/local`, `/public/remote`) hold
a `text/event-stream` open; `event: update` carries a status as the REST timelines send it. The
server subscribes us before it answers, so events are buffered from the moment `subscribe`
returns. A reader thread fills a bounded buffer (plnfilter/sources/streaming.py).
https://docs.joinmastodon.org/methods/streaming/
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from plnfilter.errors import RateLimited, SourceError
from plnfilter.sources import FetchContext, StreamEvent
from plnfilter.sources.mastodon.normalize import to_post
from plnfilter.sources.streaming import EventBuffer
from plnfilter.sources.transport import Transient

if TYPE_CHECKING:
    from plnfilter.sources.mastodon.fetch import MastodonTimeline

READ_TIMEOUT = 90.0  # seconds without a byte (servers send a heartbeat comment every 15-30 s)
STREAMED = ("tag", "list", "home", "public")  # account timelines have no stream: polled
PUBLIC_ONLY = ("tag", "public")  # timelines whose REST form shows public statuses only
POSTS = ("update", "status.update")  # a new status, an edited one; notifications and deletes are not posts


def streams(timeline: MastodonTimeline) -> bool:
    return timeline.kind in STREAMED


def stream_endpoint(timeline: MastodonTimeline, client) -> tuple[str, dict[str, str]]:
    """The streaming path and parameters for a timeline (a list name resolved to its id)."""
    from plnfilter.sources.mastodon.fetch import resolve_list

    if timeline.kind == "tag":
        local = "/local" if timeline.options.get("local") else ""
        return f"/api/v1/streaming/hashtag{local}", {"tag": timeline.value}
    if timeline.kind == "list":
        return "/api/v1/streaming/list", {"list": resolve_list(client, timeline.value)}
    if timeline.kind == "public":
        params = {"only_media": "true"} if timeline.options.get("only_media") else {}
        if timeline.value == "local":
            return "/api/v1/streaming/public/local", params
        if timeline.options.get("remote"):
            return "/api/v1/streaming/public/remote", params
        return "/api/v1/streaming/public", params
    return "/api/v1/streaming/user", {}


class SseSubscription:
    """One open event stream and the reader thread filling its buffer."""

    def __init__(self, timeline: MastodonTimeline, ctx: FetchContext) -> None:
        from plnfilter.sources.mastodon.auth import token_for
        from plnfilter.sources.mastodon.client import MastodonClient

        self.timeline = timeline
        client = MastodonClient(timeline.instance, token_for(timeline.instance), ctx, timeline.name)
        self.host = client.host
        endpoint, params = stream_endpoint(timeline, client)
        self.response = _connect(client, endpoint, params, ctx)
        self.buffer = EventBuffer(timeline.name, self.host)
        self.reader = threading.Thread(target=self._read, daemon=True, name=f"stream {timeline.name}")
        self.reader.start()

    def events(self, wait: float) -> Iterator[StreamEvent]:
        return self.buffer.events(wait)

    def close(self) -> None:
        self.buffer.end("closed")
        try:
            self.response.close()
        except Exception:  # noqa: S110 - closing a connection that is already gone
            pass

    def _read(self) -> None:
        try:
            for name, data in sse_events(self.response.iter_content(chunk_size=None)):
                if self.buffer.ended.is_set():
                    return
                event = decode_event(self.timeline, self.host, name, data)
                if event is not None and not self.buffer.offer(event):
                    return
        except Exception as exc:  # the connection broke, timed out or was closed: the caller reconnects
            self.buffer.end(type(exc).__name__)
        finally:
            self.buffer.end()
            try:
                self.response.close()
            except Exception:  # noqa: S110
                pass


def decode_event(timeline: MastodonTimeline, host: str, name: str, data: str) -> StreamEvent | None:
    """A post event as a StreamEvent; None for events that are not posts or not on the REST timeline."""
    if name not in POSTS:
        return None
    try:
        status = json.loads(data)
        if not isinstance(status, dict):
            raise TypeError(f"a {type(status).__name__}, not a status")
    except (ValueError, TypeError) as exc:
        return StreamEvent(problem=f"skipped a malformed {name} event from {host}: {exc}")
    # The REST tag and public timelines show public statuses only; a stream may carry unlisted ones.
    if timeline.kind in PUBLIC_ONLY and status.get("visibility") not in (None, "public"):
        return None
    try:
        return StreamEvent(to_post(status, timeline.instance, timeline.name))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return StreamEvent(problem=f"skipped malformed status {status.get('id')!r} from the stream: {exc}")


def _connect(client, endpoint: str, params: dict[str, Any], ctx: FetchContext):
    """The open streaming response; SourceError (Transient ones included) when it cannot be had."""
    import requests

    try:
        response = client.session.get(
            client.base + endpoint,
            params=params,
            stream=True,
            timeout=(ctx.timeout, READ_TIMEOUT),
            auth=lambda request: request,  # never a ~/.netrc login instead of our token
            headers={"Accept": "text/event-stream"},
        )
    except requests.exceptions.RequestException:
        raise SourceError(
            client.source, f"could not open the stream at {client.host}", "reconnecting with backoff"
        ) from None
    if response.status_code == 429:
        response.close()
        raise RateLimited(
            client.source,
            f"{client.host} answered 429 Too Many Requests to the stream",
            "reconnecting with backoff",
        )
    if response.status_code >= 400:
        try:
            client._raise_for(response, endpoint, False)
        except Transient as exc:  # 502/503/504: `watch` reconnects with its own backoff
            raise exc.error from None
        finally:
            response.close()
    return response


def sse_events(chunks: Iterator[bytes]) -> Iterator[tuple[str, str]]:
    """(event name, data) for each event of a `text/event-stream`; comments (heartbeats) skipped.
    https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
    """
    pending = b""
    name = ""
    data: list[str] = []
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if data:
                    yield name or "message", "\n".join(data)
                name, data = "", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if len(pending) > 8_000_000:  # one line of 8 MB is no status: drop it rather than grow
            pending = b""


def subscribe(timeline: MastodonTimeline, ctx: FetchContext, position: str | None = None) -> SseSubscription:
    """Subscribe to a timeline's stream (`position` is unused: Mastodon streams do not resume)."""
    return SseSubscription(timeline, ctx)
