"""The live session (`plnfilter watch`): followers in threads (plnfilter/follow.py), one writer.

The writer (the calling thread) saves what the followers hand over in batches, a second's worth
or `batch_posts` posts, whichever comes first, through the same `save_batch` as `run`. Each batch
is one write transaction holding the archive's write lock (plnfilter/locks.py) for that long, as
each batch of a cron `run` or a `prune` does, so they take turns batch by batch and none waits
for another to finish; a batch that cannot get the lock within `lock_wait` ends the session
(ArchiveLocked, exit 75: the next session's catch-up fetches what it held). `watch` takes no run
lock: a `run` of the same filter goes on beside it.
Kept posts are passed to `on_kept` once their batch is committed, each once per session. Setting
`stop` (SIGINT/SIGTERM in the CLI) or reaching `max_time` saves the last batch and returns.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from plnfilter.errors import ArchiveLocked, PlnError
from plnfilter.follow import FollowStats, follow
from plnfilter.pipeline import (
    RunReport,
    SourceReport,
    claim_filter,
    count_rules,
    expand_sources,
    record_end,
    save_batch,
)
from plnfilter.sources import FetchContext, Page
from plnfilter.times import now_utc, to_iso

QUEUE_ITEMS = 64  # pages waiting for the writer; followers wait (and streams buffer) beyond that
POSITIONS_EVERY = 5.0  # seconds between saves of stream positions when no batch saves them
PRINTED_MEMORY = 50_000  # uris remembered so a post re-fetched after a reconnect is not printed twice


@dataclass
class WatchReport(RunReport):
    stats: FollowStats = field(default_factory=FollowStats)
    batches: int = 0
    errors: int = 0  # source failures, each retried
    stopped_by: str = ""


def watch_filter(
    filter_file,
    db_path: Path,
    *,
    since: datetime,
    stop: threading.Event,
    poll_every: float = 60.0,
    resync_every: float = 600.0,
    max_pages: int | None = None,
    timeout: float = 20.0,
    max_wait: float = 30.0,
    max_time: float | None = None,
    lock_wait: float = 60.0,
    batch_seconds: float = 1.0,
    batch_posts: int = 300,
    log: Callable[[str], None] = lambda message: None,
    on_kept: Callable[[Any], None] = lambda judged: None,
) -> WatchReport:
    """Follow every source of `filter_file` until `stop` is set or `max_time` passes."""
    from plnfilter import store
    from plnfilter.rules import compile_rules

    ruleset = compile_rules(filter_file)
    found = expand_sources(filter_file)
    report = WatchReport(sources={t.name: SourceReport(t.name) for t in found})
    db = store.open_archive(db_path, lock_wait)
    started = to_iso(now_utc())
    with store.db_errors(db), store.write_transaction(db):
        store.close_sessions(db, [row["id"] for row in store.open_sessions(db) if _gone(row)], started)
        claim_filter(db, filter_file)  # its verdicts go under its name, as `run`'s do
        report.run_id = store.start_run(
            db,
            str(Path(filter_file.path).resolve()),
            started,
            filter_name=filter_file.name,
            status="watching",
            per_source={"watch": {"pid": os.getpid(), "host": socket.gethostname()}},
        )
    cursors = {t.name: store.get_cursor(db, t.name) for t in found}
    positions = {t.name: store.get_stream_position(db, t.name) for t in found}
    deadline = time.monotonic() + max_time if max_time else None
    ctx = FetchContext(
        since=since, max_pages=max_pages, timeout=timeout, max_wait=max_wait, deadline=deadline, log=log
    )
    out: queue.Queue = queue.Queue(maxsize=QUEUE_ITEMS)
    for timeline in found:
        args = (timeline, cursors[timeline.name], positions[timeline.name], out, stop, ctx, poll_every)
        threading.Thread(
            target=follow,
            args=(*args, report.stats, resync_every),
            daemon=True,
            name=f"follow {timeline.name}",
        ).start()
    writer = _Writer(db, ruleset, filter_file, report, log, on_kept)
    try:
        _write_until_stopped(out, stop, deadline, writer, batch_seconds, batch_posts)
    finally:
        stop.set()
        _finish(writer, report)
    return report


def _gone(session: dict) -> bool:
    """Whether a session marked 'watching' ran on this machine in a process that no longer exists."""
    about = session["per_source"].get("watch") if isinstance(session["per_source"], dict) else None
    if not isinstance(about, dict) or about.get("host") != socket.gethostname():
        return False  # another machine's session (an archive on a shared disk): not ours to judge
    pid = about.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _write_until_stopped(out, stop, deadline, writer, batch_seconds: float, batch_posts: int) -> None:
    pending: list = []
    posts = 0
    due: float | None = None
    positions_due = time.monotonic() + POSITIONS_EVERY
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            writer.report.stopped_by = writer.report.stopped_by or "max-time"
            stop.set()
        if stop.is_set():
            while True:  # what the followers handed over before they saw `stop`
                try:
                    pending.append(out.get_nowait())
                except queue.Empty:
                    break
            writer.save(pending)
            return
        wait = 0.2 if due is None else max(0.0, min(0.2, due - time.monotonic()))
        try:
            item = out.get(timeout=wait)
        except queue.Empty:
            item = None
        if item is not None:
            pending.append(item)
            posts += len(item[1].posts) if isinstance(item[1], Page) else 0
            due = due or time.monotonic() + batch_seconds
        if pending and (posts >= batch_posts or (due is not None and time.monotonic() >= due)):
            writer.save(pending)
            pending, posts, due = [], 0, None
        elif not pending and time.monotonic() >= positions_due:  # a busy stream with nothing to keep
            writer.save_positions()
            positions_due = time.monotonic() + POSITIONS_EVERY


class _Writer:
    """Saves batches, each holding the archive's write lock, and hands kept posts to `on_kept` after
    each commit."""

    def __init__(self, db, ruleset, filter_file, report: WatchReport, log, on_kept) -> None:
        self.db, self.ruleset, self.rank = db, ruleset, filter_file.rank
        self.filter_name = filter_file.name
        self.report, self.log, self.on_kept = report, log, on_kept
        self.printed: OrderedDict[str, None] = OrderedDict()
        self.positions_saved: dict[str, str] = {}

    def save(self, pending: list) -> None:
        if not pending:
            return
        batch = _merge(pending)
        kept: list = []
        errors = [(timeline, item) for timeline, item in batch if not isinstance(item, Page)]
        for timeline, error in errors:
            self.log(f"{timeline.name}: {error}; trying again")
            self.report.errors += 1
        save_batch(  # ArchiveLocked past --wait ends the session
            self.db,
            batch,
            self.ruleset,
            self.rank,
            self.report,
            self.filter_name,
            on_judged=lambda timeline, judged: kept.extend(j for j in judged if j.kept),
        )
        self.save_positions()  # after the posts they follow, in a transaction of their own
        self.report.batches += 1
        for timeline, item in batch:
            if isinstance(item, Page):
                for problem in item.problems:
                    self.log(f"warning: {timeline.name}: {problem}")
            else:
                self.report.sources[timeline.name].error = ""  # retried: an error of the past
        for judged in kept:
            if judged.post.uri not in self.printed:
                self.printed[judged.post.uri] = None
                if len(self.printed) > PRINTED_MEMORY:
                    self.printed.popitem(last=False)
                self.on_kept(judged)

    def save_positions(self) -> None:
        """Stream positions that moved, in one transaction of their own."""
        from plnfilter import store

        changed = [
            (name, position)
            for name, position in list(self.report.stats.positions.items())
            if self.positions_saved.get(name) != position
        ]
        if not changed:
            return
        try:
            with store.db_errors(self.db), store.write_transaction(self.db):
                for name, position in changed:
                    store.set_stream_position(self.db, name, position)
        except ArchiveLocked as exc:
            self.log(f"{exc.message}; stream positions are saved with the next batch")
            return
        self.positions_saved.update(changed)


def _merge(pending: list) -> list:
    """One page per timeline for the posts streams handed over (no cursor), REST pages as they came."""
    merged: list = []
    streamed: dict[str, int] = {}
    for timeline, item in pending:
        if isinstance(item, Page) and item.cursor is None and timeline.name in streamed:
            index = streamed[timeline.name]
            page = merged[index][1]
            merged[index] = (
                timeline,
                Page(
                    page.posts + item.posts,
                    None,
                    page.problems + item.problems,
                    {**page.prepared, **item.prepared},
                ),
            )
            continue
        if isinstance(item, Page) and item.cursor is None:
            streamed[timeline.name] = len(merged)
        merged.append((timeline, item))
    return merged


def _finish(writer: _Writer, report: WatchReport) -> None:
    per_source: dict[str, Any] = {name: vars(s) for name, s in report.sources.items()}
    per_source["watch"] = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "reconnects": report.stats.reconnects,
        "malformed_events": report.stats.malformed,
        "batches": report.batches,
        "source_errors": report.errors,
        "stopped_by": report.stopped_by or "signal",
    }
    try:
        record_end(writer.db, report, per_source, count_rules(report.dropped_uris))
    except PlnError as exc:
        writer.log(f"could not record the end of the session: {exc.message}")
