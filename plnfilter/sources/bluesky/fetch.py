"""`bluesky:` sources: hashtag/q search, curation lists, author feeds, custom feeds, the home timeline.

Every feed pages newest-first; a walk stops at the first page that reaches what the last run
saw (the cursor: newest sort time and uri) or the `--since` horizon, and only the walk's last
page carries the new cursor, so a run killed half-way redoes the walk instead of leaving a gap.
plnfilter decides hashtag membership, language and time window itself: server-side search
differs between servers (the reference AppView matches a case-sensitive substring of the text).
API: https://docs.bsky.app/docs/category/http-reference
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from plnfilter.errors import SourceError
from plnfilter.post import Post
from plnfilter.sources import FetchContext, Page, in_chunks
from plnfilter.sources.bluesky.auth import login_service
from plnfilter.sources.bluesky.normalize import REPOST, MalformedPost, to_post
from plnfilter.times import parse_iso, parse_since, to_iso

DEFAULT_MAX_PAGES = 10  # x 100 posts per timeline per run
PAGE_LIMIT = 100
GET_POSTS = 25  # uris per app.bsky.feed.getPosts, the lexicon's maximum
PIN = "app.bsky.feed.defs#reasonPin"
_APP_URL = re.compile(r"^https://(?:www\.)?bsky\.app/profile/([^/]+)/(lists|feed)/([^/?#]+)")


def timelines(spec) -> list[BlueskyTimeline]:
    """One timeline per hashtag (or one for `q`), plus one each for list, author, feed and timeline."""
    options = spec.options
    explicit = str(options.get("service") or "").rstrip("/")
    prefix = f"bluesky:{urlsplit(explicit).netloc}/" if explicit else "bluesky:"
    found: list[BlueskyTimeline] = []

    def add(kind: str, target: str, label: str, login: bool) -> None:
        host_url = explicit or (login_service() if login else _appview())
        found.append(
            BlueskyTimeline(
                name=f"{prefix}{label}",
                spec=f"bluesky: {label}",
                host=urlsplit(host_url).netloc or host_url,
                kind=kind,
                target=target,
                options=dict(options),
                service=explicit,
            )
        )

    query = str(options.get("q") or "").strip()
    tags = [str(tag).lstrip("#").strip() for tag in options.get("hashtags") or [] if str(tag).strip("# ")]
    for tag in tags:
        add("search", tag, f"search/{tag.lower()}" + (f"?q={query}" if query else ""), True)
    if query and not tags:
        add("search", "", f"search?q={query}", True)
    if options.get("list"):
        add("list", str(options["list"]).strip(), f"list/{str(options['list']).strip()}", False)
    if options.get("author"):
        author = str(options["author"]).strip().lstrip("@")
        add("author", author, f"author/{author.lower()}", False)
    if options.get("feed"):
        add("feed", str(options["feed"]).strip(), f"feed/{str(options['feed']).strip()}", False)
    if options.get("timeline"):
        add("timeline", "", "timeline", True)
    custom = options.get("name")
    if custom:  # a named source keeps its cursors under that name
        for timeline in found:
            label = timeline.spec.removeprefix("bluesky: ")
            timeline.name = f"bluesky:{custom}" if len(found) == 1 else f"bluesky:{custom}/{label}"
    return found


def _appview() -> str:
    from plnfilter.sources.bluesky.session import appview_service

    return appview_service()


@dataclass
class BlueskyTimeline:
    """One Bluesky stream with its own cursor."""

    name: str
    spec: str
    host: str
    kind: str  # search | list | author | feed | timeline
    target: str  # the tag, list, actor or feed as written
    options: dict = field(default_factory=dict)
    service: str = ""  # from the source's `service:`; empty = the environment's defaults
    network: str = "bluesky"

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Page]:
        from plnfilter.sources.bluesky.auth import find_credentials
        from plnfilter.sources.bluesky.session import appview_service, connect

        needs_login = self.kind in ("search", "timeline")
        credentials = None
        if needs_login:
            try:
                credentials = find_credentials()
            except Exception as exc:  # AuthError from an ambiguous or unreadable store
                raise SourceError(
                    self.name, getattr(exc, "message", str(exc)), getattr(exc, "hint", "")
                ) from None
        login = self.kind == "timeline" or credentials is not None
        service = self.service or (login_service(credentials) if login else appview_service())
        # a `service:` may be a PDS, which serves lists, authors and feeds only with a session
        conn = connect(self.name, service, ctx, login)
        conn.login_on_401 = bool(self.service)
        nsid, params, key, hint = self._request(conn)
        if self.kind == "search":  # servers that honour `since` send less; the walk stops anyway
            old = decode_cursor(cursor)
            params["since"] = _iso_ms(old[0] if old else ctx.since)
        since = ctx.since
        if self.options.get("since"):
            try:
                since = max(since, parse_since(str(self.options["since"])))
            except ValueError as exc:
                raise SourceError(self.name, str(exc), "fix `since:` in the filter file") from None
        yield from walk(
            conn,
            nsid,
            params,
            key,
            cursor,
            since=since,
            max_pages=_max_pages(self.options.get("max_pages"), ctx.max_pages),
            keep=self._keeper(),
            not_found_hint=hint,
            check_empty=self._check_exists if self.kind == "list" else None,
        )

    def _request(self, conn) -> tuple[str, dict, str, str]:
        """The XRPC method, its parameters, the key of the item list, and the hint for a 400."""
        limit = PAGE_LIMIT
        if self.kind == "search":
            query = str(self.options.get("q") or "").strip() or f"#{self.target}"
            params = {"q": query, "sort": self.options.get("sort") or "latest", "limit": limit}
            if self.target:
                params["tag"] = [self.target]
            if self.options.get("lang"):
                params["lang"] = str(self.options["lang"])
            return "app.bsky.feed.searchPosts", params, "posts", "check `hashtags:`/`q:` in the filter file"
        if self.kind == "list":
            uri = resolve_uri(conn, self.target, "lists", "app.bsky.graph.list", self.name)
            self._list_uri = uri
            hint = "check the list URI or URL in the filter file (the list may have been deleted)"
            return "app.bsky.feed.getListFeed", {"list": uri, "limit": limit}, "feed", hint
        if self.kind == "author":
            params = {"actor": self.target, "limit": limit}
            if self.options.get("filter"):
                params["filter"] = str(self.options["filter"])
            hint = "check the handle in the filter file (the account may be gone or renamed)"
            return "app.bsky.feed.getAuthorFeed", params, "feed", hint
        if self.kind == "feed":
            uri = resolve_uri(conn, self.target, "feed", "app.bsky.feed.generator", self.name)
            return (
                "app.bsky.feed.getFeed",
                {"feed": uri, "limit": limit},
                "feed",
                "check the feed URI or URL in the filter file",
            )
        return (
            "app.bsky.feed.getTimeline",
            {"limit": limit},
            "feed",
            "check the login: plnfilter auth bluesky HANDLE",
        )

    def _check_exists(self, conn) -> None:
        """An unknown list gives an empty feed on some AppViews: ask for the list itself."""
        conn.get(
            "app.bsky.graph.getList",
            {"list": self._list_uri, "limit": 1},
            "check the list URI or URL in the filter file",
        )

    def _keeper(self) -> Callable[[Post, dict], bool]:
        tag = self.target.lower() if self.kind == "search" and self.target else ""
        lang = str(self.options.get("lang") or "").lower()

        def keep(post: Post, item: dict) -> bool:
            if tag and tag not in post.tags:
                return False
            if lang and not any(code.lower().split("-")[0] == lang.split("-")[0] for code in langs_of(item)):
                return False
            return True

        return keep


def walk(
    conn,
    nsid: str,
    params: dict,
    key: str,
    cursor: str | None,
    *,
    since: datetime,
    max_pages: int,
    keep: Callable[[Post, dict], bool],
    not_found_hint: str = "",
    check_empty: Callable[[Any], None] | None = None,
) -> Iterator[Page]:
    """Page newest-first until the old cursor or the horizon; the last page carries the new cursor."""
    old = decode_cursor(cursor)
    horizon = old[0] if old else since
    newest = old
    page_cursor: str | None = None
    seen_cursors: set[str] = set()  # a server repeating a cursor ends the walk instead of looping
    pages = 0
    while True:
        data = conn.get(nsid, {**params, "cursor": page_cursor}, not_found_hint)
        items = data.get(key)
        if not isinstance(items, list):
            raise SourceError(conn.name, f"{nsid} answered without a `{key}` list", "check the service URL")
        if pages == 0 and not items and check_empty is not None and page_cursor is None:
            check_empty(conn)
        pages += 1
        posts: dict[str, Post] = {}
        problems: list[str] = []
        reached = False
        for item in items:
            try:
                post = to_post(item, conn.name)
            except MalformedPost as exc:
                problems.append(f"skipped malformed post {exc.uri or '(no uri)'}: {exc}")
                continue
            at, ordered = sort_time(item)
            if at is not None and ordered:
                if at < horizon or (old is not None and post.uri == old[1]):
                    reached = True
                if newest is None or (at, post.uri) > newest:
                    newest = (at, post.uri)
            if at is not None and at < since:
                continue
            if not keep(post, item):
                continue
            if post.uri in posts:
                seen = posts[post.uri]
                merged = seen.reposted_by + tuple(r for r in post.reposted_by if r not in seen.reposted_by)
                post = replace(seen, reposted_by=merged)
            posts[post.uri] = post
        # Only the server's cursor says whether there is more: an AppView drops posts it will not show
        # (blocked or muted authors) after taking a page, so a short or empty page can go on.
        next_cursor = data.get("cursor") if isinstance(data.get("cursor"), str) else None
        moved = bool(next_cursor) and next_cursor != page_cursor and next_cursor not in seen_cursors
        seen_cursors.add(next_cursor or "")
        page_cursor = next_cursor if moved else None
        last = reached or not moved or pages >= max_pages
        if last and pages >= max_pages and not reached and page_cursor and old is not None:
            problems.append(
                f"stopped after {pages} pages before reaching the last run's posts; raise max_pages to close the gap"
            )
        yield Page(list(posts.values()), cursor=encode_cursor(newest) if last else None, problems=problems)
        if last:
            return


def fetch_post_views(
    service: str, uris: list[str], ctx: FetchContext, source: str, login: bool = False
) -> Iterator[tuple[list[str], list[dict]]]:
    """The current post views of these at:// uris, GET_POSTS per request: (uris asked, views sent).

    Through the same connection code as the feeds (anonymous on an AppView, the saved session when
    `login`), so timeouts, rate limits and errors read the same. A deleted post is simply absent.
    https://docs.bsky.app/docs/api/app-bsky-feed-get-posts
    """
    from plnfilter.sources.bluesky.session import appview_service, connect

    conn = connect(source, service, ctx, login)
    conn.login_on_401 = service.rstrip("/") != appview_service()  # a PDS serves posts only with a session
    for chunk in in_chunks(uris, GET_POSTS, ctx, source):
        data = conn.get("app.bsky.feed.getPosts", {"uris": chunk}, "check the service URL")
        views = data.get("posts")
        if not isinstance(views, list):
            raise SourceError(
                source, "app.bsky.feed.getPosts answered without a `posts` list", "check the service URL"
            )
        yield chunk, [view for view in views if isinstance(view, dict)]


def sort_time(item: dict) -> tuple[datetime | None, bool]:
    """When the feed placed this item (a repost's time, else the earlier of indexedAt and createdAt)
    and whether it is time-ordered at all (a pinned post sits on top whatever its age)."""
    view = item.get("post") if isinstance(item.get("post"), dict) else item
    reason = item.get("reason") if isinstance(item.get("reason"), dict) else None
    if reason is not None and reason.get("$type") == PIN:
        return _parse(view.get("indexedAt")), False
    if reason is not None and reason.get("$type") == REPOST and reason.get("indexedAt"):
        return _parse(reason.get("indexedAt")), True
    record = view.get("record") if isinstance(view.get("record"), dict) else {}
    times = [t for t in (_parse(view.get("indexedAt")), _parse(record.get("createdAt"))) if t is not None]
    return (min(times) if times else None), True


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def langs_of(item: dict) -> list[str]:
    view = item.get("post") if isinstance(item.get("post"), dict) else item
    record = view.get("record") if isinstance(view.get("record"), dict) else {}
    langs = record.get("langs")
    return [code for code in langs if isinstance(code, str)] if isinstance(langs, list) else []


def _iso_ms(moment: datetime) -> str:
    return f"{to_iso(moment)[:-1]}.{moment.microsecond // 1000:03d}Z"


def encode_cursor(newest: tuple[datetime, str] | None) -> str | None:
    """`ISO-time|at-uri` of the newest item seen (milliseconds kept, so ordering is exact)."""
    if newest is None:
        return None
    moment, uri = newest
    return f"{_iso_ms(moment)}|{uri}"


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor or "|" not in cursor:
        return None
    moment, _, uri = cursor.partition("|")
    parsed = _parse(moment)
    return (parsed, uri) if parsed else None


def _max_pages(option: Any, from_run: int | None) -> int:
    limits = [
        int(value)
        for value in (option, from_run)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
    ]
    return min(limits) if limits else DEFAULT_MAX_PAGES


def resolve_uri(conn, target: str, url_kind: str, collection: str, name: str) -> str:
    """An AT-URI as given, or a bsky.app URL (`/profile/HANDLE/lists|feed/RKEY`) turned into one."""
    if target.startswith("at://"):
        return target
    match = _APP_URL.match(target)
    if not match or match.group(2) != url_kind:
        example = f"https://bsky.app/profile/HANDLE/{url_kind}/RKEY"
        raise SourceError(
            name,
            f"{target!r} is neither an at:// URI nor a bsky.app URL",
            f"write it as at://DID/{collection}/RKEY or {example}",
        )
    actor, _, rkey = match.groups()
    did = actor
    if not actor.startswith("did:"):
        did = conn.get(
            "com.atproto.identity.resolveHandle", {"handle": actor}, f"check the handle {actor} in the URL"
        ).get("did", "")
        if not isinstance(did, str) or not did.startswith("did:"):
            raise SourceError(name, f"{actor} did not resolve to a DID", "check the handle in the URL")
    return f"at://{did}/{collection}/{rkey}"
