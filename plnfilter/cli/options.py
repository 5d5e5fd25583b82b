"""Options shared by several commands, so every command spells them the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from plnfilter.errors import UsageError


def db_option(command: Callable) -> Callable:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Archive file. Default: $PLNFILTER_DB, else archive.db in the user data directory.",
    )(command)


def resolve_db(db_path: Path | None) -> Path:
    from plnfilter.config import default_db_path

    if db_path is not None and str(db_path) == "-":
        raise UsageError("--db - : the archive is a SQLite file, it cannot be stdin or stdout", "name a file")
    return db_path or default_db_path()


def filter_option(command: Callable) -> Callable:
    return click.option(
        "--filter",
        "filter_name",
        metavar="NAME",
        help="Whose verdicts: the filter with this `name:`. Default: the archive's only filter "
        "(with several, name one; `plnfilter filters` lists them).",
    )(command)


def chosen_filter(conn, filter_name: str | None) -> str | None:
    """The filter a reader shows: --filter, else the archive's only one; exit 2 when several."""
    from plnfilter.store.filters import choose_filter

    return choose_filter(conn, filter_name)


def filter_argument(command: Callable) -> Callable:
    return click.argument("filter_path", metavar="FILTER", type=click.Path(path_type=Path))(command)


def load_filter(filter_path: Path):
    """The filter file at `filter_path`, or read from stdin when it is `-`."""
    from plnfilter.filterfile import load

    if str(filter_path) == "-":
        return _filter_from_stdin()
    return load(filter_path)


def _filter_from_stdin():
    import sys

    from plnfilter.errors import FilterFileError
    from plnfilter.filterfile import MAX_BYTES, decode, parse

    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(MAX_BYTES + 1) if stream is not None else sys.stdin.read(MAX_BYTES + 1).encode()
    if len(data) > MAX_BYTES:
        raise FilterFileError(
            "<stdin>",
            1,
            f"more than {MAX_BYTES:,} bytes; filter files are limited to that",
            "check the input",
        )
    return parse(decode(data, "<stdin>"), "<stdin>")


def seconds_option(flag: str, dest: str, *, minimum: float, default: float, help: str) -> Callable:
    """A number of seconds with a floor and a shown default (--timeout, --wait, --poll...)."""
    return click.option(
        flag, dest, type=click.FloatRange(min=minimum), default=default, show_default=True, help=help
    )


def fetch_options(*, since: str, max_pages: str, max_time: str, wait: str, quiet: str) -> Callable:
    """The flags `run` and `watch` share, spelt once; each command words the help of those whose
    meaning it shapes (the arguments: help texts)."""
    decorators = [
        click.option("--since", default="24h", show_default=True, help=since),
        click.option("--max-pages", type=click.IntRange(min=1), help=max_pages),
        seconds_option("--timeout", "timeout", minimum=0.1, default=20.0, help="Seconds per request."),
        seconds_option(
            "--max-wait", "max_wait", minimum=0, default=30.0, help="Longest rate-limit wait (s)."
        ),
        click.option("--max-time", type=click.FloatRange(min=1), help=max_time),
        seconds_option("--wait", "lock_wait", minimum=0, default=60.0, help=wait),
        click.option("--quiet", "-q", is_flag=True, help=quiet),
    ]

    def decorate(command: Callable) -> Callable:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return decorate


def parse_time(value: str | None, flag: str):
    """A --since/--until value as an aware datetime; bad values exit 2 with the accepted forms."""
    if value is None:
        return None
    from plnfilter.times import parse_since

    try:
        return parse_since(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


class NetworkChoice(click.Choice):
    """--network's choices, asked of the network registry only when click needs them: importing every
    network package at start-up would slow each command that never looks at the flag."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from plnfilter.sources.registry import post_networks

        return post_networks()

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ assigns it; the registry decides
        pass


def selection_options(command: Callable) -> Callable:
    """The selection flags `query`, `export` and `top` share."""
    decorators = [
        click.argument("text", required=False),
        click.option(
            "--tag", "tags", multiple=True, help="Posts with this hashtag (repeatable; any of them)."
        ),
        click.option(
            "--author",
            "authors",
            multiple=True,
            help="Posts by this author (user@host or handle; repeatable).",
        ),
        click.option("--network", type=NetworkChoice(), help="Only this network."),
        click.option(
            "--since", help="Newer than a duration (24h, 7d, 1d12h), today, yesterday or a date (2026-11-26)."
        ),
        click.option("--until", help="Older than a duration or a date."),
        click.option("--lang", help="Only this language code (en, de...)."),
        click.option("--kept/--dropped", "kept", default=True, help="Kept posts (default) or dropped ones."),
        click.option("--all", "all_posts", is_flag=True, help="Kept and dropped posts."),
        click.option(
            "--order",
            type=click.Choice(["score", "newest", "oldest", "relevance"]),
            default="score",
            show_default=True,
            help="relevance: how well posts match TEXT (bm25), best first.",
        ),
        click.option(
            "--exact",
            is_flag=True,
            help="TEXT's words as written, not any of their forms (textbook without textbooks).",
        ),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def build_selection(
    text, tags, authors, network, since, until, lang, kept, all_posts, order, limit, sql=None, exact=False
):
    from plnfilter.query import Selection

    if order == "relevance" and sql is None and not (text and text.strip()):
        raise UsageError(
            "--order relevance ranks posts by how well they match TEXT, and no TEXT was given",
            'give the words to search, like: plnfilter query "open textbook" --order relevance',
        )
    return Selection(
        text=text or None,
        tags=tuple(t.lstrip("#") for t in tags),
        authors=tuple(authors),
        network=network,
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        lang=lang,
        kept=None if all_posts else kept,
        order=order,
        limit=limit,
        sql=sql,
        syntax="catalogue",
        exact=exact,
    )


def as_of_option(command: Callable) -> Callable:
    return click.option(
        "--as-of",
        "as_of",
        metavar="TIME",
        help="Judge recency as of TIME, so a past digest can be made again: durations count back from it "
        "and later posts stay out. A date or time, a duration back from now (7d), yesterday, or "
        "newest (the newest kept post's time).",
    )(command)


def quiet_option(command: Callable) -> Callable:
    return click.option(
        "--quiet", "-q", is_flag=True, help="No notes on stderr (such as the hint when the window is empty)."
    )(command)


def say(quiet: bool) -> Callable[[str], None]:
    """A note for a person on stderr, or nothing under --quiet."""
    from plnfilter.cli.console import clean

    if quiet:
        return lambda message: None
    return lambda message: click.echo(clean(message), err=True)
