"""Fresh engagement counts: after a run's timelines, re-fetch the counts of young archived posts.

Cron sees a post minutes after it was made, with ~0 likes, and incremental catch-up never fetches
it again, so without this its counts would stay near 0 and ranking by engagement would mean
nothing. Each server is asked once per run about the posts its timelines first found within the
refresh window (`refresh:` in the filter file, default 2d), newest first, at most `refresh_limit`
requests (default 10): Mastodon `GET /api/v1/statuses?id[]=` (4.3+, 20 ids a request), Bluesky
`app.bsky.feed.getPosts` (25 uris a request). A Mastodon-API server without that multi-get (405 on
GoToSocial, 404 before Mastodon 4.3) is asked one status at a time within the same request budget;
the archive remembers that per server (said once, in the run that learns it) and asks for the
multi-get again after MULTI_GET_RECHECK, since a server may be upgraded. Jobs are fetched like timelines (threads, bounded
per host) and saved by the run's one writer; a failure is a warning in the run report, never an
error: the posts the run fetched are saved before the refresh starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from plnfilter.times import to_iso

if TYPE_CHECKING:
    from plnfilter.post import Post
    from plnfilter.sources import FetchContext
    from plnfilter.store.refresh import Candidate

PER_REQUEST = {"mastodon": 20, "bluesky": 25}  # ids per multi-get (mastodon.MULTI_GET, bluesky.GET_POSTS)
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError)
NO_MULTI_GET = "no-multi-get"  # the quirk recorded for a Mastodon-API server without GET /api/v1/statuses
MULTI_GET_RECHECK = timedelta(days=7)


@dataclass
class Refreshed:
    """What one request brought back: current versions of archived posts (only their counts are kept)."""

    posts: list[Post]
    asked: int  # posts asked about
    missing: list[str]  # uris not returned: deleted, no longer visible, or unknown to that server
    problems: list[str] = field(default_factory=list)
    requests: int = 1
    server: str = ""  # "mastodon:HOST", for what this request taught about the server
    multi_get: bool | None = None  # learnt: the server offers the multi-get (None: nothing learnt)


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


@dataclass
class RefreshJob:
    """The young posts one server is asked about; fetched like a timeline, saved by the one writer."""

    name: str  # "refresh:mastodon:HOST", "refresh:bluesky:HOST[/login]": never a cursor key
    network: str
    host: str
    spec: str
    service: str  # the Mastodon instance as written, or the Bluesky service URL
    candidates: list[Candidate]
    login: bool = False
    budget: int = 1  # requests this job may make: the filter file's refresh_limit
    multi_get: str = "ask"  # "ask"; "skip": known missing (recently); "recheck": known missing, ask again

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Refreshed]:
        """One Refreshed per request; raises SourceError (a warning for the writer) on failure."""
        if self.network == "mastodon":
            yield from self._mastodon(ctx)
        else:
            yield from self._bluesky(ctx)

    def _mastodon(self, ctx: FetchContext) -> Iterator[Refreshed]:
        from plnfilter.sources.mastodon import fetch_statuses_by_id
        from plnfilter.sources.mastodon_http import NotOffered

        uris_of: dict[str, list[str]] = {}
        for candidate in self.candidates:
            uris_of.setdefault(candidate.local_id, []).append(candidate.uri)
        ids = list(uris_of)
        if self.multi_get == "skip":
            yield from self._mastodon_one_by_one(ids, uris_of, self.budget, ctx)
            return
        sent = 0
        try:
            for asked, statuses in fetch_statuses_by_id(self.service, ids, ctx, self.name):
                sent += 1
                item = self._mastodon_matched(asked, uris_of, statuses)
                if sent == 1 and self.multi_get == "recheck":
                    item.multi_get = True  # upgraded since: forget that it lacked the multi-get
                yield item
        except NotOffered as exc:
            notes = []
            if self.multi_get != "recheck":  # said once, in the run that learns it
                notes.append(
                    f"{exc.what}, the request for many statuses at once (Mastodon 4.3 and later have it): "
                    f"counts are fetched one status at a time there, at most {self.budget} a run "
                    "(refresh_limit); asked again in 7 days"
                )
            yield Refreshed([], 0, [], notes, server=self._server, multi_get=False)
            yield from self._mastodon_one_by_one(
                ids[sent * PER_REQUEST["mastodon"] :], uris_of, self.budget - sent - 1, ctx
            )

    @property
    def _server(self) -> str:
        return f"{self.network}:{self.host}"

    def _mastodon_one_by_one(
        self, ids: list[str], uris_of: dict[str, list[str]], budget: int, ctx: FetchContext
    ) -> Iterator[Refreshed]:
        from plnfilter.sources.mastodon import fetch_statuses_one_by_one

        for asked, statuses in fetch_statuses_one_by_one(self.service, ids[: max(budget, 0)], ctx, self.name):
            yield self._mastodon_matched(asked, uris_of, statuses)

    def _mastodon_matched(
        self, asked: list[str], uris_of: dict[str, list[str]], statuses: list[dict]
    ) -> Refreshed:
        from plnfilter.normalize.mastodon import to_post

        wanted = {uri for local_id in asked for uri in uris_of[local_id]}
        # A post found on several instances may carry another instance's id, which can name
        # an unrelated status here: only an answer with the archived uri counts.
        item = _matched(wanted, statuses, lambda status: to_post(status, self.service, self.name))
        item.server = self._server
        return item

    def _bluesky(self, ctx: FetchContext) -> Iterator[Refreshed]:
        from plnfilter.normalize.bluesky import to_post
        from plnfilter.sources.bluesky import fetch_post_views

        uris = [candidate.uri for candidate in self.candidates]
        for asked, views in fetch_post_views(self.service, uris, ctx, self.name, self.login):
            yield _matched(set(asked), views, lambda view: to_post(view, self.name))


def _matched(wanted: set[str], answers: list[dict], to_post) -> Refreshed:
    posts: dict[str, Post] = {}
    problems: list[str] = []
    for answer in answers:
        try:
            post = to_post(answer)
        except _MALFORMED as exc:
            problems.append(f"skipped a malformed answer: {exc}")
            continue
        if post.uri in wanted:
            posts[post.uri] = post
    return Refreshed(list(posts.values()), len(wanted), sorted(wanted - set(posts)), problems)


def plan_refresh(
    db, filter_file, found: Iterable[Any], failed: set[str], fetched: set[str], now: datetime
) -> list[RefreshJob]:
    """One job per server whose timelines have refresh on and did not all fail this run.

    A timeline's window is its source's `refresh:` or the filter file's; candidates are the posts
    those timelines first found within it, except the ones this run `fetched`, newest first, as
    many as `refresh_limit` requests can carry.
    """
    from plnfilter.store.refresh import refresh_candidates

    groups: dict[tuple[str, str, bool], dict[str, Any]] = {}
    for timeline in found:
        if timeline.network not in PER_REQUEST:
            continue
        options = getattr(timeline, "options", None) or {}
        window = options["refresh"] if "refresh" in options else filter_file.refresh
        if not window:
            continue
        host, service, login = _server_of(timeline)
        group = groups.setdefault(
            (timeline.network, host, login), {"service": service, "windows": {}, "names": [], "failed": 0}
        )
        group["windows"][timeline.name] = to_iso(now - window)
        group["names"].append(timeline.name)
        group["failed"] += timeline.name in failed
    jobs = []
    for (network, host, login), group in groups.items():
        if group["failed"] == len(group["names"]):
            continue  # the server is in trouble this run (already reported): do not pile on
        limit = filter_file.refresh_limit * PER_REQUEST[network]
        candidates = refresh_candidates(db, network, group["windows"], fetched, limit)
        if network == "mastodon":
            candidates = [c for c in candidates if c.local_id]
        if not candidates:
            continue
        jobs.append(
            RefreshJob(
                name=f"refresh:{network}:{host}" + ("/login" if login else ""),
                network=network,
                host=host,
                spec=f"refresh counts on {host}",
                service=group["service"],
                candidates=candidates,
                login=login,
                budget=filter_file.refresh_limit,
                multi_get=_multi_get_plan(db, f"{network}:{host}", now) if network == "mastodon" else "ask",
            )
        )
    return jobs


def _multi_get_plan(db, server: str, now: datetime) -> str:
    """ "ask" the multi-get, "skip" it (known missing there), or "recheck" (known missing, a while ago)."""
    from plnfilter.store.servers import quirk_noted

    noted = quirk_noted(db, server, NO_MULTI_GET)
    if noted is None:
        return "ask"
    return "recheck" if noted <= to_iso(now - MULTI_GET_RECHECK) else "skip"


def _server_of(timeline: Any) -> tuple[str, str, bool]:
    """(host, service, login): where a timeline's posts are refreshed. Its Mastodon instance; for
    Bluesky the anonymous AppView, or the source's own `service:` (logged in where the timeline is)."""
    if timeline.network == "mastodon":
        return timeline.host, timeline.instance, False
    from plnfilter.sources.bluesky_session import appview_service

    service = (timeline.service or appview_service()).rstrip("/")
    login = bool(timeline.service) and timeline.kind in ("search", "timeline") and _has_login()
    return urlsplit(service).netloc.lower() or service, service, login


def _has_login() -> bool:
    from plnfilter.auth_bluesky import find_credentials

    try:
        return find_credentials() is not None
    except Exception:  # an unreadable or ambiguous store: the timeline reported it already
        return False


def save_refreshed_item(
    db, item: Refreshed, ruleset, rank_config, entry: RefreshReport, now: datetime
) -> None:
    """In the writer: the new counts of the posts still archived, re-judged (engagement changed)."""
    from plnfilter.pipeline import judge
    from plnfilter.store.refresh import save_refreshed, stored_posts
    from plnfilter.store.servers import forget_quirk, note_quirk

    if item.multi_get is False:
        note_quirk(db, item.server, NO_MULTI_GET, to_iso(now))
    elif item.multi_get is True:
        forget_quirk(db, item.server, NO_MULTI_GET)
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
    entry.refreshed += save_refreshed(db, judge(merged, ruleset, rank_config, now), to_iso(now))


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
