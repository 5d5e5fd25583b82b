"""Writers from query rows to files: each streams over an iterator and returns how many rows it wrote."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from plnfilter.errors import UsageError

# Imported when first used: `plnfilter query` should not pay for the atom and html writers' imports.
_WRITER_NAMES: dict[str, tuple[str, str]] = {
    "csv": ("plnfilter.export.to_csv", "write_csv"),
    "json": ("plnfilter.export.to_json", "write_json"),
    "jsonl": ("plnfilter.export.to_json", "write_jsonl"),
    "markdown": ("plnfilter.export.to_markdown", "write_markdown"),
    "html": ("plnfilter.export.to_html", "write_html"),
    "atom": ("plnfilter.export.to_atom", "write_atom"),
}
FORMATS: tuple[str, ...] = tuple(_WRITER_NAMES)
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
    if fmt not in _WRITER_NAMES:
        raise UsageError(f"unknown format {fmt!r}", "use one of: " + ", ".join(FORMATS))
    accepted = {k: v for k, v in options.items() if k in OPTIONS[fmt] and v is not None}
    return writer(fmt)(rows, out, **accepted)


def writer(fmt: str) -> Callable[..., int]:
    """The function writing `fmt`, imported on first use."""
    module, name = _WRITER_NAMES[fmt]
    return getattr(importlib.import_module(module), name)


def __getattr__(name: str) -> Any:
    if name == "WRITERS":  # every writer by format, for callers that want the table
        return {fmt: writer(fmt) for fmt in FORMATS}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EXTENSIONS", "FORMATS", "OPTIONS", "WRITERS", "write", "writer"]
