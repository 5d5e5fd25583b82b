"""Gathering a filter file's validation errors so a person sees all of them at once, in line order.

A YAML syntax error still stops the reader (nothing after it can be trusted); once the YAML is
read, each source, rule, condition and section is checked on its own and every error is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from plnfilter.errors import FilterFileError, FilterFileErrors


class CommentCut(FilterFileError):
    """A value YAML silently shortened at ' #': the cause of any other error on its line."""


def each_error(error: FilterFileError) -> list[FilterFileError]:
    """The single errors inside `error` (several when it is a FilterFileErrors)."""
    return list(getattr(error, "errors", None) or [error])


class Problems:
    """Collects FilterFileErrors raised inside `gather()` blocks; `raise_any()` raises them together."""

    def __init__(self) -> None:
        self.found: list[FilterFileError] = []

    @contextmanager
    def gather(self) -> Iterator[None]:
        try:
            yield
        except FilterFileError as error:
            self.found.extend(each_error(error))

    def add(self, errors: Iterable[FilterFileError]) -> None:
        self.found.extend(errors)

    def raise_any(self) -> None:
        if self.found:
            raise in_line_order(self.found)


def in_line_order(errors: list[FilterFileError]) -> FilterFileError:
    """One error, or a FilterFileErrors holding them sorted by line, each reported once; an
    error that says why a line is wrong (a comment cut it) hides the others on that line."""
    root_lines = {error.line for error in errors if isinstance(error, CommentCut)}
    kept: list[FilterFileError] = []
    seen: set[str] = set()
    for error in sorted(errors, key=lambda error: error.line or 0):
        if error.line in root_lines and not isinstance(error, CommentCut):
            continue
        if str(error) not in seen:
            seen.add(str(error))
            kept.append(error)
    return kept[0] if len(kept) == 1 else FilterFileErrors(kept)
