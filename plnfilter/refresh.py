"""Fresh engagement counts: after a run's timelines, re-fetch the counts of young archived posts.

Cron sees a post minutes after it was made, with ~0 likes, and incremental catch-up never fetches
it again, so without this its counts would stay near 0 and ranking by engagement would mean
nothing. Each server is asked once per run about the posts its timelines first found within the
refresh window (`refresh:` in the filter file, default 2d), newest first, at most `refresh_limit`
requests (default 10), each network asking its own way (`fetch_refreshed` in its package: Mastodon
`GET /api/v1/statuses?id[]=`, 20 ids a request; Bluesky `app.bsky.feed.getPosts`, 25 uris). What
a request teaches about a server's API (`Refreshed.learnt`: a Mastodon-API server without the
multi-get) is kept per server in the archive (store/servers.py) and handed to the network with the
next run's job (`RefreshJob.quirks`), so it does not ask in vain every run and says so once. A
refresh job is its own kind of job: its own fetch (`RefreshJob.fetch`) and save
(`save_refreshed_batch`), run through the same thread pool and writer as the timelines; a failure
is a warning in the run report, never an error: the posts the run fetched are saved first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.errors import PlnError
from plnfilter.fetching import fetch_concurrently
from plnfilter.judge import judge
from plnfilter.sources import Refreshed, registry
from plnfilter.times import now_utc, to_iso

if TYPE_CHECKING:
    from plnfilter.sources import FetchContext
    from plnfilter.store.refresh import Candidate

__all__ = [
    "Refreshed",
    "RefreshJob",
    "RefreshReport",
    "plan_refresh",
    "refresh_counts",
    "save_refreshed_item",
]


@dataclass
class RefreshReport:
    """One server's refresh in this run, as kept in `runs.per_source` under the job's name."""

    requests: int = 0
    asked: int = 0
    refreshed: int = 0
    changed: int = 0
    missing: int = 0
    warning: str = ""
    notes: list[str] = field(default_factory=list)
    retries: int = 0  # transient failures tried again (sources/transport.py)


@dataclass
class RefreshJob:
    """The young posts one server is asked about; fetched in the run's pool, saved by its one writer."""

    name: str  # "refresh:mastodon:HOST", "refresh:bluesky:HOST[/login]": never a cursor key
    network: str
    host: str
    spec: str
    service: str  # where the network asks: a Mastodon instance as written, a Bluesky service URL
    candidates: list[Candidate]
    login: bool = False
    budget: int = 1  # requests this job may make: the filter file's refresh_limit
    quirks: dict[str, str] = field(default_factory=dict)  # what the server lacks -> when it was last seen

    @property
    def server(self) -> str:
        """The key the archive keeps what it learnt about this server under: "NETWORK:HOST"."""
        return f"{self.network}:{self.host}"

    def fetch(self, ctx: FetchContext) -> Iterator[Refreshed]:
        """One Refreshed per request; raises SourceError (a warning for the writer) on failure."""
        network = registry.network(self.network)
        yield from network.fetch_refreshed(
            self.service, self.candidates, ctx, self.name, self.login, budget=self.budget, quirks=self.quirks
        )


def plan_refresh(
    db, filter_file, found: Iterable[Any], failed: set[str], fetched: set[str], now: datetime
) -> list[RefreshJob]:
    """One job per server whose timelines have refresh on and did not all fail this run.

    A timeline's window is its source's `refresh:` or the filter file's; candidates are the posts
    those timelines first found within it, except the ones this run `fetched`, newest first, as
    many as `refresh_limit` requests can carry.
    """
    from plnfilter.store.refresh import refresh_candidates
    from plnfilter.store.servers import quirks_of

    groups: dict[tuple[str, str, bool], dict[str, Any]] = {}
    for timeline in found:
        network = registry.find(timeline.network)
        if network is None or not network.HAS_COUNTS:
            continue
        options = getattr(timeline, "options", None) or {}
        window = options["refresh"] if "refresh" in options else filter_file.refresh
        if not window:
            continue
        host, service, login = network.refresh_server(timeline)
        group = groups.setdefault(
            (timeline.network, host, login), {"service": service, "windows": {}, "names": [], "failed": 0}
        )
        group["windows"][timeline.name] = to_iso(now - window)
        group["names"].append(timeline.name)
        group["failed"] += timeline.name in failed
    jobs = []
    for (name, host, login), group in groups.items():
        if group["failed"] == len(group["names"]):
            continue  # the server is in trouble this run (already reported): do not pile on
        network = registry.network(name)
        limit = filter_file.refresh_limit * network.refresh_batch()
        candidates = refresh_candidates(db, name, group["windows"], fetched, limit)
        candidates = [c for c in candidates if network.refreshable(c)]
        if not candidates:
            continue
        jobs.append(
            RefreshJob(
                name=f"refresh:{name}:{host}" + ("/login" if login else ""),
                network=name,
                host=host,
                spec=f"refresh counts on {host}",
                service=group["service"],
                candidates=candidates,
                login=login,
                budget=filter_file.refresh_limit,
                quirks=quirks_of(db, f"{name}:{host}"),
            )
        )
    return jobs


def refresh_counts(
    db, filter_file, found: list, failed: set[str], fetched: set[str], ctx: FetchContext, ruleset, log
) -> dict[str, RefreshReport]:
    """The run's second phase: re-fetch the counts of young archived posts; cursors untouched.

    Runs once every timeline's pages are saved, so what this run fetched is never asked about
    again, and nothing it does can lose them: its failures are warnings, the exit code stays.
    Returns each job's report by name.
    """
    jobs = plan_refresh(db, filter_file, found, failed, fetched, now_utc())
    if not jobs:
        return {}
    if ctx.past_deadline():
        log("refresh: skipped, --max-time was reached while fetching")
        return {}
    reports = {job.name: RefreshReport() for job in jobs}
    for batch in fetch_concurrently(jobs, lambda job: job.fetch(ctx), ctx):
        save_refreshed_batch(db, batch, ruleset, filter_file.rank, reports, filter_name=filter_file.name)
    for name, entry in reports.items():
        entry.retries = ctx.retries.get(name, 0)
        for line in outcome(name, entry):
            log(line)
    return reports


def save_refreshed_batch(
    db, batch: list, ruleset, rank_config, reports: dict[str, RefreshReport], filter_name: str = "default"
) -> None:
    """In the writer, one transaction: each job's answers (new counts) or failure (a warning: no
    cursor, no source error)."""
    from plnfilter import store

    with store.db_errors(db), store.write_transaction(db):
        for job, item in batch:
            entry = reports[job.name]
            if isinstance(item, PlnError):
                entry.warning = str(item)
            else:
                note_learnt(db, job.server, item, now_utc())
                save_refreshed_item(db, item, ruleset, rank_config, entry, now_utc(), filter_name)


def note_learnt(db, server: str, item: Refreshed, now: datetime) -> None:
    """In the writer: remember (True) or forget (False) what the request learnt the server lacks."""
    from plnfilter.store.servers import forget_quirk, note_quirk

    for quirk, present in item.learnt.items():
        if present:
            note_quirk(db, server, quirk, to_iso(now))
        else:
            forget_quirk(db, server, quirk)


def save_refreshed_item(
    db,
    item: Refreshed,
    ruleset,
    rank_config,
    entry: RefreshReport,
    now: datetime,
    filter_name: str = "default",
) -> None:
    """The new counts of the posts still archived, re-judged (engagement changed)."""
    from plnfilter.store.refresh import save_refreshed, stored_posts

    entry.requests += item.requests
    entry.asked += item.asked
    entry.missing += len(item.missing)
    entry.notes.extend(item.problems)
    stored = stored_posts(db, [post.uri for post in item.posts])
    merged = []
    for fresh in item.posts:
        old = stored.get(fresh.uri)
        if old is None:
            continue
        counts = (fresh.likes, fresh.reposts, fresh.replies, fresh.quotes)
        entry.changed += counts != (old.likes, old.reposts, old.replies, old.quotes)
        merged.append(replace(old, likes=counts[0], reposts=counts[1], replies=counts[2], quotes=counts[3]))
    entry.refreshed += save_refreshed(db, judge(merged, ruleset, rank_config, now), to_iso(now), filter_name)


def outcome(name: str, entry: RefreshReport) -> list[str]:
    """Lines for stderr: what the refresh did on one server, its notes and its warning."""
    lines = [f"{name}: {note}" for note in entry.notes]
    if entry.requests and entry.asked:
        line = (
            f"{name}: counts of {entry.refreshed} posts re-fetched in {entry.requests} "
            f"request{'s' if entry.requests != 1 else ''}, {entry.changed} changed"
        )
        if entry.missing:
            line += f"; {entry.missing} not returned (deleted or no longer visible: left as archived)"
        lines.append(line)
    if entry.warning:
        lines.append(f"warning: {entry.warning}; the fetched posts are saved")
    return lines
