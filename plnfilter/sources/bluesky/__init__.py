"""Bluesky (the AT Protocol's `app.bsky` AppViews and PDSes): the network's interface.

The same names as every package in `plnfilter/sources/registry.py` (see
`plnfilter/sources/mastodon/__init__.py` for the list). Logins and saved sessions live in
`auth.py`. Nothing here imports atproto: `session.py` does, when a fetch starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from plnfilter.post import Post
    from plnfilter.sources import FetchContext, Refreshed, Timeline

NAME = "bluesky"
MAKES_POSTS = True
HAS_COUNTS = True
KIND_SYNONYMS = ()


def parse_source(head, options, path: str, line: int):
    """A `- bluesky: ...` entry of `sources:` as a SourceSpec; FilterFileError with FILE:LINE and a fix."""
    from plnfilter.sources.bluesky.options import parse_source as parse

    return parse(head, options, path, line)


def streams(timeline) -> bool:
    """Hashtags and authors are followed live by `watch` (Jetstream, or a firehose per source); the rest is polled."""
    from plnfilter.sources.bluesky.stream import streams as has_stream

    return has_stream(timeline)


def stream_misses(timeline) -> bool:
    """An author's stream lacks their reposts: `watch` also fetches the feed every poll interval."""
    from plnfilter.sources.bluesky.stream import stream_misses as misses

    return misses(timeline)


def subscribe(timeline, ctx: FetchContext, position: str | None = None):
    """The timeline's stream, connected and buffering, resuming at `position` (a Jetstream or firehose `seq`)."""
    from plnfilter.sources.bluesky.stream import subscribe as open_stream

    return open_stream(timeline, ctx, position)


def __getattr__(name: str):
    """`OPTIONS` (the keys a source takes) is read from options.py when asked for: the filter-file
    checks it lives with are not loaded by commands that only read the archive."""
    if name == "OPTIONS":
        from plnfilter.sources.bluesky.options import OPTIONS

        return OPTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOGIN_KINDS = ("search", "timeline")  # the timelines fetched with the saved login


def timelines(spec) -> list[Timeline]:
    """One timeline per hashtag (or one for `q`), plus one each for list, author, feed and timeline."""
    from plnfilter.sources.bluesky.fetch import timelines as expand

    return expand(spec)


def recognises(raw: Any) -> bool:
    """A post view (`searchPosts`) or a feed item (`getAuthorFeed`, `getTimeline`...)."""
    return isinstance(raw, dict) and ("post" in raw or ("record" in raw and "author" in raw))


def to_post(raw: dict, source: str = "") -> Post:
    from plnfilter.sources.bluesky.normalize import to_post as normalise

    return normalise(raw, source)


def instance_of(author: str) -> str:
    """Always '': nearly every account shares one PDS operator, so capping it would cap Bluesky itself."""
    return ""


def home_of(author: str) -> str:
    """Where an account lives, for counting how varied voices are: a handle's domain after its first
    label (bsky.social for most), or the DID's method for an account known only by its DID."""
    return author.partition(".")[2] or author.rpartition(":")[0] or author


def profile_url(author: str, author_id: str = "") -> str:
    """The account's page on the Bluesky web app."""
    return f"https://bsky.app/profile/{author}" if author else ""


def refresh_server(timeline) -> tuple[str, str, bool]:
    """(host, service, login): the anonymous AppView, or the source's own `service:` (logged in where
    the timeline is)."""
    from plnfilter.sources.bluesky.session import appview_service

    service = (timeline.service or appview_service()).rstrip("/")
    login = bool(timeline.service) and timeline.kind in _LOGIN_KINDS and _has_login()
    return urlsplit(service).netloc.lower() or service, service, login


def _has_login() -> bool:
    from plnfilter.sources.bluesky.auth import find_credentials

    try:
        return find_credentials() is not None
    except Exception:  # an unreadable or ambiguous store: the timeline reported it already
        return False


def refresh_batch() -> int:
    from plnfilter.sources.bluesky.fetch import GET_POSTS

    return GET_POSTS


def refreshable(candidate) -> bool:
    return True


def fetch_refreshed(
    service: str,
    candidates: list,
    ctx: FetchContext,
    source: str,
    login: bool = False,
    budget: int = 1,
    quirks: dict[str, str] | None = None,
) -> Iterator[Refreshed]:
    """The current counts of these archived posts, one Refreshed per `app.bsky.feed.getPosts` request
    (the candidates already fit in `budget` requests; no Bluesky server quirk is kept)."""
    from plnfilter.sources import matched
    from plnfilter.sources.bluesky.fetch import fetch_post_views
    from plnfilter.sources.bluesky.normalize import to_post as normalise

    uris = [candidate.uri for candidate in candidates]
    for asked, views in fetch_post_views(service, uris, ctx, source, login):
        yield matched(set(asked), views, lambda view: normalise(view, source))
