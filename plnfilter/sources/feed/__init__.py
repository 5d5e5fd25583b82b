"""Feeds (RSS 0.9x/2.0, RSS 1.0, Atom 1.0, JSON Feed 1.x): blogs, newsletters, journals' tables of
contents, as a network.

The same names as every package in `plnfilter/sources/registry.py` (see
`plnfilter/sources/mastodon/__init__.py` for the list). A source starts with `feed: URL`,
`feeds: [URL, ...]` or `opml: FILE` (a feed reader's export of its subscriptions): one timeline per
feed. Feeds have no likes or reposts (`HAS_COUNTS = False`), so nothing is refreshed and ranking
gives their items a neutral engagement (plnfilter/rank.py). Nothing here imports requests or
feedparser: `http.py` and `parse.py` do, when a fetch starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plnfilter.post import Post
    from plnfilter.sources import Timeline

NAME = "feed"
MAKES_POSTS = True  # items carry `network: feed`
HAS_COUNTS = False  # no likes, reposts or replies to count
KIND_SYNONYMS = ("rss", "atom", "blog", "jsonfeed")
HEADS = ("feeds", "opml")  # other keys that start a feed source (see registry.heads)


def parse_source(head, options, path: str, line: int, *, head_key: str = NAME):
    """A `- feed: URL`, `- feeds: [...]` or `- opml: FILE` entry as a SourceSpec; FilterFileError
    with FILE:LINE and a fix."""
    from plnfilter.sources.feed.options import parse_source as parse

    return parse(head, options, path, line, head_key)


def __getattr__(name: str):
    """`OPTIONS` is read from options.py when asked for (see the Mastodon package)."""
    if name == "OPTIONS":
        from plnfilter.sources.feed.options import OPTIONS

        return OPTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def timelines(spec) -> list[Timeline]:
    """One timeline per feed the source names (an OPML file's subscriptions included)."""
    from plnfilter.sources.feed.fetch import timelines as expand

    return expand(spec)


def unreadable(spec, folder: str) -> tuple[str, str] | None:
    """What `check` says of an `opml:` source whose file is missing or unreadable, else None."""
    from plnfilter.sources.feed.opml import problem_with

    return problem_with(spec, folder)


def recognises(raw: Any) -> bool:
    """A feed item as plnfilter saves it: `{"feed": URL, "item": {...}}`."""
    return isinstance(raw, dict) and isinstance(raw.get("feed"), str) and isinstance(raw.get("item"), dict)


def to_post(raw: dict, source: str = "") -> Post:
    from plnfilter.sources.feed.normalize import to_post as normalise

    return normalise(raw, source)


def instance_of(author: str) -> str:
    """Always '': a feed's author is a name, not an account on a server."""
    return ""
