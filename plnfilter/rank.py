"""Score posts and pick the top of a digest: engagement, recency, rule boosts, trusted voices,
with caps per author and per instance and places kept for outside-sector and dissenting voices.

Pure functions: no I/O, no clock (callers pass `now`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.times import parse_iso

# Types only: `export` imports this module to label cards, and should not pay for the filterfile
# package (regex, YAML checks). `from plnfilter.rank import RankConfig` still works (__getattr__).
if TYPE_CHECKING:
    from plnfilter.filterfile.rank_settings import RankConfig
    from plnfilter.post import Post

__all__ = [
    "VOICE_GROUPS",
    "RankConfig",
    "Score",
    "author_matches",
    "instance_of",
    "score",
    "select_top",
    "voice_grouper",
]

VOICE_GROUPS = ("trusted", "outside_sector", "dissenting")
"""The `voices:` groups, in the order that decides the group of an author listed in two."""


def __getattr__(name: str) -> Any:
    if name == "RankConfig":
        from plnfilter.filterfile.rank_settings import RankConfig

        return RankConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The engagement a post from a network without counts (a feed item) is scored with: one like and one
# repost, weighted by `rank.interactions` (log1p(3) with the defaults). Zero would bury every feed item
# under any post someone liked once; the engagement weight still ranks popular posts above it.
NEUTRAL_LIKES = 1
NEUTRAL_REPOSTS = 1
_HAS_COUNTS: dict[str, bool] = {}


class Score:
    """The total and its weighted parts (they sum to the total), for `plnfilter explain`. Frozen,
    compared by value and hashed by its total, like the dataclass it was: written out because
    `@dataclass` compiles its methods with `exec` at every start (issue 14)."""

    __slots__ = ("total", "parts")

    def __init__(self, total: float, parts: dict[str, float] | None = None) -> None:
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "parts", {} if parts is None else parts)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.total, self.parts) == (other.total, other.parts)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.total,))

    def __repr__(self) -> str:
        return f"Score(total={self.total!r}, parts={self.parts!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Score is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Score is frozen")


def score(post: Post, verdict: Any, now: datetime, rank: RankConfig) -> Score:
    """Weighted sum of engagement (log scale), recency (halves every half-life), boosts and trust."""
    weights = rank.weights
    counts = rank.interactions
    if has_counts(post.network):
        interactions = (
            counts.get("likes", 1.0) * max(post.likes, 0)
            + counts.get("reposts", 1.0) * max(post.reposts, 0)
            + counts.get("replies", 1.0) * max(post.replies, 0)
            + counts.get("quotes", 1.0) * max(post.quotes, 0)
        )
    else:  # a network without counts (feeds): as if one like and one repost, neither buried nor lifted
        interactions = counts.get("likes", 1.0) * NEUTRAL_LIKES + counts.get("reposts", 1.0) * NEUTRAL_REPOSTS
    parts = {
        "engagement": weights.get("engagement", 1.0) * math.log1p(max(interactions, 0.0)),
        "recency": weights.get("recency", 1.0) * recency(post.created_at, now, rank),
        "boost": weights.get("boost", 1.0) * float(getattr(verdict, "boost", 0.0) or 0.0),
        "trusted": weights.get("trusted", 1.0)
        * (1.0 if rank.trusted and author_matches(post, rank.trusted) else 0.0),
    }
    return Score(total=sum(parts.values()), parts=parts)


def scorer(now: datetime, rank: RankConfig) -> Callable[[str, int, int, int, int, str], float]:
    """`score(post, verdict, now, rank).total` for a verdict without boost, from a post's network,
    likes, reposts, replies, quotes and time: the same terms summed in the same order, the settings
    read once, for scoring every post of a window. Only for settings that trust no one (the trusted
    term reads the author)."""
    if rank.trusted:
        raise ValueError("scorer() cannot score trusted voices: use score()")
    weights, counts = rank.weights, rank.interactions
    engagement, recent = weights.get("engagement", 1.0), weights.get("recency", 1.0)
    no_boost = weights.get("boost", 1.0) * 0.0
    no_trust = weights.get("trusted", 1.0) * 0.0
    likes_w, reposts_w = counts.get("likes", 1.0), counts.get("reposts", 1.0)
    replies_w, quotes_w = counts.get("replies", 1.0), counts.get("quotes", 1.0)
    neutral = likes_w * NEUTRAL_LIKES + reposts_w * NEUTRAL_REPOSTS
    half_life = rank.half_life.total_seconds()
    log1p = math.log1p

    def total(network: str, likes: int, reposts: int, replies: int, quotes: int, created_at: str) -> float:
        if has_counts(network):
            interactions = (
                likes_w * max(likes, 0)
                + reposts_w * max(reposts, 0)
                + replies_w * max(replies, 0)
                + quotes_w * max(quotes, 0)
            )
        else:
            interactions = neutral
        age = 0.0
        if created_at and half_life > 0:
            try:
                seconds = (now - parse_iso(created_at)).total_seconds()
                age = 0.5 ** (max(seconds, 0.0) / half_life)
            except (ValueError, TypeError, OverflowError):
                age = 0.0
        return sum((engagement * log1p(max(interactions, 0.0)), recent * age, no_boost, no_trust))

    return total


def has_counts(network_name: str) -> bool:
    """Whether posts of this network carry likes and reposts (its package's `HAS_COUNTS`); True for
    an unknown network, whose counts are taken as they are."""
    known = _HAS_COUNTS.get(network_name)
    if known is None:
        from plnfilter.sources import registry

        network = registry.find(network_name)
        known = _HAS_COUNTS[network_name] = bool(getattr(network, "HAS_COUNTS", True))
    return known


def without_counts() -> tuple[str, ...]:
    """The networks whose posts carry no counts (scored with NEUTRAL_LIKES and NEUTRAL_REPOSTS)."""
    from plnfilter.sources import registry

    return tuple(name for name in registry.names() if not has_counts(name))


def recency(created_at: str, now: datetime, rank: RankConfig) -> float:
    """1 for a post made now, 0.5 one half-life ago; 0 when the time is unknown."""
    if not created_at:
        return 0.0
    try:
        age = (now - parse_iso(created_at)).total_seconds()
    except (ValueError, TypeError, OverflowError):
        return 0.0
    half_life = rank.half_life.total_seconds()
    return 0.5 ** (max(age, 0.0) / half_life) if half_life > 0 else 0.0


def author_matches(item: Any, people: Iterable[str]) -> bool:
    """Whether an item's author (handle, user@host, or DID/account URL) is in `people` (lower-case)."""
    wanted = people if isinstance(people, frozenset | set | tuple) else tuple(people)
    author = str(_field(item, "author") or "").lower().lstrip("@")
    author_id = str(_field(item, "author_id") or "").lower()
    return author in wanted or (bool(author_id) and author_id in wanted)


def voice_grouper(rank: RankConfig | Mapping[str, Iterable[str]]) -> Callable[[Any], str]:
    """A function giving an item's `voices:` group (the first of VOICE_GROUPS listing its author, ''
    for none), from rank settings or a mapping group -> people; the groups are read once, so
    labelling a long export stays cheap."""
    people_of = (
        rank.get if isinstance(rank, Mapping) else lambda group, default: getattr(rank, group, default)
    )
    groups = [(group, frozenset(people_of(group, ()) or ())) for group in VOICE_GROUPS]
    groups = [(group, people) for group, people in groups if people]

    def group_of(item: Any) -> str:
        return next((group for group, people in groups if author_matches(item, people)), "")

    return group_of


def instance_of(item: Any) -> str:
    """The instance an item comes from, as its network names it (`user@host` -> host on Mastodon;
    '' where a network has no instances worth capping, and for unknowns)."""
    from plnfilter.sources import registry

    explicit = _field(item, "instance")
    if explicit:
        return str(explicit).lower()
    author = str(_field(item, "author") or "")
    network = registry.find(_field(item, "network"))
    if network is not None:
        return network.instance_of(author)
    author = author.lstrip("@")
    return author.rpartition("@")[2].lower() if "@" in author else ""


def select_top(items: Iterable[Any], rank: RankConfig, limit: int | None) -> list[Any]:
    """The best items by score, at most `max_per_author`/`max_per_instance` each, with `mix` places
    reserved for outside-sector and dissenting voices when such items exist. Highest score first.

    Items are dicts or objects with `author` and `score` (a number or a Score), optionally
    `network`, `author_id`, `instance`, or a `post` carrying them.
    """
    ranked = sorted(items, key=_total, reverse=True)
    limit = len(ranked) if limit is None else max(limit, 0)
    chosen: list[Any] = []
    taken: set[int] = set()
    per_author: dict[str, int] = {}
    per_instance: dict[str, int] = {}

    def take(index: int, item: Any) -> bool:
        author = str(_field(item, "author") or "").lower()
        instance = instance_of(item)
        if rank.max_per_author and per_author.get(author, 0) >= rank.max_per_author:
            return False
        if rank.max_per_instance and instance and per_instance.get(instance, 0) >= rank.max_per_instance:
            return False
        per_author[author] = per_author.get(author, 0) + 1
        if instance:
            per_instance[instance] = per_instance.get(instance, 0) + 1
        chosen.append(item)
        taken.add(index)
        return True

    reserved = limit - 1  # mix never takes every place: the best by score always has one
    for group, slots in rank.mix.items():
        people = frozenset(getattr(rank, group, ()))
        filled = 0
        for index, item in enumerate(ranked):
            if filled >= slots or len(chosen) >= reserved:
                break
            if index not in taken and author_matches(item, people) and take(index, item):
                filled += 1
    for index, item in enumerate(ranked):
        if len(chosen) >= limit:
            break
        if index not in taken:
            take(index, item)
    order = {id(item): position for position, item in enumerate(ranked)}
    return sorted(chosen, key=lambda item: order[id(item)])


def _total(item: Any) -> float:
    value = _field(item, "score")
    total = getattr(value, "total", value)
    try:
        number = float(total) if total is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return number if number == number else 0.0


_MAPPING_TYPES: dict[type, bool] = {dict: True}
"""Whether items of a type are Mappings: an ABC's isinstance costs ~1 us, and `select_top` asks it
for every field of every post it looks at (~1 ms of `top FILTER`, issue 14)."""


def _field(item: Any, name: str) -> Any:
    """`item[name]` or `item.name`, falling back to the item's `post`."""
    kind = item.__class__
    is_mapping = _MAPPING_TYPES.get(kind)
    if is_mapping is None:
        is_mapping = _MAPPING_TYPES[kind] = isinstance(item, Mapping)
    if is_mapping:
        value = item.get(name)
        post = item.get("post")
    else:
        value = getattr(item, name, None)
        post = getattr(item, "post", None)
    if value is None and post is not None and post is not item:
        return _field(post, name)
    return value
