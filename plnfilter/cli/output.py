"""One set of output options for every row-printing command: table on a terminal, jsonl when piped."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

ROW_FORMATS = ("table", "csv", "json", "jsonl")


def output_options(formats: tuple[str, ...] = ROW_FORMATS) -> Callable:
    """`--format` (default: table on a terminal, jsonl when piped) and `--bom` for spreadsheets."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--bom", is_flag=True, help="Start CSV with a UTF-8 byte order mark (for Excel)."
        )(command)
        command = click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default=None,
            help="Output format. Default: table on a terminal, jsonl when piped.",
        )(command)
        return command

    return decorate


def resolve_format(fmt: str | None) -> str:
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "jsonl"


@contextmanager
def stdout_text() -> Iterator[TextIO]:
    """stdout as UTF-8 text that translates no newline (csv writes its own \\r\\n, RFC 4180), left
    open afterwards for whatever prints next. Works on the real stdout and on click's test runner."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # already a plain text stream (e.g. StringIO)
        yield stream
        stream.flush()
        return
    stream.flush()
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        yield text
        text.flush()
    finally:
        text.detach()


def emit(
    rows: Iterable[dict],
    fmt: str | None,
    *,
    bom: bool = False,
    columns=None,
    title: str = "",
    out=None,
    **options,
) -> int:
    """Write rows to stdout (or `out`); returns how many were written."""
    fmt = resolve_format(fmt)
    counted = _Counter(rows)
    if fmt == "table":
        from plnfilter.cli.table import print_table

        print_table(counted, columns=columns, title=title)
    else:
        from plnfilter import export

        if out is None:
            with stdout_text() as stdout:
                export.write(counted, fmt, stdout, bom=bom, **options)
        else:
            export.write(counted, fmt, out, bom=bom, **options)
            out.flush()
    return counted.count


class _Counter:
    def __init__(self, rows: Iterable[dict]) -> None:
        self.rows = rows
        self.count = 0
        if hasattr(rows, "json_lines"):  # query.Rows: writers may take lines or cells SQLite made
            self.columns = rows.columns
            self.json_lines = lambda: self._counting(rows.json_lines())
            self.csv_cells = lambda: self._counting(rows.csv_cells())

    def _counting(self, items: Iterator | None) -> Iterator | None:
        if items is None:
            return None
        return self._count(items)

    def _count(self, items: Iterator) -> Iterator:
        for item in items:
            self.count += 1
            yield item

    def __iter__(self) -> Iterator[dict]:
        for row in self.rows:
            self.count += 1
            yield row
