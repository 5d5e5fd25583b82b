"""The one type every source maps into and every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
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

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes

    def with_source(self, source: str) -> Post:
        return replace(self, source=source)


POST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Post))
