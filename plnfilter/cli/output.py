"""One set of output options for every row-printing command: table on a terminal, jsonl when piped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

import click

from plnfilter.cli.console import clean, one_line

ROW_FORMATS = ("table", "csv", "json", "jsonl")
POST_COLUMNS = (("score", 5), ("created_at", 16), ("author", 22), ("text", 0), ("tags", 20))


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


def print_table(rows: Iterable[dict], *, columns=None, title: str = "") -> None:
    """A rich table; every cell is a Text object (never parsed as markup) made of cleaned text."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(soft_wrap=False, highlight=False)
    rows = list(rows)
    if not rows:
        click.echo("No rows.", err=True)
        return
    if columns is None:
        columns = (
            POST_COLUMNS if "uri" in rows[0] and "text" in rows[0] else tuple((key, 0) for key in rows[0])
        )
    table = Table(title=Text(clean(title)) if title else None, show_lines=False, expand=True)
    for name, width in columns:
        if width:
            table.add_column(Text(name), no_wrap=True, max_width=width, overflow="ellipsis")
        else:
            table.add_column(Text(name), min_width=30, ratio=1, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell_text(row.get(name), name)) for name, _ in columns))
    console.print(table)


def cell_text(value, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        prefix = "#" if name == "tags" else ""
        return " ".join(prefix + clean(str(v), keep_newlines=False) for v in value)
    if name == "created_at":
        return str(value)[:16].replace("T", " ")
    if name == "text":
        return one_line(str(value), 200)
    return clean(str(value), keep_newlines=False)
