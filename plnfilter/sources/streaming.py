"""What every network's live stream shares: a bounded buffer filled by a reader thread, read by
`watch`'s follower (plnfilter/follow.py) through `events(wait)`.

When the buffer is full the stream is ended rather than grown: the follower reconnects and its
REST catch-up fetches what was not read, so memory stays bounded whatever the stream's rate.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from plnfilter.errors import SourceError
from plnfilter.sources import StreamEvent

BUFFER = 5000  # events held for the follower; more means the writer is far behind


class EventBuffer:
    """The buffer of one subscription, and why its connection ended."""

    def __init__(self, source: str, host: str, size: int = BUFFER) -> None:
        self.source, self.host, self.size = source, host, size
        self.buffer: queue.Queue[StreamEvent] = queue.Queue(maxsize=size)
        self.ended = threading.Event()
        self.reason = ""

    def offer(self, event: StreamEvent) -> bool:
        """Buffer an event; False (and the stream marked ended) when the buffer is full."""
        try:
            self.buffer.put_nowait(event)
            return True
        except queue.Full:
            self.end(f"more than {self.size} events waiting to be saved")
            return False

    def end(self, reason: str = "") -> None:
        self.reason = self.reason or reason
        self.ended.set()

    def events(self, wait: float) -> Iterator[StreamEvent]:
        """What is buffered, then what arrives within `wait` s; SourceError once ended and drained."""
        until = time.monotonic() + wait
        while True:
            try:
                yield self.buffer.get(timeout=max(0.0, min(0.2, until - time.monotonic())))
                continue
            except queue.Empty:
                pass
            if self.ended.is_set() and self.buffer.empty():
                raise SourceError(
                    self.source,
                    f"the stream from {self.host} ended: {self.reason or 'closed by the server'}",
                    "reconnecting, then catching up from the saved cursor",
                )
            if time.monotonic() >= until:
                return
