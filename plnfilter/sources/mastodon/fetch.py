"""Mastodon timelines (hashtag, list, account, home, local and federated) fetched incrementally and gap-free.

Cursor = the newest status id saved, an opaque string (GoToSocial ids are ULIDs: never compared
or converted here; order comes only from the server's pagination).
- First run (no cursor): walk back from the newest page with `max_id` until `ctx.since` or
  max_pages; pages carry no cursor except the last one, which carries the newest id seen, so a
  run killed half-way redoes the walk instead of leaving a gap. A walk that a failure (a server
  error, a broken connection) interrupts saves where it stopped with its last page
  (`_walk_cursor`: the newest id and the `max_id` to ask next); the next run walks on from there
  down to `since`, then catches up above the newest id.
- Catch-up: `min_id=cursor` returns the page right after the cursor (`since_id` would return the
  newest page and skip what lies between); then page newer with the `Link: rel="prev"` min_id.
  Pages arrive oldest first, each with its newest id as cursor (for a page the server emptied,
  the newest id of what it hid, from its `Link`).
- Both walks go on only as the server's `Link` header says: a page can come back short or empty
  while more posts exist (GoToSocial removes posts of muted accounts after taking the page), so
  a walk ends where there is no link onwards, or the link points where the walk already stood.
https://docs.joinmastodon.org/api/guidelines/#pagination
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plnfilter.errors import SourceError
from plnfilter.sources import FetchContext, Page, in_chunks
from plnfilter.sources.mastodon.normalize import instance_base, to_post
from plnfilter.times import normalise_iso, to_iso

if TYPE_CHECKING:
    from plnfilter.filterfile import SourceSpec
    from plnfilter.post import Post
    from plnfilter.sources.mastodon.client import MastodonClient, RawPage

DEFAULT_MAX_PAGES = 10
PAGE_LIMIT = 40  # the most Mastodon serves per request
MULTI_GET = 20  # ids per GET /api/v1/statuses: Mastodon's DEFAULT_STATUSES_LIMIT, more is a 422


@dataclass
class MastodonTimeline:
    """One timeline on one instance: kind is tag, list, account or home."""

    name: str
    host: str
    spec: str
    instance: str
    kind: str
    value: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    network: str = "mastodon"

    def fetch(self, cursor: str | None, ctx: FetchContext) -> Iterator[Page]:
        """Yield pages (see the module docstring); raise SourceError after yielding what was fetched."""
        from plnfilter.sources.mastodon.auth import token_for
        from plnfilter.sources.mastodon.client import MastodonClient, NotFound

        client = MastodonClient(self.instance, token_for(self.instance), ctx, self.name, self._not_found())
        endpoint, params = self._endpoint(client)
        max_pages = ctx.max_pages or self.options.get("max_pages") or DEFAULT_MAX_PAGES
        walk = _walk_state(cursor)
        try:
            if walk:  # a first-run walk that a failure interrupted: finish it, then catch up above it
                top, below = walk
                yield from self._first_run(client, endpoint, params, max_pages, top, below)
                if not ctx.past_deadline():
                    yield from self._catch_up(client, endpoint, params, top, max_pages)
            elif cursor:
                yield from self._catch_up(client, endpoint, params, cursor, max_pages)
            else:
                yield from self._first_run(client, endpoint, params, max_pages)
        except NotFound:
            if self.kind != "tag":
                raise
            # GoToSocial answers 404 for a hashtag nobody has used yet, where Mastodon answers []:
            # nothing to fetch yet, not a failure.
            ctx.log(f"{self.name}: no posts tagged #{self.value} on {client.host} yet")

    def _not_found(self) -> str:
        if self.kind == "tag":
            return f"hashtag #{self.value} is unknown"
        if self.kind == "list":
            return f"list {self.value!r} was not found"
        if self.kind == "account":
            return f"account {self.value} was not found"
        if self.kind == "public":
            return f"the {self.value} timeline was not found"
        return "the home timeline was not found"

    def _endpoint(self, client: MastodonClient) -> tuple[str, dict[str, Any]]:
        """The timeline's API path and fixed parameters (resolving list names and accounts to ids)."""
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if self.kind == "tag":
            if self.options.get("local"):
                params["local"] = "true"
            return f"/api/v1/timelines/tag/{quote(self.value, safe='')}", params
        if self.kind == "list":
            return f"/api/v1/timelines/list/{quote(resolve_list(client, self.value), safe='')}", params
        if self.kind == "account":
            account_id = resolve_account(client, self.value)
            if self.options.get("tagged"):
                params["tagged"] = str(self.options["tagged"]).lstrip("#")
            if self.options.get("exclude_replies"):
                params["exclude_replies"] = "true"
            return f"/api/v1/accounts/{quote(account_id, safe='')}/statuses", params
        if self.kind == "public":
            return public_endpoint(self.value, self.options, params)
        return "/api/v1/timelines/home", params

    def _posts(self, statuses: list[dict[str, Any]], since_iso: str = "") -> tuple[list[Post], list[str]]:
        """Normalise a page; skip (and report) malformed statuses and, on a first run, ones before `since`."""
        posts: list[Post] = []
        problems: list[str] = []
        for status in statuses:
            if since_iso:
                created = normalise_iso(str(status.get("created_at") or ""))
                if (
                    created and created < since_iso
                ):  # an unreadable date is not "old": it must not end the walk
                    continue
            try:
                posts.append(to_post(status, self.instance, self.name))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                problems.append(f"skipped malformed status {status.get('id')!r}: {exc}")
        return posts, problems

    def _tagged(self, posts: list[Post]) -> list[Post]:
        """An account's posts with the `tagged:` hashtag only: not every server honours `tagged=`
        (GoToSocial ignores it and sends all of them)."""
        tag = str(self.options.get("tagged") or "").lstrip("#").lower() if self.kind == "account" else ""
        return [post for post in posts if tag in post.tags] if tag else posts

    def _first_run(
        self,
        client: MastodonClient,
        endpoint: str,
        params: dict[str, Any],
        max_pages: int,
        top: str | None = None,
        max_id: str | None = None,
    ) -> Iterator[Page]:
        """Walk back from the newest page, or (`top`, `max_id`: resuming) from where a failure stopped it."""
        since_iso = to_iso(client.ctx.since)
        newest: str | None = top
        held: Page | None = None  # yielded once the next page is known, so the last one can carry the cursor
        visited: set[str] = set()
        try:
            for number in range(max_pages):
                if number and client.past_deadline():
                    client.ctx.log(f"{self.name}: stopped at the deadline after {number} pages")
                    break
                page = client.get_page(endpoint, {**params, "max_id": max_id} if max_id else params)
                newest = newest or _top(page) or None
                if not page.statuses and not page.next_max_id:
                    break  # nothing (more) there
                posts, problems = self._posts(page.statuses, since_iso)
                if held is not None:
                    yield held
                held = Page(self._tagged(posts), None, problems)
                if len(posts) < len(page.statuses) - len(problems):
                    break  # reached statuses before `since`
                # Only the server's Link says whether there is more: a page emptied by the server's own
                # filtering (GoToSocial hides muted accounts' posts) still links past what it hid.
                next_max_id = _moved(_onwards(page, "next"), max_id, visited)
                if next_max_id is None:
                    break
                max_id = next_max_id
        except SourceError:
            if held is not None:  # the next run goes on from here, down to `since`, then catches up
                yield Page(held.posts, _walk_cursor(newest, max_id), held.problems)
            raise
        if held is not None:
            yield Page(held.posts, newest, held.problems)
        elif newest:
            yield Page([], newest)

    def _catch_up(
        self, client: MastodonClient, endpoint: str, params: dict[str, Any], cursor: str, max_pages: int
    ) -> Iterator[Page]:
        min_id = cursor
        visited = {cursor}
        for number in range(max_pages):
            if number and client.past_deadline():
                client.ctx.log(f"{self.name}: stopped at the deadline; the next run continues")
                return
            page = client.get_page(endpoint, {**params, "min_id": min_id})
            newest = _top(page)
            if page.statuses and not page.statuses[0].get("id"):
                raise SourceError(self.name, f"{client.host} sent statuses without ids", "check the server")
            if not newest:
                return  # caught up: no statuses and no link onwards
            posts, problems = self._posts(page.statuses)
            yield Page(self._tagged(posts), newest, problems)
            # Follow the server's `Link: rel="prev"`, never the page's size: a page the server emptied
            # (posts of muted accounts) still links past what it hid.
            next_min_id = _moved(_onwards(page, "prev"), min_id, visited)
            if next_min_id is None:
                return
            min_id = next_min_id
        client.ctx.log(f"{self.name}: more new posts than {max_pages} pages; the next run continues")


def _walk_cursor(top: str | None, below: str | None) -> str | None:
    """The cursor of a first-run walk a failure interrupted: everything from `below` (the `max_id` to
    ask next) up to `top` (the newest id) is archived; what lies under `below` is not yet."""
    return json.dumps({"walk_top": top, "walk_below": below}) if top and below else None


def _walk_state(cursor: str | None) -> tuple[str, str] | None:
    """(top, below) of an interrupted walk's cursor; None for a plain cursor (an id: never JSON)."""
    if not cursor or not cursor.startswith("{"):
        return None
    try:
        state = json.loads(cursor)
    except ValueError:
        return None
    top, below = (state.get("walk_top"), state.get("walk_below")) if isinstance(state, dict) else (None, None)
    return (top, below) if isinstance(top, str) and isinstance(below, str) and top and below else None


def _top(page: RawPage) -> str:
    """Where a page reaches up to: its newest status, or for a page the server emptied, its `Link`'s
    rel="prev" min_id (the newest of what it hid); "" for an empty page without a link."""
    if page.statuses:
        return str(page.statuses[0].get("id") or "")
    return page.prev_min_id or ""


def _onwards(page: RawPage, rel: str) -> str | None:
    """The id the page's `Link` rel="next" (max_id) or rel="prev" (min_id) names. Only an answer
    without any `Link` header (a proxy that strips it) is paged by its own oldest or newest id."""
    if page.linked:
        return page.next_max_id if rel == "next" else page.prev_min_id
    if not page.statuses:
        return None
    return str(page.statuses[-1 if rel == "next" else 0].get("id") or "") or None


def _moved(link_id: str | None, current: str | None, visited: set[str]) -> str | None:
    """The id the server's Link points to when it leads somewhere new, else None (the walk ends there).

    Ids are opaque (ULIDs on GoToSocial): "somewhere new" means not a position this walk has stood at,
    so a server that repeats the same Link ends the walk instead of looping.
    """
    if not link_id or link_id == current or link_id in visited:
        return None
    visited.add(link_id)
    return link_id


def fetch_statuses_by_id(
    instance: str, ids: list[str], ctx: FetchContext, source: str
) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """The current statuses for instance-local ids, MULTI_GET per request: (ids asked, statuses sent).

    Same client as the timelines (token, timeouts, bounded rate-limit waits). Raises NotOffered on a
    server without `GET /api/v1/statuses` (before Mastodon 4.3), SourceError for anything else.
    """
    from plnfilter.sources.mastodon.auth import token_for
    from plnfilter.sources.mastodon.client import MastodonClient

    client = MastodonClient(instance, token_for(instance), ctx, source, "statuses")
    for chunk in in_chunks(ids, MULTI_GET, ctx, source):
        yield chunk, client.get_statuses(chunk)


def fetch_statuses_one_by_one(
    instance: str, ids: list[str], ctx: FetchContext, source: str
) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """Like `fetch_statuses_by_id`, one `GET /api/v1/statuses/:id` per id, for servers without the
    multi-get (GoToSocial, Mastodon before 4.3); a status gone or no longer visible gives []."""
    from plnfilter.sources.mastodon.auth import token_for
    from plnfilter.sources.mastodon.client import MastodonClient

    client = MastodonClient(instance, token_for(instance), ctx, source, "statuses")
    for chunk in in_chunks(ids, 1, ctx, source):
        yield chunk, client.get_status(chunk[0])


def resolve_list(client: MastodonClient, wanted: str) -> str:
    """A list id from an id or a title (exact, then case-insensitive); SourceError naming the lists there are."""
    lists, _ = client.get_json("/api/v1/lists", {})
    lists = [item for item in lists if isinstance(item, dict)] if isinstance(lists, list) else []
    for item in lists:
        if str(item.get("id")) == wanted:
            return wanted
    for match in (lambda title: title == wanted, lambda title: title.casefold() == wanted.casefold()):
        found = [item for item in lists if match(str(item.get("title") or ""))]
        if found:
            return str(found[0]["id"])
    titles = ", ".join(repr(str(item.get("title"))) for item in lists) or "none"
    raise SourceError(
        client.source,
        f"no list named {wanted!r} on {client.host}",
        f"lists of this account: {titles}; write one of them (or its id) after `list:`",
    )


def resolve_account(client: MastodonClient, acct: str) -> str:
    """The instance-local id of `user@host` via `accounts/lookup`; a local account may be written with its host."""
    acct = acct.lstrip("@")
    candidates = [acct]
    user, _, domain = acct.partition("@")
    if domain and domain.lower() == client.host:
        candidates.append(user)
    for candidate in candidates:
        try:
            data, _ = client.get_json("/api/v1/accounts/lookup", {"acct": candidate})
        except SourceError:
            if candidate is candidates[-1]:
                raise
            continue
        if isinstance(data, dict) and data.get("id"):
            return str(data["id"])
    raise SourceError(
        client.source, f"account {acct} was not found on {client.host}", "check the filter file"
    )


def public_endpoint(
    which: str, options: dict[str, Any], params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The Local or Federated timeline (`GET /api/v1/timelines/public`), paged like the tag timelines.
    https://docs.joinmastodon.org/methods/timelines/#public"""
    params = dict(params)
    if which == "local":
        params["local"] = "true"
    elif options.get("remote"):
        params["remote"] = "true"
    if options.get("only_media"):
        params["only_media"] = "true"
    return "/api/v1/timelines/public", params


def public_key(options: dict[str, Any]) -> tuple[str, str]:
    """(cursor key, label) of a public timeline: each choice of options keeps its own cursor."""
    which = options["timeline"]
    key = f"public/{which}" + ("/remote" if options.get("remote") and which != "local" else "")
    key += "/media" if options.get("only_media") else ""
    written = (
        f"timeline: {which}"
        + (" remote" if "/remote" in key else "")
        + (" only_media" if options.get("only_media") else "")
    )
    return key, written


def timelines(spec: SourceSpec) -> list[MastodonTimeline]:
    """One timeline per hashtag, plus the list, account and home timelines the source names."""
    options = dict(spec.options)
    _, host = instance_base(spec.target)
    prefix = f"mastodon:{host}"
    made: list[MastodonTimeline] = []

    def add(kind: str, value: str, key: str, written: str) -> None:
        made.append(
            MastodonTimeline(
                f"{prefix}/{key}",
                host,
                f"mastodon: {spec.target} {written}",
                spec.target,
                kind,
                value,
                options,
            )
        )

    local = "/local" if options.get("local") else ""
    for tag in options.get("hashtags") or []:
        tag = str(tag).strip().lstrip("#")
        if tag:
            add("tag", tag, f"tag/{tag.lower()}{local}", f"#{tag}{' local' if local else ''}")
    if options.get("list") not in (None, ""):
        value = str(options["list"])
        add("list", value, f"list/{value}", f"list: {value}")
    if options.get("account"):
        value = str(options["account"]).lstrip("@")
        tagged = str(options.get("tagged") or "").lstrip("#").lower()
        add(
            "account",
            value,
            f"account/{value}" + (f"/tagged/{tagged}" if tagged else ""),
            f"account: {value}",
        )
    if options.get("home"):
        add("home", "", "home", "home")
    if options.get("timeline"):
        add("public", options["timeline"], *public_key(options))
    if not made:
        raise SourceError(
            spec.name or prefix,
            f"mastodon source {spec.target} names nothing to fetch",
            "add hashtags: [...], list: NAME, account: user@host, home: true or timeline: local",
        )
    return made
