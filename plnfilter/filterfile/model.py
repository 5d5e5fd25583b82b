"""What a filter file says, as frozen values: sources to fetch, rules to judge, how to rank."""

from __future__ import annotations

from dataclasses import field
from datetime import timedelta
from typing import Any

# `rank:` settings live apart, so a digest without a filter file loads them alone (issue 14's start-up)
from plnfilter.filterfile.rank_settings import DEFAULT_INTERACTIONS, DEFAULT_WEIGHTS, RankConfig
from plnfilter.frozen import frozen_value

__all__ = [
    "DEFAULT_INTERACTIONS",
    "DEFAULT_REFRESH",
    "DEFAULT_REFRESH_LIMIT",
    "DEFAULT_WEIGHTS",
    "Condition",
    "FilterFile",
    "RankConfig",
    "Rule",
    "SourceSpec",
    "Voices",
]

DEFAULT_REFRESH = timedelta(days=2)  # engagement settles within a day or two; older counts are left alone
DEFAULT_REFRESH_LIMIT = 10  # requests per server per run: 200 Mastodon statuses, 250 Bluesky posts


@frozen_value
class SourceSpec:
    """One entry of `sources:`; `target` is the instance, the resolved file path, or '' for Bluesky."""

    kind: str  # a source kind in plnfilter/sources/registry.py: "mastodon", "bluesky", "file"
    target: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    line: int = 0
    name: str = ""  # the `name:` written, else a readable label such as "mastodon.social #edtech"


@frozen_value
class Condition:
    """One key of a rule; `value` is normalised (tuples of lower-case strings, ints, timedeltas, sub-rules)."""

    key: str
    value: Any
    line: int


@frozen_value
class Rule:
    """A rule holds when all its conditions hold; include rules add `boost` to the score."""

    name: str
    line: int
    conditions: tuple[Condition, ...]
    boost: float = 0.0


@frozen_value
class Voices:
    """Authors named in `voices:`: trusted ones score higher; the others get reserved slots in a digest."""

    trusted: tuple[str, ...] = ()
    outside_sector: tuple[str, ...] = ()
    dissenting: tuple[str, ...] = ()


@frozen_value
class FilterFile:
    """A loaded filter file; every value has been checked, so later stages need no validation."""

    name: str
    path: str
    sources: tuple[SourceSpec, ...] = ()
    exclude: tuple[Rule, ...] = ()
    include: tuple[Rule, ...] = ()
    rank: RankConfig = field(default_factory=RankConfig)
    keep: int | None = None
    voices: Voices = field(default_factory=Voices)
    description: str = ""
    refresh: timedelta | None = (
        DEFAULT_REFRESH  # re-fetch counts of posts first seen this recently; None: off
    )
    refresh_limit: int = DEFAULT_REFRESH_LIMIT  # at most this many count requests per server per run
    retain: timedelta | None = None  # each run ends by pruning posts older than this no filter keeps
