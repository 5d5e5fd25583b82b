"""Mastodon status JSON (as the API sent it, not Mastodon.py entities) to a Post.

Working on the wire JSON keeps `raw` serialisable and is ~100x faster than Mastodon.py's
entity casting (benchmarks/bench_normalize_mastodon.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from plnfilter.html_text import html_to_text, shared_links
from plnfilter.post import Post
from plnfilter.times import normalise_iso


@lru_cache(maxsize=64)
def instance_base(instance: str) -> tuple[str, str]:
    """(`https://host`, `host`) for `host`, `https://host/` or `http://127.0.0.1:8123`."""
    instance = instance.strip().rstrip("/")
    if "://" not in instance:
        instance = "https://" + instance
    parts = urlsplit(instance)
    host = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{host}", host


def _utc_iso(text: str) -> str:
    """Mastodon's `2026-11-26T09:30:00.123Z` / `+00:00` sliced to our form; anything else parsed properly."""
    if (
        len(text) >= 20
        and text[10] == "T"
        and text[19] in ".Z+"
        and (text[-1] == "Z" or text.endswith("+00:00"))
    ):
        return text[:19] + "Z"
    return normalise_iso(text)


def full_acct(acct: str, host: str) -> str:
    """`user@host`: the API gives accounts local to the instance without their domain."""
    acct = acct.lstrip("@")
    if not acct or "@" in acct:
        return acct
    return f"{acct}@{host}"


def _status_api_url(base: str, status_id: Any) -> str:
    """An instance-local status id made global: the API URL that returns that status."""
    return f"{base}/api/v1/statuses/{status_id}"


def _quote_of(quote: Any, base: str) -> str:
    """Mastodon 4.5 `quote` is {state, quoted_status} or {state, quoted_status_id}; some forks inline a status."""
    if not isinstance(quote, dict):
        return ""
    quoted = quote.get("quoted_status")
    if isinstance(quoted, dict) and quoted.get("uri"):
        return quoted["uri"]
    if quote.get("uri"):
        return quote["uri"]
    quoted_id = quote.get("quoted_status_id")
    return _status_api_url(base, quoted_id) if quoted_id else ""


def to_post(status: dict[str, Any], instance: str, source: str = "") -> Post:
    """One Post per status; a boost becomes the original status with the booster in `reposted_by`.

    `reply_to` is `<instance>/api/v1/statuses/<in_reply_to_id>`: the API gives only the
    instance-local id of the parent, never its `uri`, and this form names it unambiguously.
    Raises ValueError when the status has no `uri` (the identity of every archived post).
    """
    base, host = instance_base(instance)
    original = status.get("reblog") or status
    reposted_by: tuple[str, ...] = ()
    if original is not status:
        booster = (status.get("account") or {}).get("acct") or ""
        reposted_by = (full_acct(booster, host),) if booster else ()

    uri = original.get("uri")
    if not uri or not isinstance(uri, str):
        raise ValueError(f"status {status.get('id')!r} has no uri")
    account = original.get("account") or {}
    content = original.get("content") or ""

    tags: list[str] = []
    for tag in original.get("tags") or ():
        name = (tag.get("name") or "").lstrip("#").lower() if isinstance(tag, dict) else ""
        if name and name not in tags:
            tags.append(name)

    links = shared_links(content) if content else []
    card = original.get("card") or {}
    card_url = card.get("url") or ""
    if card_url and card_url not in links:
        links.append(card_url)

    mentions = [
        full_acct(mention["acct"], host)
        for mention in original.get("mentions") or ()
        if isinstance(mention, dict) and mention.get("acct")
    ]
    media = original.get("media_attachments") or ()
    reply_id = original.get("in_reply_to_id")

    return Post(
        uri=uri,
        network="mastodon",
        url=original.get("url") or uri,
        author=full_acct(account.get("acct") or account.get("username") or "", host),
        author_name=account.get("display_name") or account.get("username") or "",
        author_id=account.get("url") or account.get("uri") or "",
        author_bot=bool(account.get("bot")),
        author_followers=account.get("followers_count") or 0,
        created_at=_utc_iso(original.get("created_at") or ""),
        text=html_to_text(content),
        html=content,
        lang=original.get("language") or "",
        tags=tuple(tags),
        links=tuple(links),
        mentions=tuple(mentions),
        reply_to=_status_api_url(base, reply_id) if reply_id else "",
        quote_of=_quote_of(original.get("quote"), base),
        reposted_by=reposted_by,
        has_media=bool(media),
        media_alt=tuple([m["description"] for m in media if isinstance(m, dict) and m.get("description")])
        if media
        else (),
        sensitive=bool(original.get("sensitive")),
        spoiler=original.get("spoiler_text") or "",
        likes=original.get("favourites_count") or 0,
        reposts=original.get("reblogs_count") or 0,
        replies=original.get("replies_count") or 0,
        quotes=original.get("quotes_count") or 0,
        card_url=card_url,
        card_title=card.get("title") or "",
        source=source,
        visibility=_visibility(original.get("visibility")),
        author_opt_out=account.get("noindex") is True,
        raw=status,
    )


# Mastodon's visibilities as stored; `private` is Mastodon's word for followers-only. Anything
# unknown (a fork's `local`, a missing key) is kept as `public` only when the key is absent.
_VISIBILITIES = {"public": "public", "unlisted": "unlisted", "private": "followers", "direct": "direct"}


def _visibility(value: Any) -> str:
    """Who may see a status: public, unlisted, followers or direct. A missing visibility is public
    (older servers and some captured pages leave it out); an unknown one is followers, the cautious
    reading for publishing."""
    if value is None:
        return "public"
    return _VISIBILITIES.get(str(value).lower(), "followers")


def is_direct(status: Any) -> bool:
    """A direct message (never archived)."""
    if not isinstance(status, dict):
        return False
    original = status.get("reblog") or status
    return isinstance(original, dict) and str(original.get("visibility") or "").lower() == "direct"
