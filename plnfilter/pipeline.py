"""The cron job: fetch every timeline concurrently, judge each page, save it with its cursor;
then the count refresh (plnfilter/refresh.py), its own kind of job with its own fetch and save.

Fetchers run in threads (bounded per host, plnfilter/fetching.py) and hand pages to one writer,
the calling thread, through a bounded queue: memory stays flat and SQLite sees a single writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from plnfilter.fetching import Batch, fetch_concurrently
from plnfilter.judge import judge
from plnfilter.locks import run_lock
from plnfilter.refresh import refresh_counts
from plnfilter.sources import FetchContext, Page, Timeline
from plnfilter.times import now_utc, to_iso

HOLD_SECONDS = 2.0  # longest a busy writer keeps one transaction open across batches (`save_arriving`)


@dataclass
class SourceReport:
    name: str
    fetched: int = 0
    new: int = 0
    kept: int = 0
    error: str = ""
    problems: list[str] = field(default_factory=list)
    retries: int = (
        0  # transient failures (502/503/504, resets, read timeouts) retried, see sources/transport.py
    )


@dataclass
class RunReport:
    sources: dict[str, SourceReport] = field(default_factory=dict)
    run_id: int | None = None
    refresh: dict[str, Any] = field(default_factory=dict)  # job name -> refresh.RefreshReport; never an error
    fetched_uris: set[str] = field(default_factory=set, repr=False)  # saved this run: counts already fresh
    regex_timeouts: int = 0  # regex searches abandoned at their time limit, each judged as no match
    caught_up: int = 0  # archived posts (other filters' finds, changed facts, new rules) judged at the end
    dropped_by: dict[str, int] = field(default_factory=dict)  # exclude rule -> posts it dropped this run
    dropped_uris: dict[str, str] = field(default_factory=dict, repr=False)  # uri -> exclude rule, this run
    retained: Any = None  # prune.PruneReport of the filter's `retain:` at the end of the run, if set

    @property
    def fetched(self) -> int:
        return sum(s.fetched for s in self.sources.values())

    @property
    def new(self) -> int:
        return sum(s.new for s in self.sources.values())

    @property
    def kept(self) -> int:
        return sum(s.kept for s in self.sources.values())

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources.values() if s.error]

    @property
    def status(self) -> str:
        failed = len(self.failed)
        if not failed:
            return "ok"
        return "failed" if failed == len(self.sources) else "partial"


def expand_sources(filter_file) -> list[Timeline]:
    from plnfilter.sources import timelines

    found: list[Timeline] = []
    for spec in filter_file.sources:
        found.extend(timelines(spec))
    return found


def run_filter(
    filter_file,
    db_path: Path,
    *,
    since: datetime,
    max_pages: int | None = None,
    timeout: float = 20.0,
    max_wait: float = 30.0,
    max_time: float | None = None,
    lock_wait: float = 60.0,
    log: Callable[[str], None] = lambda message: None,
    on_page: Callable[[str, int], None] = lambda name, count: None,
) -> RunReport:
    """Fetch, judge and archive every source of `filter_file`; one source failing stops no other."""
    from plnfilter import store
    from plnfilter.judge import rules_digest
    from plnfilter.rules import compile_rules
    from plnfilter.store.verdicts import begin_judging

    ruleset = compile_rules(filter_file)
    found = expand_sources(filter_file)
    lock = run_lock(db_path, filter_file.name, lock_wait)  # held throughout; the write lock per batch
    try:
        db = store.open_archive(db_path, lock_wait)
        started = to_iso(now_utc())
        report = RunReport(sources={t.name: SourceReport(t.name) for t in found})
        with store.db_errors(db), store.write_transaction(db):
            # we hold this filter's run lock: a run of it still "running" was killed
            store.close_interrupted_runs(db, started, filter_file.name)
            claim_filter(db, filter_file)
            begin_judging(db, filter_file.name, rules_digest(filter_file))  # new rules: every verdict stale
            # The absolute path: `runs` is read later, from wherever cron or the person happens to be.
            report.run_id = store.start_run(
                db, str(Path(filter_file.path).resolve()), started, filter_name=filter_file.name
            )
        deadline = time.monotonic() + max_time if max_time else None
        ctx = FetchContext(
            since=since, max_pages=max_pages, timeout=timeout, max_wait=max_wait, deadline=deadline, log=log
        )
        cursors = {t.name: store.get_cursor(db, t.name) for t in found}
        batches = fetch_concurrently(found, lambda t: t.fetch(cursors.get(t.name), ctx), ctx)
        for saved in save_arriving(db, batches, ruleset, filter_file.rank, report, filter_file.name):
            for timeline, page, count in saved:
                for problem in page.problems:
                    log(f"{timeline.name}: {problem}")
                on_page(timeline.name, count)
        for name, retries in ctx.retries.items():
            if name in report.sources:
                report.sources[name].retries = retries
        failed = {entry.name for entry in report.failed}
        report.refresh = refresh_counts(
            db, filter_file, found, failed, report.fetched_uris, ctx, ruleset, log
        )
        report.caught_up = judge_the_rest(db, filter_file, ruleset, report.dropped_uris)
        report.dropped_by = count_rules(report.dropped_uris)
        report.regex_timeouts = ruleset.regex_timeouts
        per_source: dict[str, Any] = {name: vars(s) for name, s in report.sources.items()}
        per_source.update((name, vars(entry)) for name, entry in report.refresh.items())
        if report.regex_timeouts:
            per_source["rules"] = {"regex_timeouts": report.regex_timeouts}
        if filter_file.retain is not None:
            from plnfilter.prune import prune_posts

            report.retained = prune_posts(db, now_utc() - filter_file.retain)
            per_source["retain"] = report.retained.as_dict()
        record_end(db, report, per_source, report.dropped_by)
        return report
    finally:
        lock.release()


def record_end(db, report: RunReport, per_source: dict[str, Any], dropped_by: dict[str, int]) -> None:
    """Close the run (or watch session) `report` in the archive's runs table, ended now, with what
    each exclude rule removed."""
    from plnfilter import store

    store.finish_run(
        db,
        report.run_id,
        to_iso(now_utc()),
        fetched=report.fetched,
        new=report.new,
        kept=report.kept,
        errors=[s.error for s in report.failed],
        status=report.status,
        per_source=per_source,
        dropped_by=dropped_by,
    )


def save_arriving(
    db, batches: Iterable[Batch], ruleset, rank_config, report: RunReport, filter_name: str = "default"
) -> Iterator[list]:
    """`save_batch` each batch of `fetch_concurrently` as it comes; yield what each transaction
    saved (as `save_batch` returns it) once it is committed.

    While more pages wait behind a batch (the writer is the bottleneck), the next batch joins the
    same transaction, for up to HOLD_SECONDS: every commit writes each page the batch dirtied in
    the random-key indexes and the full-text segments to the WAL again, so a busy writer that
    committed per batch wrote the same hot pages ~10x as often as one transaction would. Cursors
    are saved in the transaction with their posts, so a kill loses both together (the next run
    fetches those pages again); the archive's write lock is held no longer than HOLD_SECONDS, and
    never while waiting on the network (`more_waiting` says the next batch is already there).
    """
    from plnfilter import store

    arriving = iter(batches)
    for first in arriving:
        saved: list = []
        with store.db_errors(db), store.write_transaction(db):
            opened = time.monotonic()
            batch: Batch | None = first
            while batch is not None:
                saved.extend(save_batch(db, batch, ruleset, rank_config, report, filter_name))
                if not batch.more_waiting() or time.monotonic() - opened >= HOLD_SECONDS:
                    break
                batch = next(arriving, None)
        yield saved


def save_batch(
    db, batch: list, ruleset, rank_config, report: RunReport, filter_name: str = "default", on_judged=None
) -> list:
    """Judge and save the pages of a batch (and record its failed sources) in one transaction.

    The pages between two failures are written together, each archive table in one statement
    (`store.save_pages`), each page with its own cursor: when pages arrive faster than they are
    saved, SQLite rewrites the same index pages and FTS segments once per batch, not once per page.
    Returns (timeline, page, posts) for each page saved; `on_judged(timeline, judged)` sees each
    page's verdicts once they are in the transaction (`watch` prints the kept ones after the commit).
    """
    from plnfilter import store

    saved: list = []
    waiting: list = []  # (timeline, page, judged) of the pages not written yet
    now = now_utc()  # the batch's pages are judged and stamped at one moment
    # Judged before the write lock is taken: the lock covers the writes alone.
    # Direct messages reach some timelines (an account's, home) but are never archived.
    judged_pages = [
        judge([p for p in item.posts if p.visibility != "direct"], ruleset, rank_config, now)
        if isinstance(item, Page)
        else None
        for _, item in batch
    ]

    def write() -> None:
        from plnfilter.store.save import PageToSave, save_pages

        if not waiting:
            return
        results = save_pages(
            db,
            [PageToSave(timeline, judged, page.cursor, page.prepared) for timeline, page, judged in waiting],
            to_iso(now),
            filter_name,
        )
        for (timeline, page, judged), result in zip(waiting, results, strict=True):
            entry = report.sources[timeline.name]
            note_dropped(report.dropped_uris, judged)
            entry.fetched += len(judged)
            entry.new += result.new
            entry.kept += sum(1 for j in judged if j.kept)
            entry.problems.extend(page.problems)
            report.fetched_uris.update(post.uri for post in page.posts)
            saved.append((timeline, page, len(judged)))
            if on_judged is not None:
                on_judged(timeline, judged)
        waiting.clear()

    with store.db_errors(db), store.write_transaction(db):
        for (timeline, item), judged in zip(batch, judged_pages, strict=True):
            if isinstance(item, Page):
                waiting.append((timeline, item, judged))
            else:
                write()  # a source's failure is recorded after the pages it brought before it
                entry = report.sources[timeline.name]
                entry.error = str(item)
                store.record_source_error(
                    db, timeline.name, timeline.network, timeline.spec, entry.error, to_iso(now)
                )
        write()
    return saved


def note_dropped(dropped: dict[str, str], judged: list) -> None:
    """Remember which exclude rule dropped each post of `judged` (the last verdict of a post counts)."""
    for item in judged:
        if not item.kept and item.dropped_by:
            dropped[item.post.uri] = item.dropped_by
        else:
            dropped.pop(item.post.uri, None)


def count_rules(dropped: dict[str, str]) -> dict[str, int]:
    """How many posts each exclude rule dropped, most first: {"giveaways": 14, "bots": 3}."""
    counts: dict[str, int] = {}
    for rule in dropped.values():
        counts[rule] = counts.get(rule, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def judge_the_rest(
    db, filter_file, ruleset, dropped: dict[str, str] | None, *, everything: bool = False, batch: int = 2000
) -> int:
    """Give every archived post lacking this filter's current verdict one (every post with
    `everything`); return how many were judged. `dropped` (None: not kept) gathers which exclude
    rule dropped each post, for a run's summary; `apply` keeps none (a dict of a million uris).

    Current means judged since the post was last saved or refreshed, under the rules the filter has
    now (`store.verdicts.begin_judging` makes every verdict stale when their hash changes): posts
    other filters' runs fetched or refreshed, and every post after the rules changed. Only this
    filter's verdicts are written.
    """
    from plnfilter import store
    from plnfilter.store.verdicts import existing_ids, finish_judging, stale_batch, write_verdicts_by_id

    now = now_utc()
    stamp = to_iso(now)
    total = 0
    after = 0
    while True:
        rows = stale_batch(db, filter_file.name, after, batch, everything=everything)
        if not rows:
            break
        after = rows[-1][0]
        judged = judge([post for _, post in rows], ruleset, filter_file.rank, now)
        pairs = [(post_id, item) for (post_id, _), item in zip(rows, judged, strict=True)]
        with store.db_errors(db), store.write_transaction(db):  # one chunk holds the write lock
            alive = existing_ids(db, [post_id for post_id, _ in pairs])  # a prune may have come between
            write_verdicts_by_id(db, filter_file.name, [p for p in pairs if p[0] in alive], stamp)
        if dropped is not None:
            note_dropped(dropped, judged)
        total += len(judged)
    finish_judging(db, filter_file.name, stamp)
    return total


def apply_filter(
    filter_file, db_path: Path, *, lock_wait: float = 60.0, batch: int = 2000
) -> tuple[int, int]:
    """Re-judge the whole archive with the current rules, in batches, as this filter's verdicts only;
    returns (posts, kept)."""
    from plnfilter import store
    from plnfilter.judge import rules_digest
    from plnfilter.rules import compile_rules
    from plnfilter.store.verdicts import begin_judging, kept_count

    ruleset = compile_rules(filter_file)
    lock = run_lock(db_path, filter_file.name, lock_wait)
    try:
        db = store.open_archive(db_path, lock_wait)
        with store.db_errors(db), store.write_transaction(db):
            claim_filter(db, filter_file)
            begin_judging(db, filter_file.name, rules_digest(filter_file))
        total = judge_the_rest(db, filter_file, ruleset, None, everything=True, batch=batch)
        return total, kept_count(db, filter_file.name)
    finally:
        lock.release()


def claim_filter(db, filter_file) -> None:
    """Record `filter_file` as the filter its `name:` names, with its `voices:` groups (which label
    the cards of readers that are not given the file)."""
    from dataclasses import asdict

    from plnfilter.store.verdicts import claim_filter as claim

    claim(db, filter_file.name, filter_file.path, asdict(filter_file.voices))


def judge_stream(
    filter_file, handle, *, keep_dropped: bool = False, problems: list[str] | None = None, chunk: int = 500
):
    """Stream mode: objects from `handle`, judged, yielded as output rows (kept ones unless asked)."""
    from itertools import islice

    from plnfilter.rules import compile_rules
    from plnfilter.sources.files.replay import posts_from_objects, read_stream
    from plnfilter.store import judged_row

    ruleset = compile_rules(filter_file)
    objects = read_stream(handle)
    while True:
        try:
            batch = list(islice(objects, chunk))
        except ValueError as exc:
            from plnfilter.errors import UsageError

            raise UsageError(
                f"stdin is not JSON or JSONL ({exc})", "pipe API responses or plnfilter's JSONL"
            ) from None
        if not batch:
            return
        posts, found = posts_from_objects(batch, "stdin")
        if problems is not None:
            problems.extend(found)
        for item in judge(posts, ruleset, filter_file.rank, now_utc()):
            if item.kept or keep_dropped:
                yield judged_row(item)
