"""Commands that read a filter file: run (the cron job), apply, check, filter."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import click

from plnfilter.cli.console import clean
from plnfilter.cli.options import (
    db_option,
    fetch_options,
    filter_argument,
    load_filter,
    parse_time,
    resolve_db,
    seconds_option,
)
from plnfilter.cli.output import emit, output_options
from plnfilter.cli.progress import plain_log, run_progress
from plnfilter.errors import EXIT_ERROR, EXIT_PARTIAL


@click.command()
@filter_argument
@db_option
@fetch_options(
    since="How far back a first run reaches (24h, 7d, 1d12h, yesterday, or a date).",
    max_pages="At most this many pages per timeline per run.",
    max_time="Stop the whole run after this many seconds (rate-limit waits and retries included).",
    wait="Seconds to wait for another run of FILTER to end, and for each write batch's turn; then exit 75.",
    quiet="Print nothing on success (failures still reach stderr).",
)
def run(filter_path: Path, db_path, since, max_pages, timeout, max_wait, max_time, lock_wait, quiet) -> None:
    """Fetch every source of FILTER, filter, rank and archive: the cron job.

    Incremental: each timeline resumes where the last run stopped. Every post is
    archived with its verdict, kept or not; `plnfilter query` shows the kept ones.
    The verdicts are FILTER's own (by its `name:`): by the end of the run every post
    in the archive has one, other filters' verdicts are left alone, and the summary
    says what each exclude rule dropped.
    Then the counts of posts first seen within the filter file's `refresh:` window
    (default 2d) are fetched again, at most `refresh_limit` requests per server.
    With `retain: 90d` in the filter file the run ends as `plnfilter prune --before 90d`.

    \b
    Example (crontab, every 30 minutes):
      */30 * * * * plnfilter run ~/pln.yaml --quiet --max-time 600
    """
    from plnfilter.pipeline import run_filter

    filter_file = load_filter(filter_path)
    started = time.monotonic()
    with run_progress(quiet) as (log, on_page):
        report = run_filter(
            filter_file,
            resolve_db(db_path),
            since=parse_time(since, "--since"),
            max_pages=max_pages,
            timeout=timeout,
            max_wait=max_wait,
            max_time=max_time,
            lock_wait=lock_wait,
            log=log,
            on_page=on_page,
        )
    for failed in report.failed:
        click.echo(f"Error: {clean(failed.error)}", err=True)
    if report.regex_timeouts:  # even with --quiet: a rule silently not matching changes what is kept
        click.echo(
            f"Warning: {report.regex_timeouts} regex searches took too long and counted as no match; "
            "simplify the regexes of the filter file (nested repeats like (a+)+ backtrack without end)",
            err=True,
        )
    log = plain_log(quiet)
    for source in report.sources.values():
        if not source.error:
            retried = f" ({source.retries} retried)" if source.retries else ""
            log(f"  {source.name}: {source.fetched} fetched, {source.new} new, {source.kept} kept{retried}")
    log(
        f"{len(report.sources)} timelines: {report.fetched} posts fetched ({report.new} new to the archive), "
        f"{report.kept} kept by the rules, in {time.monotonic() - started:.1f}s"
    )
    if report.caught_up:
        log(f"{report.caught_up} more archived posts judged by '{filter_file.name}' (new to it, or changed)")
    if report.dropped_by:
        log("dropped by exclude rules: " + ", ".join(f"{rule} {n}" for rule, n in report.dropped_by.items()))
    if report.retained is not None:
        from plnfilter.prune import summary

        first, *rest = summary(report.retained)
        log(f"retain: {first}")
        for line in rest:
            log(f"  {line}")
    if report.status == "failed":
        sys.exit(EXIT_ERROR)
    if report.status == "partial":
        sys.exit(EXIT_PARTIAL)


@click.command()
@filter_argument
@db_option
@seconds_option(
    "--wait",
    "lock_wait",
    minimum=0,
    default=60.0,
    help="Seconds to wait for a run of FILTER, and per write batch.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def apply(filter_path: Path, db_path, lock_wait, quiet) -> None:
    """Re-evaluate every archived post with FILTER's current rules; no network.

    Run it after editing the rules: FILTER's kept flags, scores, matched rules and the
    exclude rules that dropped posts change; the posts and other filters' verdicts do not.
    """
    from plnfilter.pipeline import apply_filter
    from plnfilter.store import require_archive

    filter_file = load_filter(filter_path)
    archive = require_archive(resolve_db(db_path))  # a mistyped --db is an error, not a new empty archive
    total, kept = apply_filter(filter_file, archive, lock_wait=lock_wait)
    plain_log(quiet)(f"re-evaluated {total} posts: {kept} kept, {total - kept} dropped")


@click.command()
@filter_argument
def check(filter_path: Path) -> None:
    """Validate FILTER and print its sources and rules as plnfilter understands them.

    Exits 2 with FILE:LINE and a fix for every mistake (up to 20), and for `file:` sources
    that do not exist.
    """
    from plnfilter.filterfile import describe, missing_files
    from plnfilter.filterfile.problems import in_line_order

    filter_file = load_filter(filter_path)
    missing = missing_files(filter_file)
    if missing:
        raise in_line_order(missing)
    for line in describe(filter_file):
        click.echo(clean(line))


@click.command(name="filter")
@filter_argument
@click.option("--all", "all_posts", is_flag=True, help="Print dropped posts too (see the kept column).")
@output_options(stdout=("jsonl", "jsonl"))
def filter_stream(filter_path: Path, all_posts, output) -> None:
    """Stream mode: posts on stdin, the ones FILTER keeps on stdout.

    Reads JSONL or JSON: Mastodon statuses, Bluesky post views or feed items (as the APIs
    return them) or plnfilter's own JSONL. Touches neither the archive nor the network.

    \b
    Example:
      plnfilter query --all --format jsonl | plnfilter filter stricter.yaml
    """
    from plnfilter.errors import UsageError
    from plnfilter.pipeline import judge_stream
    from plnfilter.store import OUTPUT_COLUMNS

    if str(filter_path) == "-":
        raise UsageError("the posts come on stdin, so FILTER cannot", "give the filter file's path")
    filter_file = load_filter(filter_path)
    stdin = sys.stdin  # undecodable bytes become problems reported per line, not a crash
    if hasattr(stdin, "buffer"):
        stdin = io.TextIOWrapper(stdin.buffer, encoding="utf-8", errors="surrogateescape")
    problems: list[str] = []
    rows = judge_stream(filter_file, stdin, keep_dropped=all_posts, problems=problems)
    emit(rows, output, known=OUTPUT_COLUMNS)
    for problem in problems:
        click.echo(f"warning: {clean(problem)}", err=True)


COMMANDS = (run, apply, check, filter_stream)
