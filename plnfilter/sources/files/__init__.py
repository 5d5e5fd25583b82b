"""`file:` sources: saved API responses of the other networks, replayed through their `to_post`.

The same names as every package in `plnfilter/sources/registry.py`; a file has no counts to
refresh and its posts keep the network that sent them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plnfilter.sources.lazy import option_hooks

if TYPE_CHECKING:
    from plnfilter.sources import Timeline

NAME = "file"
MAKES_POSTS = False  # a file replays posts of the other networks
HAS_COUNTS = False
KIND_SYNONYMS = ("path",)


parse_source, __getattr__ = option_hooks(__name__)


def timelines(spec) -> list[Timeline]:
    from plnfilter.sources.files.replay import timelines as expand

    return expand(spec)


def unreadable(spec, folder: str) -> tuple[str, str] | None:
    """What `check` says of a file source that names no readable file (problem, fix), else None."""
    import os

    if os.path.isfile(spec.target):
        return None
    what = "is a directory, not a file" if os.path.isdir(spec.target) else "does not exist"
    return (
        f"the file source {spec.target} {what}",
        f"check the path; a relative path is read from the filter file's folder ({folder})",
    )


def recognises(raw: Any) -> bool:
    return False


def instance_of(author: str) -> str:
    return ""
