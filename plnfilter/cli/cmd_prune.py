"""`plnfilter prune`: retention for an archive that grows for years."""

from __future__ import annotations

import json

import click

from plnfilter.cli.options import db_option, parse_time, resolve_db, say, seconds_option


@click.command()
@click.option(
    "--before",
    required=True,
    metavar="TIME",
    help="Remove posts created before TIME: a duration back from now (90d, 26w), yesterday, or a date "
    "(2026-01-01).",
)
@click.option("--all", "everything", is_flag=True, help="Remove old posts a filter keeps too.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option(
    "--vacuum",
    is_flag=True,
    help="Then give the space back to the disk (needs free disk of about twice the archive's size, "
    "and no other writer).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the counts as one JSON object on stdout, for scripts.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Posts removed per transaction.",
)
@seconds_option(
    "--wait",
    "lock_wait",
    minimum=0,
    default=60.0,
    help="Seconds each batch (and --vacuum) waits for the archive's write lock; then exit 75.",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
@db_option
def prune(before, everything, dry_run, vacuum, fmt, batch_size, lock_wait, quiet, db_path) -> None:
    """Remove posts older than --before TIME that no filter keeps, with their verdicts,
    findings, raw JSON and full-text entries.

    A post stays while any filter the archive knows (`plnfilter filters`) keeps it, and
    while a filter has not judged it as it is now (run or apply that filter first); --all
    removes every old post. Cursors are kept, so the next run neither fetches a removed
    post again nor skips one. Posts are removed a batch per transaction: a prune stopped
    halfway leaves a consistent archive, and running it again finishes the job. --vacuum
    then rebuilds the file to give the space back: it needs free disk of about twice the
    archive's size and waits for every other writer. A filter file's `retain: 90d` makes
    each of its runs end with the same prune.

    \b
    Examples:
      plnfilter prune --before 90d --dry-run
      plnfilter prune --before 2026-01-01 --vacuum
      plnfilter prune --before 52w --all --format json
    """
    from plnfilter.errors import UsageError
    from plnfilter.prune import prune_archive, summary
    from plnfilter.store import require_archive

    if dry_run and vacuum:
        raise UsageError("--dry-run changes nothing, and --vacuum rewrites the archive", "choose one")
    cutoff = parse_time(before, "--before")
    path = require_archive(resolve_db(db_path))
    report = prune_archive(
        path,
        cutoff,
        everything=everything,
        dry_run=dry_run,
        vacuum=vacuum,
        lock_wait=lock_wait,
        batch=batch_size,
    )
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    for line in summary(report):
        say(quiet)(line)


COMMANDS = (prune,)
