"""`file:` sources: saved API responses of the other networks, replayed through their `to_post`.

The same names as every package in `plnfilter/sources/registry.py`; a file has no counts to
refresh and its posts keep the network that sent them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plnfilter.sources.files.options import OPTIONS, parse_source

if TYPE_CHECKING:
    from plnfilter.sources import Timeline

__all__ = ["OPTIONS", "parse_source"]

NAME = "file"
MAKES_POSTS = False  # a file replays posts of the other networks
HAS_COUNTS = False
KIND_SYNONYMS = ("path",)


def timelines(spec) -> list[Timeline]:
    from plnfilter.sources.files.replay import timelines as expand

    return expand(spec)


def recognises(raw: Any) -> bool:
    return False


def instance_of(author: str) -> str:
    return ""
