"""The containers a filter file's YAML is read into: dicts and lists that remember their lines.

Kept apart from the YAML reader so code that only checks values (and commands that never read a
filter file) does not import PyYAML.
"""

from __future__ import annotations


class YMap(dict):
    """A YAML mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]
    comment_cuts: list  # on the top mapping: values a ' #' shortened (FilterFileErrors)


class YList(list):
    """A YAML sequence that knows its own line and the line of each item."""

    line: int
    item_lines: list[int]
