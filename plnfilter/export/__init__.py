"""Writers from query rows to files: each streams over an iterator and returns how many rows it wrote."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from plnfilter.errors import UsageError
from plnfilter.export.to_atom import write_atom
from plnfilter.export.to_csv import write_csv
from plnfilter.export.to_html import write_html
from plnfilter.export.to_json import write_json, write_jsonl
from plnfilter.export.to_markdown import write_markdown

WRITERS: dict[str, Callable[..., int]] = {
    "csv": write_csv,
    "json": write_json,
    "jsonl": write_jsonl,
    "markdown": write_markdown,
    "html": write_html,
    "atom": write_atom,
}
FORMATS: tuple[str, ...] = tuple(WRITERS)
EXTENSIONS = {
    "csv": ".csv",
    "json": ".json",
    "jsonl": ".jsonl",
    "markdown": ".md",
    "html": ".html",
    "atom": ".xml",
}
OPTIONS = {
    "csv": ("columns", "bom"),
    "json": (),
    "jsonl": (),
    "markdown": ("title",),
    "html": ("title", "show_html", "images", "generated"),
    "atom": ("title", "feed_id", "updated", "self_url"),
}
"""Options each writer understands; `write` ignores the others so one CLI can pass them all."""


def write(rows: Iterable[Mapping[str, Any]], fmt: str, out: TextIO, **options: Any) -> int:
    """Write rows in `fmt` to the text stream `out` (open files with newline='' for csv)."""
    if fmt not in WRITERS:
        raise UsageError(f"unknown format {fmt!r}", "use one of: " + ", ".join(FORMATS))
    accepted = {k: v for k, v in options.items() if k in OPTIONS[fmt] and v is not None}
    return WRITERS[fmt](rows, out, **accepted)


__all__ = ["EXTENSIONS", "FORMATS", "OPTIONS", "WRITERS", "write"]
