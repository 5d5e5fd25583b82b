"""The fetch pool: jobs (timelines, count refreshes) fetched in threads, bounded per host, their
items handed to one writer (the calling thread) through a bounded queue."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from plnfilter.errors import PlnError, SourceError
from plnfilter.sources import FetchContext, Page

PER_HOST = 2  # concurrent requests per host: polite, and enough to hide latency
MAX_THREADS = 16  # fetchers mostly wait on the network; 10 sources on 10 instances all run at once
MAX_BATCH_POSTS = 1000  # pages already waiting when the writer is free are saved in one transaction


class Batch(list):
    """A batch of (job, item); `more_waiting()` says whether items already wait behind it, so the
    writer can tell it is the bottleneck (the next batch comes without waiting on the network)."""

    def __init__(self, items: list[tuple[Any, Any]], more_waiting: Callable[[], bool]) -> None:
        super().__init__(items)
        self.more_waiting = more_waiting


def fetch_concurrently(
    jobs: list[Any], start: Callable[[Any], Iterable[Any]], ctx: FetchContext
) -> Iterator[Batch]:
    """Yield batches of (job, item) and (job, PlnError) for a failed job, as they arrive.

    A job has `name` and `host`; `start(job)` is its fetch, an iterator of items (Pages or what a
    refresh brings back). A batch is what has arrived by the time the writer asks: one item when
    the network is the bottleneck, several pages (up to MAX_BATCH_POSTS posts) when the writer is.
    """
    pages: queue.Queue = queue.Queue(maxsize=16)
    host_slots: dict[str, threading.Semaphore] = {}
    for job in jobs:
        host_slots.setdefault(job.host, threading.Semaphore(PER_HOST))
    starting = threading.Semaphore(MAX_THREADS)
    done = object()

    def more_waiting() -> bool:
        """An item (not just a thread's end) is queued: asking for the next batch will not block."""
        with pages.mutex:
            return any(item is not done for _, item in pages.queue)

    def worker(job: Any) -> None:
        with host_slots[job.host], starting:
            try:
                for page in start(job):
                    pages.put((job, prepared(page) if isinstance(page, Page) else page))
                    if ctx.past_deadline():
                        raise SourceError(job.name, "stopped by --max-time", "raise --max-time")
            except PlnError as exc:
                pages.put((job, exc))
            except Exception as exc:  # a bug or an SDK surprise must not kill the other sources
                pages.put(
                    (
                        job,
                        SourceError(
                            job.name, f"unexpected {type(exc).__name__}: {exc}", "report this as a bug"
                        ),
                    )
                )
            finally:
                pages.put((job, done))

    threads = [threading.Thread(target=worker, args=(job,), daemon=True, name=job.name) for job in jobs]
    for thread in threads:
        thread.start()
    remaining = len(threads)
    while remaining:
        timeout = None
        if ctx.deadline:
            timeout = max(ctx.deadline - time.monotonic(), 0) + 5.0
        try:
            arrived = [pages.get(timeout=timeout)]
        except queue.Empty:
            stopped = Batch(
                [
                    (
                        _by_name(jobs, thread.name),
                        SourceError(thread.name, "stopped by --max-time", "raise --max-time"),
                    )
                    for thread in threads
                    if thread.is_alive()
                ],
                more_waiting,
            )
            if stopped:
                yield stopped
            return
        posts = len(arrived[0][1].posts) if isinstance(arrived[0][1], Page) else 0
        while posts < MAX_BATCH_POSTS:
            try:
                arrived.append(pages.get_nowait())
            except queue.Empty:
                break
            if isinstance(arrived[-1][1], Page):
                posts += len(arrived[-1][1].posts)
        batch = Batch([], more_waiting)
        for job, item in arrived:
            if item is done:
                remaining -= 1
            else:
                batch.append((job, item))
        if batch:
            yield batch


def prepared(page: Page) -> Page:
    """`page` with what the archive stores of each post made ready (`Page.prepared`): its row and
    its raw API JSON, compressed.

    Fetch threads call this before handing a page over, so the single writer only judges and
    writes: compressing alone was a quarter of saving a page, and the compressor (ISA-L, as zlib)
    releases the GIL, so it runs beside the writer instead of on it.
    """
    from plnfilter.store.rows import stored_form

    return replace(page, prepared={post.uri: (post, stored_form(post)) for post in page.posts})


def _by_name(jobs: list[Any], name: str) -> Any:
    return next(job for job in jobs if job.name == name)
