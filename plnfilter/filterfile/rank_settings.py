"""A filter file's `rank:` settings as a frozen value, with their defaults (`plnfilter.filterfile.model`
re-exports them). Apart from the model so that `top` and `links` without a filter file, which score with
the defaults, load this one class instead of the whole model."""

from __future__ import annotations

from dataclasses import field
from datetime import timedelta

from plnfilter.frozen import frozen_value

DEFAULT_WEIGHTS = {"engagement": 1.0, "recency": 1.0, "boost": 1.0, "trusted": 1.0}
DEFAULT_INTERACTIONS = {"likes": 1.0, "reposts": 2.0, "replies": 1.0, "quotes": 2.0}


@frozen_value
class RankConfig:
    """How posts are scored and how the top of a digest is picked."""

    half_life: timedelta = timedelta(hours=12)
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS), hash=False)
    interactions: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_INTERACTIONS), hash=False)
    max_per_author: int | None = None
    max_per_instance: int | None = None
    mix: dict[str, int] = field(default_factory=dict, hash=False)  # voice group -> reserved slots
    trusted: tuple[str, ...] = ()
    outside_sector: tuple[str, ...] = ()
    dissenting: tuple[str, ...] = ()
