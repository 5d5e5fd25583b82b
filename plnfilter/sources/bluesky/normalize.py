"""Bluesky wire JSON (a PostView or a FeedViewPost, camelCase as XRPC returns it) into a Post.

Works on plain dicts rather than atproto's pydantic models: one malformed post view makes a
whole model page raise, and model parsing is far slower than reading the few keys we need.
Lexicons: https://github.com/bluesky-social/atproto/tree/main/lexicons/app/bsky
"""

from __future__ import annotations

from typing import Any

from plnfilter.post import Post
from plnfilter.times import normalise_iso

TAG = "app.bsky.richtext.facet#tag"
LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
REPOST = "app.bsky.feed.defs#reasonRepost"

# Label values that mean "not for everyone" (Bluesky's global moderation labels).
SENSITIVE_LABELS = frozenset({"porn", "sexual", "nudity", "graphic-media", "gore", "sexual-figurative"})


class MalformedPost(ValueError):
    """A post view without the keys every post has (uri, author, record); the source skips it."""

    def __init__(self, message: str, uri: str = "") -> None:
        super().__init__(f"{uri}: {message}" if uri else message)
        self.uri = uri


def to_post(item: dict, source: str = "") -> Post:
    """One PostView (searchPosts) or FeedViewPost (feeds); a repost becomes the original post."""
    if not isinstance(item, dict):
        raise MalformedPost(f"expected an object, found {type(item).__name__}")
    view = item.get("post")
    reposted_by: tuple[str, ...] = ()
    if view is None:
        view = item
    else:
        if not isinstance(view, dict):
            raise MalformedPost("feed item's post is not an object")
        reason = item.get("reason")
        if isinstance(reason, dict) and reason.get("$type") == REPOST:
            by = reason.get("by")
            if isinstance(by, dict) and (by.get("handle") or by.get("did")):
                reposted_by = (str(by.get("handle") or by.get("did")),)
    return _from_view(view, item, source, reposted_by)


def _from_view(view: dict, raw: dict, source: str, reposted_by: tuple[str, ...]) -> Post:
    uri = view.get("uri")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise MalformedPost("post view has no at:// uri")
    author = view.get("author")
    record = view.get("record")
    if not isinstance(author, dict) or not isinstance(author.get("did"), str):
        raise MalformedPost("post view has no author DID", uri)
    if not isinstance(record, dict):
        raise MalformedPost("post view has no record", uri)
    text = record.get("text")
    if text is None:
        text = ""
    elif not isinstance(text, str):
        raise MalformedPost("record text is not a string", uri)

    did = author["did"]
    handle = author.get("handle")
    if not isinstance(handle, str) or not handle or handle == "handle.invalid":
        handle = did
    tags: list[str] = []
    links: list[str] = []
    mentions: list[str] = []
    facets = record.get("facets")
    if facets:
        _read_facets(facets, text, tags, links, mentions, uri)
    record_tags = record.get("tags")
    if isinstance(record_tags, list):
        for tag in record_tags:
            if isinstance(tag, str):
                _add(tags, tag.lstrip("#").lower())

    embed = view.get("embed") if isinstance(view.get("embed"), dict) else record.get("embed")
    media_alt: list[str] = []
    facts = _read_embed(embed, links, media_alt) if isinstance(embed, dict) else _EMPTY_EMBED

    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else ""
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    reply_to = parent.get("uri", "") if isinstance(parent, dict) else ""
    created = normalise_iso(_str(record.get("createdAt"))) or normalise_iso(_str(view.get("indexedAt")))
    name = author.get("displayName")
    followers = author.get("followersCount")
    rkey = uri.rsplit("/", 1)[-1]

    return Post(
        uri=uri,
        network="bluesky",
        url=f"https://bsky.app/profile/{handle}/post/{rkey}",
        author=handle,
        author_name=name if isinstance(name, str) else "",
        author_id=did,
        author_bot=_is_bot(author),
        author_followers=followers if isinstance(followers, int) else 0,
        created_at=created,
        text=text,
        lang=lang,
        tags=tuple(tags),
        links=tuple(links),
        mentions=tuple(mentions),
        reply_to=reply_to if isinstance(reply_to, str) else "",
        quote_of=facts[0],
        reposted_by=reposted_by,
        has_media=facts[1],
        media_alt=tuple(media_alt),
        sensitive=_is_sensitive(view.get("labels")),
        spoiler="",
        likes=_count(view.get("likeCount")),
        reposts=_count(view.get("repostCount")),
        replies=_count(view.get("replyCount")),
        quotes=_count(view.get("quoteCount")),
        card_url=facts[2],
        card_title=facts[3],
        source=source,
        visibility="public",  # every Bluesky post is public
        author_opt_out=_opted_out(author),
        raw=raw,
    )


def _read_facets(facets: Any, text: str, tags: list, links: list, mentions: list, uri: str) -> None:
    """Tags, links and mentions from richtext facets; a mention's handle is read from its text slice."""
    if not isinstance(facets, list):
        raise MalformedPost("record facets is not a list", uri)
    encoded: bytes | None = None
    for facet in facets:
        if not isinstance(facet, dict):
            continue
        for feature in facet.get("features") or ():
            if not isinstance(feature, dict):
                continue
            kind = feature.get("$type")
            if kind == TAG:
                tag = feature.get("tag")
                if isinstance(tag, str) and tag:
                    _add(tags, tag.lstrip("#").lower())
            elif kind == LINK:
                link = feature.get("uri")
                if isinstance(link, str) and link:
                    _add(links, link)
            elif kind == MENTION:
                if encoded is None:
                    encoded = text.encode("utf-8")
                handle = _mention_handle(facet.get("index"), encoded)
                did = feature.get("did")
                who = handle or (did if isinstance(did, str) else "")
                if who:
                    _add(mentions, who)


def _mention_handle(index: Any, encoded: bytes) -> str:
    """The `@handle` the facet covers (byte offsets into UTF-8 text), or '' if it is not one."""
    if not isinstance(index, dict):
        return ""
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(encoded):
        return ""
    piece = encoded[start:end].decode("utf-8", errors="replace").strip()
    if piece.startswith("@") and "." in piece and " " not in piece:
        return piece[1:].lower()
    return ""


# (quote_of, has_media, card_url, card_title)
_EMPTY_EMBED = ("", False, "", "")


def _read_embed(embed: dict, links: list, media_alt: list) -> tuple[str, bool, str, str]:
    """Quote, media and link card from an embed view (`...#view`) or the record's own embed."""
    kind = embed.get("$type") or ""
    quote_of = ""
    has_media = False
    card_url = card_title = ""
    media = None
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        inner = embed.get("record")
        quote_of = _quoted_uri(inner.get("record") if isinstance(inner, dict) else None)
        media = embed.get("media")
    elif kind.startswith("app.bsky.embed.record"):
        quote_of = _quoted_uri(embed.get("record"))
    else:
        media = embed
    if isinstance(media, dict):
        media_kind = media.get("$type") or ""
        if media_kind.startswith("app.bsky.embed.images"):
            images = media.get("images")
            if isinstance(images, list) and images:
                has_media = True
                for image in images:
                    alt = image.get("alt") if isinstance(image, dict) else None
                    if isinstance(alt, str) and alt.strip():
                        media_alt.append(alt)
        elif media_kind.startswith("app.bsky.embed.video"):
            has_media = True
            alt = media.get("alt")
            if isinstance(alt, str) and alt.strip():
                media_alt.append(alt)
        elif media_kind.startswith("app.bsky.embed.external"):
            external = media.get("external")
            if isinstance(external, dict):
                card_url = _str(external.get("uri"))
                card_title = _str(external.get("title"))
                if card_url:
                    _add(links, card_url)
    return quote_of, has_media, card_url, card_title


def _quoted_uri(record: Any) -> str:
    """The quoted post's uri, whether shown (viewRecord), hidden (viewBlocked/NotFound) or a strongRef."""
    if isinstance(record, dict):
        uri = record.get("uri")
        if isinstance(uri, str):
            return uri
    return ""


def _is_sensitive(labels: Any) -> bool:
    if not isinstance(labels, list):
        return False
    return any(
        isinstance(label, dict) and label.get("val") in SENSITIVE_LABELS and not label.get("neg")
        for label in labels
    )


OPT_OUT_LABEL = "!no-unauthenticated"


def _opted_out(author: dict) -> bool:
    """The author labelled themselves (or was labelled) `!no-unauthenticated`: not to be shown to
    people who are not logged in. A negated label cancels it."""
    labels = author.get("labels")
    return isinstance(labels, list) and any(
        isinstance(lab, dict) and lab.get("val") == OPT_OUT_LABEL and not lab.get("neg") for lab in labels
    )


def _is_bot(author: dict) -> bool:
    """Bluesky has no bot flag; accounts self-label with `bot` (rare) and that is honoured."""
    labels = author.get("labels")
    return isinstance(labels, list) and any(
        isinstance(lab, dict) and lab.get("val") == "bot" for lab in labels
    )


def _add(items: list, value: str) -> None:
    if value and value not in items:
        items.append(value)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
