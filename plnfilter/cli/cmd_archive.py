"""Commands that read the archive: query, export, sources, runs. None of them waits for a run's lock."""

from __future__ import annotations

from pathlib import Path

import click

from plnfilter.cli.options import build_selection, db_option, resolve_db, selection_options
from plnfilter.cli.output import emit, output_options, stdout_text

EXPORT_FORMATS = ("csv", "json", "jsonl", "markdown", "html", "atom")


@click.command()
@selection_options
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="At most this many rows (default 20 for a table).",
)
@click.option("--sql", help="Run your own read-only SELECT against the archive instead.")
@db_option
@output_options()
def query(
    text, tags, authors, network, since, until, lang, kept, all_posts, order, limit, sql, db_path, fmt, bom
) -> None:
    """Select posts from the archive: full text TEXT and flags.

    TEXT is searched as words (all of them must appear), over text, author, tags and
    content warnings. --sql runs any SELECT on a read-only connection.

    \b
    Examples:
      plnfilter query "open educational resources" --since 7d
      plnfilter query --tag like69 --order newest --format csv > like69.csv
      plnfilter query --sql "select author, count(*) n from posts group by author order by n desc"
    """
    from plnfilter.cli.output import resolve_format
    from plnfilter.query import select
    from plnfilter.store import open_readonly

    if limit is None and resolve_format(fmt) == "table":
        limit = 20
    selection = build_selection(
        text, tags, authors, network, since, until, lang, kept, all_posts, order, limit, sql
    )
    conn = open_readonly(resolve_db(db_path))
    emit(select(conn, selection), fmt, bom=bom)


@click.command()
@selection_options
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many posts.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
@click.option("--bom", is_flag=True, help="Start CSV with a UTF-8 byte order mark (for Excel).")
@click.option(
    "--title", default="plnfilter digest", show_default=True, help="Title for markdown, html and atom."
)
@click.option(
    "--images", is_flag=True, help="HTML: show images from their servers instead of their alt text."
)
@db_option
def export(
    text,
    tags,
    authors,
    network,
    since,
    until,
    lang,
    kept,
    all_posts,
    order,
    limit,
    fmt,
    output,
    bom,
    title,
    images,
    db_path,
) -> None:
    """Write the selected posts as csv, json, jsonl, markdown, html or atom.

    Takes the same selection flags as `query`. Streams: a 100k-post export never holds
    the archive in memory. --output writes atomically (a temp file renamed into place).

    \b
    Examples:
      plnfilter export --since 7d --format html -o digest.html
      plnfilter export --tag edtech --format atom -o edtech.xml
      plnfilter export --all --format csv --bom -o everything.csv
    """
    from plnfilter import export as exporters
    from plnfilter.query import select
    from plnfilter.store import open_readonly

    selection = build_selection(
        text, tags, authors, network, since, until, lang, kept, all_posts, order, limit
    )
    conn = open_readonly(resolve_db(db_path))
    rows = select(conn, selection)
    options = {"bom": bom, "title": title, "images": images}
    if output is None:
        with stdout_text() as out:
            exporters.write(rows, fmt, out, **options)
        return
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            exporters.write(rows, fmt, out, **options)
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# The table shows what a person scans for; csv/json/jsonl carry every field (cursors, per-source counts).
SOURCE_COLUMNS = (("name", 0), ("last_run", 16), ("posts", 6), ("last_error", 0))
WIDE_SOURCE_COLUMNS = (("name", 0), ("cursor", 0), ("last_run", 16), ("posts", 6), ("last_error", 0))
RUN_COLUMNS = (
    ("id", 5),
    ("started", 16),
    ("status", 11),
    ("fetched", 7),
    ("new", 6),
    ("kept", 6),
    ("filter_file", 0),
    ("errors", 0),
)


@click.command()
@db_option
@click.option("--wide", is_flag=True, help="Table: show each timeline's cursor too (it may wrap).")
@output_options()
def sources(db_path, wide, fmt, bom) -> None:
    """Each timeline's last run, posts found and last error; its cursor with --wide or in json.

    The cursor is where the next run resumes: a Mastodon status id, a Bluesky cursor, or a
    file's sha256.
    """
    from plnfilter.store import list_sources, open_readonly

    rows = list_sources(open_readonly(resolve_db(db_path)))
    emit(rows, fmt, bom=bom, title="sources", columns=WIDE_SOURCE_COLUMNS if wide else SOURCE_COLUMNS)


@click.command()
@db_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@output_options()
def runs(db_path, limit, fmt, bom) -> None:
    """The history of runs: when, what they fetched, what failed."""
    from plnfilter.store import list_runs, open_readonly

    emit(
        list_runs(open_readonly(resolve_db(db_path)), limit), fmt, bom=bom, title="runs", columns=RUN_COLUMNS
    )


COMMANDS = (query, export, sources, runs)
