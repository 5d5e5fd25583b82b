"""Mastodon, and the servers that speak its API (GoToSocial, Pleroma, Akkoma...): the network's interface.

What the rest of plnfilter may ask of a network (the same names in every package listed in
`plnfilter/sources/registry.py`): its filter-file options (`OPTIONS`, `KIND_SYNONYMS`,
`parse_source`), its timelines (`timelines`), its raw objects (`recognises`, `to_post`), count
refresh (`HAS_COUNTS`, `refresh_server`, `refreshable`, `fetch_refreshed`), how it names an
author's instance (`instance_of`) and, optionally, live streams for `watch` (`streams`, `subscribe`). Logins live in `auth.py` (the `auth mastodon` command's logic).
Nothing here imports Mastodon.py or requests: `fetch.py` and `client.py` do, when a fetch starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from plnfilter.sources.lazy import option_hooks

if TYPE_CHECKING:
    from plnfilter.post import Post
    from plnfilter.sources import FetchContext, Refreshed, Timeline

NAME = "mastodon"
MAKES_POSTS = True  # posts carry `network: mastodon`
HAS_COUNTS = True  # favourites, boosts, replies, quotes: refreshed after a run
KIND_SYNONYMS = ("instance", "server")  # written instead of `mastodon:` at the head of a source
NO_MULTI_GET = "no-multi-get"  # the quirk kept for a Mastodon-API server without GET /api/v1/statuses
MULTI_GET_RECHECK = timedelta(days=7)


parse_source, __getattr__ = option_hooks(__name__)


def timelines(spec) -> list[Timeline]:
    """One timeline per hashtag, plus the list, account and home timelines the source names."""
    from plnfilter.sources.mastodon.fetch import timelines as expand

    return expand(spec)


def streams(timeline) -> bool:
    """Hashtag, list, home and public timelines have a live stream (`watch`); account timelines are polled."""
    from plnfilter.sources.mastodon.stream import streams as has_stream

    return has_stream(timeline)


def subscribe(timeline, ctx: FetchContext, position: str | None = None):
    """The timeline's stream (server-sent events), subscribed and buffering; SourceError when it cannot be opened."""
    from plnfilter.sources.mastodon.stream import subscribe as open_stream

    return open_stream(timeline, ctx, position)


def recognises(raw: Any) -> bool:
    """A status as `/api/v1/timelines/...` sends it."""
    return isinstance(raw, dict) and "account" in raw and ("content" in raw or "reblog" in raw)


def html_in_raw(raw: dict[str, Any]) -> Any:
    """The `html` `to_post` gives a status: its `content`, the boosted original's for a boost (the
    archive stores a post's html as NULL when this gives it back: `store.rows.stored_form`)."""
    original = raw.get("reblog") or raw
    return original.get("content") if isinstance(original, dict) else None


def to_post(raw: dict, source: str = "", instance: str = "") -> Post:
    """A status as the API sent it; `instance` is where it was fetched (guessed from the account's
    URL for a saved response, which does not record it)."""
    from plnfilter.sources.mastodon.normalize import to_post as normalise

    return normalise(raw, instance or _instance_guess(raw), source)


def _instance_guess(status: dict) -> str:
    url = (status.get("account") or {}).get("url") or status.get("url") or status.get("uri") or ""
    return urlsplit(url).netloc


def instance_of(author: str) -> str:
    """`user@host` -> host; '' for an address without a host."""
    author = author.lstrip("@")
    return author.rpartition("@")[2].lower() if "@" in author else ""


def home_of(author: str) -> str:
    """Where an account lives, for counting how varied voices are: its instance."""
    return instance_of(author) or author


def profile_url(author: str, author_id: str = "") -> str:
    """The account's page: the URL its server gave as its id, else https://host/@user."""
    if author_id.startswith(("https://", "http://")):
        return author_id
    user, _, host = author.lstrip("@").rpartition("@")
    return f"https://{host}/@{user}" if user and host else ""


def refresh_server(timeline) -> tuple[str, str, bool]:
    """(host, service, login) a timeline's posts are refreshed at: its own instance."""
    return timeline.host, timeline.instance, False


def refresh_batch() -> int:
    """Posts per refresh request."""
    from plnfilter.sources.mastodon.fetch import MULTI_GET

    return MULTI_GET


def refreshable(candidate) -> bool:
    """Only a post with an id on that instance can be asked about again."""
    return bool(candidate.local_id)


def fetch_refreshed(
    service: str,
    candidates: list,
    ctx: FetchContext,
    source: str,
    login: bool = False,
    budget: int = 1,
    quirks: dict[str, str] | None = None,
) -> Iterator[Refreshed]:
    """The current counts of these archived posts, one Refreshed per request: `GET /api/v1/statuses`,
    or one `GET /api/v1/statuses/:id` per post (at most `budget` requests) on a server without that
    multi-get (405 on GoToSocial, 404 before Mastodon 4.3). `quirks` is what the archive knows the
    server lacks (NO_MULTI_GET, and when it was last seen lacking it): the multi-get is then skipped,
    and asked again after MULTI_GET_RECHECK, since a server may be upgraded. What a request learns
    goes back in `Refreshed.learnt`; the note that the server lacks it is said once, when learnt."""
    from plnfilter.sources import Refreshed
    from plnfilter.sources.mastodon.client import NotOffered
    from plnfilter.sources.mastodon.fetch import MULTI_GET, fetch_statuses_by_id, fetch_statuses_one_by_one
    from plnfilter.times import now_utc, to_iso

    uris_of: dict[str, list[str]] = {}
    for candidate in candidates:
        uris_of.setdefault(candidate.local_id, []).append(candidate.uri)
    ids = list(uris_of)
    noted = (quirks or {}).get(NO_MULTI_GET)
    recheck = noted is not None and noted <= to_iso(now_utc() - MULTI_GET_RECHECK)
    sent = 0
    if noted is None or recheck:
        try:
            for asked, statuses in fetch_statuses_by_id(service, ids, ctx, source):
                sent += 1
                item = _matched(asked, uris_of, statuses, service, source)
                if sent == 1 and recheck:
                    item.learnt[NO_MULTI_GET] = False  # upgraded since: forget that it lacked the multi-get
                yield item
            return
        except NotOffered as exc:
            notes = []
            if not recheck:  # said once, in the run that learns it
                notes.append(
                    f"{exc.what}, the request for many statuses at once (Mastodon 4.3 and later have it): "
                    f"counts are fetched one status at a time there, at most {budget} a run "
                    "(refresh_limit); asked again in 7 days"
                )
            yield Refreshed([], 0, [], notes, learnt={NO_MULTI_GET: True})
            ids, budget = ids[sent * MULTI_GET :], budget - sent - 1
    for asked, statuses in fetch_statuses_one_by_one(service, ids[: max(budget, 0)], ctx, source):
        yield _matched(asked, uris_of, statuses, service, source)


def _matched(
    asked: list[str], uris_of: dict[str, list[str]], statuses: list[dict], service: str, source: str
) -> Refreshed:
    from plnfilter.sources import matched
    from plnfilter.sources.mastodon.normalize import to_post as normalise

    wanted = {uri for local_id in asked for uri in uris_of[local_id]}
    # A post found on several instances may carry another instance's id, which can name
    # an unrelated status here: only an answer with the archived uri counts.
    return matched(wanted, statuses, lambda status: normalise(status, service, source))
