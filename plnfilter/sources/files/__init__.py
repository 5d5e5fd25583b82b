"""`file:` sources: saved API responses of the other networks, replayed through their `to_post`.

The same names as every package in `plnfilter/sources/registry.py`; a file has no counts to
refresh and its posts keep the network that sent them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plnfilter.sources import Timeline

NAME = "file"
MAKES_POSTS = False  # a file replays posts of the other networks
HAS_COUNTS = False
KIND_SYNONYMS = ("path",)


def parse_source(head, options, path: str, line: int):
    """A `- file: ...` entry of `sources:` as a SourceSpec; FilterFileError with FILE:LINE and a fix."""
    from plnfilter.sources.files.options import parse_source as parse

    return parse(head, options, path, line)


def __getattr__(name: str):
    """`OPTIONS` (the keys a source takes) is read from options.py when asked for: the filter-file
    checks it lives with are not loaded by commands that only read the archive."""
    if name == "OPTIONS":
        from plnfilter.sources.files.options import OPTIONS

        return OPTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
