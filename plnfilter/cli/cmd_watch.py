"""`plnfilter watch`: follow the live streams of a filter file's sources and archive as posts arrive."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from plnfilter.cli.console import clean, one_line
from plnfilter.cli.options import (
    db_option,
    fetch_options,
    filter_argument,
    load_filter,
    parse_time,
    resolve_db,
    seconds_option,
)
from plnfilter.cli.progress import plain_log


@click.command()
@filter_argument
@db_option
@fetch_options(
    since="How far back the first catch-up of a new timeline reaches (24h, 7d, or a date).",
    max_pages="At most this many pages per catch-up fetch.",
    max_time="End the session after this many seconds (the last batch is saved); default: until stopped.",
    wait="Seconds each batch waits for the archive's write lock; then exit 75.",
    quiet="No messages on stderr (warnings about failures still come).",
)
@seconds_option(
    "--poll",
    "poll_every",
    minimum=1,
    default=60.0,
    help="Seconds between two fetches of a source without a live stream (an account, a feed).",
)
@seconds_option(
    "--resync",
    "resync_every",
    minimum=1,
    default=600.0,
    help="Seconds between two REST catch-ups while a stream flows: what the stream dropped is fetched.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "line", "jsonl"]),
    default="auto",
    show_default=True,
    help="Kept posts on stdout: a readable line each on a terminal, JSONL when piped (auto).",
)
def watch(
    filter_path: Path,
    db_path,
    since,
    poll_every,
    resync_every,
    max_time,
    max_pages,
    timeout,
    max_wait,
    lock_wait,
    fmt,
    quiet,
) -> None:
    """Follow FILTER's sources live: archive posts as they are posted, print the kept ones.

    Hashtags, lists, home and public timelines on Mastodon, hashtags and authors on Bluesky (Jetstream,
    or a firehose per source) are followed through a live stream; sources without one are
    fetched every --poll seconds. Every (re)connection (and every --resync seconds) first catches
    up from the saved cursor, so nothing is missed while watch was not running, and a cron
    `run` on the same archive can go on beside it. Posts are saved in batches (a second, or a
    few hundred posts); Ctrl-C or SIGTERM saves the last batch and exits 0.

    \b
    Examples:
      plnfilter watch filters/like69.yaml
      plnfilter watch filters/like69.yaml | jq -r .url
      plnfilter watch filters/like69.yaml --max-time 3600 --quiet
    """
    from plnfilter.store import judged_row
    from plnfilter.watch import watch_filter

    filter_file = load_filter(filter_path)
    since_time = parse_time(since, "--since")
    lines = fmt == "line" or (fmt == "auto" and sys.stdout.isatty())
    stop = threading.Event()
    log = plain_log(quiet)

    def on_signal(number, _frame) -> None:
        stop.set()

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}

    def on_kept(judged) -> None:
        try:
            if lines:
                click.echo(_line(judged))
            else:
                click.echo(json.dumps(judged_row(judged), ensure_ascii=False, default=str))
            sys.stdout.flush()
        except BrokenPipeError:  # the reader went away (`| head`): stop, keeping what was fetched
            stop.set()
            devnull = os.open(os.devnull, os.O_WRONLY)  # nothing more reaches stdout, not even at exit
            os.dup2(devnull, sys.stdout.fileno())

    try:
        report = watch_filter(
            filter_file,
            resolve_db(db_path),
            since=since_time,
            stop=stop,
            poll_every=poll_every,
            resync_every=resync_every,
            max_pages=max_pages,
            timeout=timeout,
            max_wait=max_wait,
            max_time=max_time,
            lock_wait=lock_wait,
            log=log,
            on_kept=on_kept,
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    stats = report.stats
    extra = f", {stats.reconnects} reconnects" if stats.reconnects else ""
    if stats.malformed:
        click.echo(f"Warning: {stats.malformed} malformed stream events skipped", err=True)
    log(
        f"watched {len(report.sources)} timelines: {report.fetched} posts fetched "
        f"({report.new} new to the archive), {report.kept} kept{extra}"
    )


def _line(judged) -> str:
    """One readable line for a kept post: time, author, score, text (cleaned of terminal tricks)."""
    import shutil

    post = judged.post
    width = shutil.get_terminal_size((100, 20)).columns
    head = f"{post.created_at[11:16]} {clean(post.author, keep_newlines=False)} [{judged.score:.1f}] "
    return (
        head + one_line(post.text or "", max(20, width - len(head))) + (f"  {post.url}" if post.url else "")
    )


COMMANDS = (watch,)
