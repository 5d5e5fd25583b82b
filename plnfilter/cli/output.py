"""One set of output options for every row-printing command: table on a terminal, jsonl when piped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

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
            out = click.get_text_stream("stdout")
            if fmt == "csv":
                # csv writes \r\n itself (RFC 4180); stop the text layer from adding its own.
                out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False)  # noqa: SIM115
        export.write(counted, fmt, out, bom=bom, **options)
        out.flush()
    return counted.count


class _Counter:
    def __init__(self, rows: Iterable[dict]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[dict]:
        for row in self.rows:
            self.count += 1
            yield row
