"""The output formats, one entry each: name, file extensions, what it writes, and its writer.

This table is the only place a format is described. The exporters look their writer up here, every
command's `--format` choices are read from it, and so is the rule that `-o week.html` means html.
Adding a format is adding one `Format` to `REGISTRY`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from plnfilter.errors import UsageError

TEXT, BYTES, FOLDER = "text", "bytes", "folder"
RECORDS, POSTS, ARCHIVE = "records", "posts", "archive"


class Format:
    """One output format.

    `writes` says what the writer is handed: a text stream (UTF-8, newlines untranslated), a binary
    stream, or the path of an empty folder to fill. `rows` says what it can write: any records
    (`records`: csv, json...), only posts (`posts`: a digest or a feed needs authors and texts), or
    a selection read from the archive itself (`archive`: a Parquet dataset reads it partition by
    partition; only `export` offers these). `in_place`: a folder writer handed the folder itself,
    which it keeps up to date, replacing its files atomically one by one.
    `writer` is a function `(rows, out, **options) -> count`, or "module:function" imported on first
    use (so `plnfilter query` does not pay for the HTML writer's imports). `options` are the keyword
    options it understands; `write` drops the others, so one command can pass them all.
    A plain class: `@dataclass` compiles its methods with `exec` at every start (issue 14).
    """

    __slots__ = ("name", "extensions", "writes", "rows", "writer", "options", "in_place")

    def __init__(
        self,
        name: str,
        extensions: tuple[str, ...],
        writes: str,
        rows: str,
        writer: str | Callable[..., int],
        options: tuple[str, ...] = (),
        in_place: bool = False,
    ) -> None:
        self.name = name
        self.extensions = extensions
        self.writes = writes
        self.rows = rows
        self.writer = writer
        self.options = options
        self.in_place = in_place

    def load(self) -> Callable[..., int]:
        if callable(self.writer):
            return self.writer
        module, name = self.writer.split(":")
        return getattr(importlib.import_module(module), name)


REGISTRY: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", (".csv",), TEXT, RECORDS, "plnfilter.export.to_csv:write_csv", ("columns", "bom")),
        Format("json", (".json",), TEXT, RECORDS, "plnfilter.export.to_json:write_json"),
        Format("jsonl", (".jsonl", ".ndjson"), TEXT, RECORDS, "plnfilter.export.to_json:write_jsonl"),
        Format(
            "markdown",
            (".md", ".markdown"),
            TEXT,
            POSTS,
            "plnfilter.export.to_markdown:write_markdown",
            ("title",),
        ),
        Format(
            "html",
            (".html", ".htm"),
            TEXT,
            POSTS,
            "plnfilter.export.to_html:write_html",
            ("title", "show_html", "images", "generated"),
        ),
        Format(
            "atom",
            (".atom", ".xml"),
            TEXT,
            POSTS,
            "plnfilter.export.to_atom:write_atom",
            ("title", "feed_id", "updated", "self_url"),
        ),
        Format(
            "parquet",
            (".parquet",),
            FOLDER,
            ARCHIVE,
            "plnfilter.export.to_parquet:write_parquet",
            in_place=True,
        ),
    )
}


def get(name: str) -> Format:
    """The format called `name`; an unknown name is a usage error listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}", "use one of: " + ", ".join(REGISTRY)) from None


def names(rows: str = POSTS) -> tuple[str, ...]:
    """The formats that can write `rows`: every format for a selection of the archive, all but the
    archive's own for posts, the record formats for other rows."""
    allowed = {ARCHIVE: (RECORDS, POSTS, ARCHIVE), POSTS: (RECORDS, POSTS)}.get(rows, (RECORDS,))
    return tuple(f.name for f in REGISTRY.values() if f.rows in allowed)


def of_path(path: str | Path) -> Format | None:
    """The format a file name's extension names (`week.html` -> html; case ignored), or None."""
    name = Path(path).name.lower()
    found = [
        (ext, f) for f in REGISTRY.values() for ext in f.extensions if name.endswith(ext) and name != ext
    ]
    return max(found, key=lambda pair: len(pair[0]))[1] if found else None


def extensions_of(formats: Iterable[str]) -> str:
    """`.csv (csv), .json (json), ...` for the formats named, for error messages and help."""
    return ", ".join(
        f"{ext} ({name})" for name in formats if name in REGISTRY for ext in REGISTRY[name].extensions
    )


def write(
    rows: Iterable[Any], fmt: str, out: Any, writer: Callable[..., int] | None = None, **options: Any
) -> int:
    """Write rows in `fmt` to `out` (a text stream, a binary stream or a folder path, as the format
    says) with its writer, or `writer` when a command writes the format its own way (the Markdown
    of `links`); options the format does not take, and None values, are dropped."""
    form = get(fmt)
    accepted = {k: v for k, v in options.items() if k in form.options and v is not None}
    return (writer or form.load())(rows, out, **accepted)
