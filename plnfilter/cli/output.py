"""One set of output options for every command that writes rows: --format, -o, --bom, --columns.

The formats and their file extensions come from `plnfilter.export.formats.REGISTRY`; `table` is the
one format of the terminal (rich), so it lives here. Without --format, `-o week.html` writes html;
with both they must agree; `-o -` is stdout.
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click

from plnfilter.errors import UsageError
from plnfilter.export import formats

TABLE = "table"


class FormatChoice(click.Choice):
    """--format's choices, read from the format registry whenever click asks for them."""

    def __init__(
        self,
        rows: str,
        table: bool = True,
        own: Sequence[str] = (),
        local: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.rows, self.table, self.own = rows, table, tuple(own)
        self.local = dict(local or {})  # formats only this command writes -> their file extensions
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        names = formats.names(self.rows) + tuple(n for n in self.own if n not in formats.names(self.rows))
        registered = tuple(n for n in formats.REGISTRY if n in names)
        return ((TABLE,) if self.table else ()) + registered + tuple(self.local)

    def local_of(self, path: Path) -> str | None:
        """The command-local format a file name's extension names, or None."""
        name = path.name.lower()
        return next(
            (fmt for fmt, exts in self.local.items() if name.endswith(exts) and name not in exts), None
        )

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ assigns it; the registry decides
        pass


class Output:
    """What a command writes: the format decided from --format and -o, where, and the CSV options.
    A plain class: `@dataclass` compiles its methods with `exec` at every start (issue 14)."""

    __slots__ = ("fmt", "path", "bom", "columns")

    def __init__(
        self, fmt: str, path: Path | None, bom: bool = False, columns: tuple[str, ...] | None = None
    ) -> None:
        self.fmt = fmt
        self.path = path  # None: stdout
        self.bom = bom
        self.columns = columns


def output_options(
    rows: str = formats.RECORDS,
    *,
    table: bool = True,
    own: Sequence[str] = (),
    stdout: tuple[str, str] = (TABLE, "jsonl"),
    local: Mapping[str, tuple[str, ...]] | None = None,
) -> Callable:
    """Add --format, --output/-o, --bom and --columns and hand the command one `output: Output`.

    `rows`: the rows are posts (every format) or other records (csv, json, jsonl); `own`: formats
    the command writes with its own writer; `stdout`: the default format on a terminal and when piped;
    `local`: formats outside the registry that only this command writes (name -> extensions), which
    it writes itself when `output.fmt` names one.
    """
    choice = FormatChoice(rows, table, own, local)
    piped_help = "" if stdout[0] == stdout[1] else f" on a terminal, {stdout[1]} when piped"
    options = [
        click.option(
            "--format",
            "fmt",
            type=choice,
            default=None,
            help=f"Output format. Default: from the -o file's extension, else {stdout[0]}{piped_help}.",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Path(allow_dash=True, path_type=Path),
            help="Write to this file (atomically; its extension picks the format) instead of stdout ('-').",
        ),
        click.option("--bom", is_flag=True, help="Start CSV with a UTF-8 byte order mark (for Excel)."),
        click.option(
            "--columns",
            metavar="A,B,...",
            help="The columns of csv, json, jsonl or table output, in this order (comma-separated).",
        ),
    ]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_output(*args, fmt, output, bom, columns, **kwargs):
            chosen = choose_output(fmt, output, choice, stdout, bom=bom, columns=columns)
            return command(*args, output=chosen, **kwargs)

        for option in reversed(options):
            with_output = option(with_output)
        return with_output

    return decorate


def choose_output(
    fmt: str | None,
    output: Path | None,
    choice: FormatChoice,
    stdout: tuple[str, str] = (TABLE, "jsonl"),
    *,
    bom: bool = False,
    columns: str | None = None,
) -> Output:
    """Apply the rules: -o's extension names the format unless --format does; both must agree."""
    path = None if output is None or str(output) == "-" else output
    allowed = choice.choices
    if path is not None:
        found = formats.of_path(path)
        named = found.name if found is not None else choice.local_of(path)
        known = formats.extensions_of(n for n in allowed if n != TABLE)
        known += "".join(f", {ext} ({n})" for n, exts in choice.local.items() for ext in exts)
        if fmt == TABLE:
            raise UsageError(
                "--format table prints to the terminal, not to a file",
                f"drop --format to write {path} in the format its extension names ({known}), or drop -o",
            )
        if fmt is None and named is None:
            raise UsageError(
                f"-o {path}: cannot tell the format from the extension {path.suffix or '(none)'!r}",
                f"name the file with one of {known}, or give --format",
            )
        if named is not None and fmt is not None and named != fmt:
            ext = (
                formats.get(fmt).extensions[0] if fmt in formats.REGISTRY else choice.local.get(fmt, ("",))[0]
            )
            raise UsageError(
                f"--format {fmt} does not match -o {path}, a {named} file name",
                f"drop --format to write {named}, or name the file {path.stem}{ext}",
            )
        writes = formats.get(fmt or named).writes if (fmt or named) in formats.REGISTRY else formats.TEXT
        if path.is_dir() and writes != formats.FOLDER:
            raise UsageError(f"-o {path} is a folder", "name a file to write")
        if fmt is None:
            if named not in allowed:
                raise UsageError(f"-o {path}: this command does not write {named}", f"use one of {known}")
            fmt = named
    elif fmt is None:
        fmt = stdout[0] if sys.stdout.isatty() else stdout[1]
    chosen = parse_columns(columns)
    if chosen and fmt != TABLE and (fmt in choice.local or formats.get(fmt).rows != formats.RECORDS):
        raise UsageError(
            f"--columns does not apply to {fmt}", "columns are chosen for csv, json, jsonl and table output"
        )
    return Output(fmt, path, bom, chosen)


def parse_columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(","))
    if not names or any(not name for name in names):
        raise UsageError(
            f"--columns {text!r}: a column name is empty", "write them like --columns uri,score,text"
        )
    return names


def check_columns(columns: Sequence[str], known: Sequence[str]) -> None:
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise UsageError(f"--columns: unknown column {unknown[0]!r}", "choose from: " + ", ".join(known))


def project(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], known: Sequence[str] | None):
    """Rows cut down to `columns`, in that order; unknown names are an error listing `known` (or, when
    the columns cannot be known before reading, the first row's keys)."""
    if known is not None:
        check_columns(columns, known)
    for index, row in enumerate(rows):
        if index == 0 and known is None:
            check_columns(columns, tuple(row))
        yield {name: row.get(name) for name in columns}


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
    output: Output,
    *,
    table_columns=None,
    table_optional: tuple[str, ...] = (),
    title: str = "",
    known: Sequence[str] | None = None,
    selected: bool = False,
    writers: Mapping[str, Callable[..., int]] | None = None,
    **options,
) -> int:
    """Write rows as `output` says; returns how many were written.

    `known`: the columns --columns may name (None: the first row's); `table_optional`: table columns
    that give way first on a narrow terminal; `selected`: the rows already
    hold just the chosen columns (a query selected them); `writers`: the command's own writer for
    some formats (called as `writer(rows, out)`).
    """
    counted = _Counter(rows)
    rows = counted
    if output.columns and not selected:
        rows = project(rows, output.columns, known)
    if output.fmt == TABLE:
        from plnfilter.cli.table import print_table

        if output.columns:
            widths = dict(table_columns or ())
            table_columns = tuple((name, widths.get(name, 0)) for name in output.columns)
        print_table(rows, columns=table_columns, title=title, optional=table_optional)
        return counted.count
    from plnfilter import export

    own = (writers or {}).get(output.fmt)
    write_options = {"bom": output.bom, "columns": output.columns, "title": title or None, **options}
    if output.path is not None:
        export.save(rows, output.fmt, output.path, writer=own, **write_options)
        return counted.count
    kind = formats.get(output.fmt).writes
    if kind == formats.FOLDER:
        raise UsageError(f"{output.fmt} writes a folder of files", "give the folder with -o DIR")
    if kind == formats.BYTES:
        stream = getattr(sys.stdout, "buffer", sys.stdout)
        export.write(rows, output.fmt, stream, writer=own, **write_options)
        stream.flush()
        return counted.count
    with stdout_text() as out:
        export.write(rows, output.fmt, out, writer=own, **write_options)
    return counted.count


class _Counter:
    def __init__(self, rows: Iterable[dict]) -> None:
        self.rows = rows
        self.count = 0
        if hasattr(rows, "json_lines"):  # query.Rows: writers may take lines SQLite made
            self.columns = rows.columns
            self.json_lines = lambda: self._counting(rows.json_lines())
            self.csv_lines = lambda number_cells: self._counting(rows.csv_lines(number_cells), chunks=True)

    def _counting(self, items: Iterator | None, chunks: bool = False) -> Iterator | None:
        if items is None:
            return None
        return self._count_chunks(items) if chunks else self._count(items)

    def _count(self, items: Iterator) -> Iterator:
        for item in items:
            self.count += 1
            yield item

    def _count_chunks(self, items: Iterator) -> Iterator:
        """CSV items: a (text, lines) chunk counts its lines, a row's dict one."""
        for item in items:
            self.count += item[1] if item.__class__ is tuple else 1
            yield item

    def __iter__(self) -> Iterator[dict]:
        for row in self.rows:
            self.count += 1
            yield row


def self_url_option(command: Callable) -> Callable:
    return click.option(
        "--self-url",
        metavar="URL",
        help="Atom: the address the feed is published at (its rel=self link and its id).",
    )(command)


def atom_options(output: Output, conn, db_path: Path, feed: str, self_url: str | None) -> dict[str, str]:
    """The Atom feed's id and self link: the --self-url when given, else an id made from the archive's
    own id and `feed` (the filter or selection), so it survives a new --title and a new export."""
    if output.fmt != "atom":
        if self_url:
            raise UsageError(f"--self-url is the address of an Atom feed; {output.fmt} has none", "drop it")
        return {}
    from plnfilter.export.to_atom import feed_id, usable_self_url

    if self_url:
        if not usable_self_url(self_url):
            raise UsageError(
                f"--self-url {self_url!r} is not an absolute http(s) URL",
                "give the address readers subscribe to, like https://example.org/pln.xml",
            )
        return {"feed_id": self_url, "self_url": self_url}
    from plnfilter.errors import ArchiveError
    from plnfilter.store import archive_id, ensure_archive_id

    found = archive_id(conn)
    if found is None:  # an archive from before ids: give it one now (its one write from a reader)
        try:
            found = ensure_archive_id(db_path)
        except ArchiveError as error:
            raise ArchiveError(
                f"{error.message} (the feed's id is kept in it, written once)",
                "run `plnfilter run` or `plnfilter apply` on it once, or give --self-url",
            ) from error
    return {"feed_id": feed_id(found, feed)}


PUBLISHING_FORMATS = ("html", "atom", "markdown")
"""Formats meant for publishing: they leave out followers-only posts and opted-out authors by default."""


def include_private_option(command: Callable) -> Callable:
    command = click.option(
        "--quiet",
        "-q",
        is_flag=True,
        help="No notes on stderr: how many posts were left out, the hint when the window is empty.",
    )(command)
    return click.option(
        "--include-private",
        is_flag=True,
        help="html, atom and markdown: also publish followers-only and direct posts and posts by authors "
        "who opted out of being shown to people not logged in (left out by default).",
    )(command)


def publishing(output: Output, include_private: bool) -> bool:
    """Whether this output leaves out posts not everyone may see."""
    return output.fmt in PUBLISHING_FORMATS and not include_private


def say_left_out(count: int, quiet: bool) -> None:
    if count and not quiet:
        click.echo(
            f"left out {count} post{'s' if count != 1 else ''} not everyone may see (followers-only, "
            "or by authors who opted out of being shown to people not logged in); --include-private "
            "publishes them",
            err=True,
        )
