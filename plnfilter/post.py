"""The one type every source maps into and every later stage reads."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

_NEW_DICT: Any = object()  # `raw` not given: a new empty dict (the dataclass's default_factory)


@dataclass(slots=True, init=False, repr=False, eq=False)
class Post:
    """A post from either network, normalised once at ingest.

    `uri` is the identity (Mastodon status `uri`, Bluesky `at://` URI); a boost or
    repost is stored as the original post with the booster in `reposted_by`.
    Times are ISO 8601 UTC strings ending in `Z`, so they sort as text.
    """

    uri: str
    network: str  # "mastodon" | "bluesky"
    url: str = ""
    author: str = ""  # user@host on Mastodon, handle on Bluesky
    author_name: str = ""
    author_id: str = ""  # account URL on Mastodon, DID on Bluesky
    author_bot: bool = False
    author_followers: int = 0
    created_at: str = ""
    text: str = ""
    html: str = ""  # Mastodon HTML as received; empty for Bluesky
    lang: str = ""
    tags: tuple[str, ...] = ()  # lower-case, without '#', de-duplicated, in order seen
    links: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    reply_to: str = ""
    quote_of: str = ""
    reposted_by: tuple[str, ...] = ()
    has_media: bool = False
    media_alt: tuple[str, ...] = ()
    sensitive: bool = False
    spoiler: str = ""
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    card_url: str = ""
    card_title: str = ""
    source: str = ""  # name of the filter-file source that found it
    visibility: str = "public"  # public | unlisted | followers | direct (each network's package maps its own)
    author_opt_out: bool = False  # the author asked not to be shown to people who are not logged in
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    # Written out, not generated: `@dataclass` compiles __init__, __repr__, __eq__, __hash__ and the
    # frozen __setattr__/__delattr__ with `exec` at every start (~3 ms of `top`'s start-up, issue 14).
    # They behave as `@dataclass(frozen=True, slots=True)` made them; tests/test_post_class.py checks
    # that against the dataclass built from these fields, so a new field must be added here too.
    def __init__(
        self,
        uri: str,
        network: str,
        url: str = "",
        author: str = "",
        author_name: str = "",
        author_id: str = "",
        author_bot: bool = False,
        author_followers: int = 0,
        created_at: str = "",
        text: str = "",
        html: str = "",
        lang: str = "",
        tags: tuple[str, ...] = (),
        links: tuple[str, ...] = (),
        mentions: tuple[str, ...] = (),
        reply_to: str = "",
        quote_of: str = "",
        reposted_by: tuple[str, ...] = (),
        has_media: bool = False,
        media_alt: tuple[str, ...] = (),
        sensitive: bool = False,
        spoiler: str = "",
        likes: int = 0,
        reposts: int = 0,
        replies: int = 0,
        quotes: int = 0,
        card_url: str = "",
        card_title: str = "",
        source: str = "",
        visibility: str = "public",
        author_opt_out: bool = False,
        raw: dict[str, Any] = _NEW_DICT,
    ) -> None:
        setter = object.__setattr__
        setter(self, "uri", uri)
        setter(self, "network", network)
        setter(self, "url", url)
        setter(self, "author", author)
        setter(self, "author_name", author_name)
        setter(self, "author_id", author_id)
        setter(self, "author_bot", author_bot)
        setter(self, "author_followers", author_followers)
        setter(self, "created_at", created_at)
        setter(self, "text", text)
        setter(self, "html", html)
        setter(self, "lang", lang)
        setter(self, "tags", tags)
        setter(self, "links", links)
        setter(self, "mentions", mentions)
        setter(self, "reply_to", reply_to)
        setter(self, "quote_of", quote_of)
        setter(self, "reposted_by", reposted_by)
        setter(self, "has_media", has_media)
        setter(self, "media_alt", media_alt)
        setter(self, "sensitive", sensitive)
        setter(self, "spoiler", spoiler)
        setter(self, "likes", likes)
        setter(self, "reposts", reposts)
        setter(self, "replies", replies)
        setter(self, "quotes", quotes)
        setter(self, "card_url", card_url)
        setter(self, "card_title", card_title)
        setter(self, "source", source)
        setter(self, "visibility", visibility)
        setter(self, "author_opt_out", author_opt_out)
        setter(self, "raw", {} if raw is _NEW_DICT else raw)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return _compared(self) == _compared(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_compared(self))

    def __repr__(self) -> str:
        return "Post(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in POST_FIELDS) + ")"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return [getattr(self, name) for name in POST_FIELDS]

    def __setstate__(self, state: list[Any]) -> None:
        for name, value in zip(POST_FIELDS, state, strict=True):
            object.__setattr__(self, name, value)

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes

    def with_source(self, source: str) -> Post:
        return replace(self, source=source)


POST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Post))
_compared = attrgetter(*(f.name for f in fields(Post) if f.compare))  # all but `raw`
