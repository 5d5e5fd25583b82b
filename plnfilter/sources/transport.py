"""The HTTP habits every network shares: rate-limit waits bounded by `--max-wait` and `--max-time`,
and transient failures (502/503/504, a connection reset, a read timeout) tried again a few times
with jittered exponential backoff, never past `--max-time`. What still fails is the SourceError the
network phrased for it (exit 3 for the run, the cursor kept for the next one).

A network's request code raises `Transient(error, what)` for a failure worth another try and calls
`with_retries` around one request; it calls `wait_for_rate_limit` before a request when the
server's limit is spent. Every retry is counted in `FetchContext.retries` for the run report.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from plnfilter.errors import RateLimited, SourceError
from plnfilter.sources import FetchContext

T = TypeVar("T")
MAX_RETRIES = 3  # tries after the first, for one request
BASE_DELAY = 0.5  # seconds before the first retry; doubled each time, then jittered
MAX_DELAY = 8.0
RETRIED_STATUS = frozenset({502, 503, 504})  # a proxy or an overloaded server: likely gone in a moment


class Transient(Exception):
    """A failure worth another try; `error` is raised once the tries run out."""

    def __init__(self, error: SourceError, what: str) -> None:
        super().__init__(what)
        self.error = error
        self.what = what


def backoff(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry `attempt + 1`: 0.5, 1, 2... (capped), each between half and 1.5 times that."""
    return min(MAX_DELAY, BASE_DELAY * 2**attempt) * (0.5 + rng())


def with_retries(
    call: Callable[[], T], ctx: FetchContext, source: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    """`call()`, tried again after a Transient failure, at most MAX_RETRIES times and never when the
    backoff would end past the run's deadline; then the failure's own SourceError."""
    attempt = 0
    while True:
        try:
            return call()
        except Transient as exc:
            delay = backoff(attempt)
            left = ctx.seconds_left()
            if attempt >= MAX_RETRIES or (left is not None and delay >= left):
                error = exc.error
                if attempt:
                    error = type(error)(
                        error.source, f"{_reason(error)} (after {attempt + 1} tries)", error.hint
                    )
                raise error from None
            attempt += 1
            ctx.count_retry(source)
            ctx.log(f"{source}: {exc.what}; retry {attempt} of {MAX_RETRIES} in {delay:.1f}s")
            sleep(delay)


def _reason(error: SourceError) -> str:
    return error.message.removeprefix(f"source {error.source}: ")


def wait_for_rate_limit(
    ctx: FetchContext,
    wait: float,
    announce: str,
    refuse: Callable[[float], RateLimited],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Sleep `wait` seconds for a spent rate limit to reset when that fits within --max-wait and
    --max-time (saying so with `announce`); otherwise raise `refuse(wait)`."""
    if wait <= 0:
        return
    left = ctx.seconds_left()
    if wait > ctx.max_wait or (left is not None and wait > left):
        raise refuse(wait)
    ctx.log(announce)
    sleep(wait)
