"""What `plnfilter run` shows while it works: live per-timeline counts on a terminal, nothing
otherwise (cron mail and pipelines get only the summary and the failures)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from plnfilter.cli.console import clean

Log = Callable[[str], None]
OnPage = Callable[[str, int], None]


def plain_log(quiet: bool) -> Log:
    """Messages to stderr as clean text, unless --quiet."""

    def log(message: str) -> None:
        if not quiet:
            click.echo(clean(message), err=True)

    return log


@contextmanager
def run_progress(quiet: bool) -> Iterator[tuple[Log, OnPage]]:
    """(log, on_page) for `run_filter`: a transient rich display when stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield plain_log(quiet), lambda name, count: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    console = Console(stderr=True, highlight=False)
    tasks: dict[str, int] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.completed} posts"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:

        def on_page(name: str, count: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(clean(name, keep_newlines=False), total=None)
            progress.advance(tasks[name], count)

        def log(message: str) -> None:
            progress.console.print(Text(clean(message)))

        yield log, on_page
