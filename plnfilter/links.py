"""Shared links for a digest: one canonical URL per article, counted once per person across networks."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from plnfilter.post import Post

# Query parameters that say who sent the reader, never what they read. Sources: the utm_* convention,
# Facebook (fbclid), Google Ads (gclid, dclid, gbraid, wbraid), Microsoft (msclkid), Mailchimp
# (mc_cid, mc_eid), HubSpot (_hsenc, _hsmi), Marketo (mkt_tok), Instagram (igshid, igsh),
# YouTube/Spotify share ids (si), Twitter (ref_src, ref_url, twclid), Yandex (yclid).
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "si",
        "igshid",
        "igsh",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "yclid",
        "twclid",
        "_ga",
        "_gl",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "rb_clickid",
        "spm",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
DEFAULT_PORTS = {"http": 80, "https": 443}
ROW_FIELDS = (
    "count",
    "url",
    "title",
    "shared_by",
    "networks",
    "posts",
    "best_post",
    "best_uri",
    "best_author",
    "best_score",
    "best_text",
    "last_shared",
)
"""The columns of `SharedLink.as_row`, in its order: what `links --columns` can choose."""


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL two people mean when they share one article: no trackers, fragment, `www.` or trailing slash.

    Non-web links and unparsable URLs come back stripped but otherwise as given.
    """
    return _known(url)[2]


def _canonical(url: str) -> tuple[str, bool]:
    """`canonical_url(url)`, and whether it is a web link (its scheme http or https)."""
    url = url.strip()
    plain = _PLAIN_URL.fullmatch(url)
    if plain is None:
        return _parsed(url)
    scheme, host, path, query = plain.groups()
    # What `_parsed` makes of it, without the parser (urlunsplit's joins; no port, user or fragment).
    canonical = f"{scheme}://{host[4:] if host.startswith('www.') else host}{(path or '').rstrip('/')}"
    query = _kept_query(query or "")
    return (f"{canonical}?{query}" if query else canonical), True


# A web URL that `urlsplit` cuts into a lower-case scheme and host (no user or port), a path, a
# query and a fragment without changing a character: printable ASCII, none of them `_parsed` must see.
_PLAIN_URL = re.compile(
    r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(/[!-\"$->@-~]*)?(?:\?([!-\"$-~]*))?(?:#[!-~]*)?"
)


def _kept_query(query: str) -> str:
    """The query's raw `name=value` pieces but trackers, sorted: what is kept stays encoded exactly
    as the author wrote it."""
    pieces = [
        piece for piece in query.split("&") if piece and not is_tracking_param(unquote(piece.split("=")[0]))
    ]
    return "&".join(sorted(pieces))


def _parsed(url: str) -> tuple[str, bool]:
    """`_canonical` of a stripped URL, by the parser."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url, _is_web(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url, scheme in DEFAULT_PORTS
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), _kept_query(parts.query), "")), True


def _is_web(url: str) -> bool:
    try:
        return urlsplit(url).scheme in DEFAULT_PORTS
    except ValueError:  # a URL no parser reads (`http://[x`) is no link to count
        return False


def without_tracking(url: str) -> str:
    """The URL as written, minus its tracking parameters (utm_*, fbclid...): for a link a reader clicks.
    Unparsable URLs come back as given."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    if not parts.query:
        return url.strip()
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and not is_tracking_param(unquote(piece.split("=")[0]))
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def link_key(url: str) -> str:
    """Canonical URL without its scheme: `http://` and `https://` copies of one article are one link."""
    return _known(url)[0]


def _known(url: str) -> tuple[str, bool, str]:
    """`link_key(url)`, whether the URL is a web link, and `canonical_url(url)`, remembered: the
    links most shared are met again and again."""
    known = _KEYS.get(url)
    if known is None:
        if len(_KEYS) >= _KEYS_KEPT:  # bounded: a window of new links never grows it further
            _KEYS.clear()
        canonical, web = _canonical(url)
        known = _KEYS[url] = (_key_of(canonical), web, canonical)
    return known


_KEYS: dict[str, tuple[str, bool, str]] = {}
_KEYS_KEPT = 4096


def _key_of(canonical: str) -> str:
    for scheme in ("https://", "http://"):
        if canonical.startswith(scheme):
            return canonical[len(scheme) :]
    return canonical


def person_key(post: Post) -> str:
    """Who shared it: the author string as stored (a Bluesky handle and a Mastodon `user@host` never merge)."""
    return (post.author or post.author_id or post.uri).lower()


@dataclass
class SharedLink:
    """One article, the distinct people who shared it, and the best post about it."""

    url: str
    title: str = ""
    sharers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    posts: int = 0
    best_uri: str = ""
    best_url: str = ""
    best_author: str = ""
    best_text: str = ""
    best_score: float = float("-inf")
    last_shared: str = ""

    @property
    def count(self) -> int:
        return len(self.sharers)

    def as_row(self) -> dict:  # its keys are ROW_FIELDS, in that order
        """A flat row for `emit` and the exporters."""
        return {
            "count": self.count,
            "url": self.url,
            "title": self.title,
            "shared_by": list(self.sharers),
            "networks": list(self.networks),
            "posts": self.posts,
            "best_post": self.best_url or self.best_uri,
            "best_uri": self.best_uri,
            "best_author": self.best_author,
            "best_score": round(self.best_score, 4),
            "best_text": self.best_text,
            "last_shared": self.last_shared,
        }


def _links_of(post: Post) -> list[str]:
    """Every web link in a post, its card's too, each canonical link once."""
    return link_keys(post.links, post.card_url)


def link_keys(links: Iterable[str], card_url: str) -> list[str]:
    """The keys (`link_key`) of a post's web links and its card's, each once, in the post's order."""
    seen: dict[str, None] = {}
    for url in (*links, card_url):
        if not url:
            continue
        key, web, _ = _known(url)
        if key and web and key not in seen:
            seen[key] = None
    return list(seen)


def aggregate_links(scored: Iterable[tuple[Post, float]]) -> list[SharedLink]:
    """Group posts by canonical link; order by distinct sharers, then best post score, then recency."""
    return _in_order(_aggregate(scored).values())


def _aggregate(scored: Iterable[tuple[Post, float]], only: set[str] | None = None) -> dict[str, SharedLink]:
    """Each link key of the posts (best first; only the keys in `only`, if given) with what they say
    about it."""
    found: dict[str, SharedLink] = {}
    people: dict[str, set[str]] = {}
    https_seen: dict[str, bool] = {}
    title_score: dict[str, float] = {}
    for post, score in scored:
        person = person_key(post)
        card_key = link_key(post.card_url) if post.card_url else ""
        for key in _links_of(post):
            if only is not None and key not in only:
                continue
            shared = canonical_url(_url_for(post, key))
            link = found.get(key)
            if link is None:
                link = found[key] = SharedLink(url=shared)
                people[key] = set()
                https_seen[key] = link.url.startswith("https://")
            if not https_seen[key] and shared.startswith("https://"):
                link.url = shared
                https_seen[key] = True
            link.posts += 1
            if person not in people[key]:
                people[key].add(person)
                link.sharers.append(post.author or post.author_id or post.uri)
            if post.network and post.network not in link.networks:
                link.networks.append(post.network)
            link.last_shared = max(link.last_shared, post.created_at)
            if score > link.best_score:
                link.best_score = score
                link.best_uri, link.best_url, link.best_author = post.uri, post.url, post.author
                link.best_text = post.text
            if key == card_key and post.card_title and score >= title_score.get(key, float("-inf")):
                link.title = post.card_title.strip()
                title_score[key] = score
    return found


def _in_order(links: Iterable[SharedLink]) -> list[SharedLink]:
    """Most distinct sharers first, then the best post's score, then the newest share, then the URL."""
    ordered = sorted(links, key=lambda link: link.url)
    ordered.sort(key=lambda link: link.last_shared, reverse=True)
    ordered.sort(key=lambda link: (-link.count, -link.best_score))
    return ordered


def _url_for(post: Post, key: str) -> str:
    for url in (*post.links, post.card_url):
        if url and link_key(url) == key:
            return url
    return key


def top_links(
    scored: Iterable[tuple[Post, float]], limit: int | None = 20, min_sharers: int = 1
) -> list[SharedLink]:
    """The most shared links, at most `limit`, each shared by at least `min_sharers` people."""
    links = [link for link in aggregate_links(scored) if link.count >= min_sharers]
    return links if limit is None else links[:limit]


def shared_links(
    conn: sqlite3.Connection,
    filter_name: str | None,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    seen_since: datetime | None = None,
    limit: int | None = 20,
    min_sharers: int = 1,
) -> list[SharedLink]:
    """What `plnfilter links` prints: `top_links` of the posts the filter `filter_name` kept in the
    window (None: the archive's only filter), each scored at `now` with the default settings.

    SQLite groups every kept post's links (`store.links.link_groups`, with this module's link keys,
    sharers and scores as SQL functions) and sorts the groups; only the links that can be among the
    first `limit` (ties on sharers, best score and last share included) are described, each from
    its own posts, as `top_links` describes them. Memory holds those few links, not the window.
    """
    from plnfilter.filterfile.rank_settings import RankConfig
    from plnfilter.rank import scorer
    from plnfilter.store.links import link_groups, posts_best_first
    from plnfilter.store.rows import load_list

    score = scorer(now, RankConfig())  # a stored verdict carries no boost; no one is trusted

    def keys_of(links: str, card_url: str) -> str:
        return json.dumps(link_keys(load_list(links), card_url))

    groups = link_groups(
        conn,
        filter_name,
        since,
        until,
        seen_since,
        keys_of=keys_of,
        lower=str.lower,
        score_of=score,
        min_sharers=min_sharers,
    )
    chosen: list[tuple] = []
    try:
        for group in groups:
            if limit is not None and len(chosen) >= limit and group[1:4] != chosen[limit - 1][1:4]:
                break
            chosen.append(group)
    finally:
        groups.close()
    ids = sorted({post_id for group in chosen for post_id in group[4]})
    wanted = {key for key, *_ in chosen}
    rows = posts_best_first(conn, ids, _Described._fields, score)  # as `digest.rescore` orders them
    found = _aggregate(
        ((_Described(*row[:9], tuple(load_list(row[9])), *row[10:-1]), row[-1]) for row in rows), wanted
    )
    links = [link for link in _in_order(found.values()) if link.count >= min_sharers]
    return links if limit is None else links[:limit]


class _Described(NamedTuple):
    """What `_aggregate` and the score read of a post, as a Post has them."""

    uri: str
    network: str
    url: str
    author: str
    author_id: str
    created_at: str
    text: str
    card_url: str
    card_title: str
    links: tuple[str, ...]
    likes: int
    reposts: int
    replies: int
    quotes: int


def links_markdown(links: Iterable[SharedLink], title: str = "Links shared in your PLN") -> str:
    """A Markdown list: title (linked), how many people shared it and who, and the best post about it."""
    from plnfilter.export.to_markdown import escape_markdown, safe_link

    lines = [f"# {escape_markdown(title)}", ""]
    count = 0
    for count, link in enumerate(links, start=1):
        label = escape_markdown(link.title or link.url)
        target = safe_link(link.url)
        heading = f"[{label}]({target})" if target else label
        people = ", ".join(escape_markdown(person) for person in link.sharers)
        lines.append(f"{count}. {heading}  ")
        lines.append(f"   shared by {link.count}: {people}  ")
        best = safe_link(link.best_url or link.best_uri)
        excerpt = escape_markdown(" ".join(link.best_text.split())[:200])
        if best:
            lines.append(f"   best post: [{escape_markdown(link.best_author)}]({best}): {excerpt}")
        else:
            lines.append(f"   best post: {escape_markdown(link.best_author)}: {excerpt}")
    if not count:
        lines.append("No links shared in this period.")
    return "\n".join(lines) + "\n"
