"""Commands that read the archive: query, export, sources, runs. None of them waits for a run's lock."""

from __future__ import annotations

import json
from dataclasses import replace

import click

from plnfilter.cli.options import (
    as_of_option,
    build_selection,
    chosen_filter,
    db_option,
    filter_option,
    quiet_option,
    resolve_db,
    say,
    selection_options,
)
from plnfilter.cli.output import (
    PUBLISHING_FORMATS,
    TABLE,
    atom_options,
    emit,
    include_private_option,
    output_options,
    publishing,
    say_left_out,
    self_url_option,
)
from plnfilter.export import formats
from plnfilter.export.formats import ARCHIVE


@click.command()
@selection_options
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="At most this many rows (default 20 for a table).",
)
@click.option("--sql", help="Run your own read-only SELECT against the archive instead.")
@filter_option
@as_of_option
@quiet_option
@db_option
@output_options()
def query(
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
    exact,
    limit,
    sql,
    filter_name,
    as_of,
    quiet,
    db_path,
    output,
) -> None:
    """Select posts from the archive: full text TEXT and flags.

    TEXT searches text, author, tags and content warnings like a catalogue: every word
    must appear in some form (textbook finds textbooks; --exact: as written); librar*
    is a prefix, "open textbook" a phrase, #edtech a hashtag; AND, OR, NOT (capitals),
    -word and ( ) combine them; Chinese, Japanese, Korean and Thai words are found
    inside longer runs. A table marks the matched words. Kept, dropped, score, matched
    and dropped_by (the exclude rule that dropped a post) are one filter's verdict:
    --filter NAME, else the archive's only filter. --sql runs any SELECT on a
    read-only connection. --columns picks columns (`html` and `raw` included). --as-of
    TIME reads the archive as it stood then: --since and --until count back from TIME,
    later posts stay out. When --since, --until or --as-of leave nothing, stderr says
    how old the newest matching post is and which --since or --as-of shows it (not with
    --quiet).

    \b
    Examples:
      plnfilter query "open textbook" --since 7d --order relevance
      plnfilter query "librar* (AI OR podcasting) -crypto"
      plnfilter query --tag edtech --as-of 2026-11-30 --since 7d
      plnfilter query --tag like69 --order newest -o like69.csv --columns created_at,author,score,text
      plnfilter query --sql "select author, count(*) n from posts group by author order by n desc"
    """
    from plnfilter.query import select
    from plnfilter.store import open_readonly
    from plnfilter.window import check_flags

    check_flags(since, as_of, until, archive_words=False)
    if limit is None and output.fmt == TABLE and output.path is None:
        limit = 20
    selection = build_selection(
        text, tags, authors, network, None, None, lang, kept, all_posts, order, limit, sql, exact
    )
    if sql is None and output.columns:
        selection = replace(selection, columns=output.columns)
    if output.fmt == TABLE:
        selection = replace(selection, highlight=True)
    conn = open_readonly(resolve_db(db_path))
    if sql is None:
        selection = replace(selection, filter=chosen_filter(conn, filter_name))
    window = None
    if sql is None and (since or until or as_of):
        from plnfilter.window import resolve_window

        window = resolve_window(conn, since, as_of, until, archive_words=False, kept_by=selection.filter)
        selection = replace(selection, since=window.since, until=window.until)
    count = emit(select(conn, selection), output, selected=sql is None)
    if count == 0 and window is not None and not quiet:
        say(quiet)(_empty_query_hint(conn, selection, window))


def _empty_query_hint(conn, selection, window) -> str:
    """The hint for a window that holds nothing: the newest post matching everything but the window."""
    from plnfilter.query import select
    from plnfilter.window import empty_hint

    newest = replace(selection, since=None, until=None, order="newest", limit=1, columns=("created_at",))
    found = next(iter(select(conn, newest)), None)
    what = "matching post" if selection.text or selection.tags or selection.authors else "post"
    return empty_hint(window, found["created_at"] if found else None, what)


@click.command()
@selection_options
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many posts.")
@click.option(
    "--title", default="plnfilter digest", show_default=True, help="Title for markdown, html and atom."
)
@click.option(
    "--images", is_flag=True, help="HTML: show images from their servers instead of their alt text."
)
@self_url_option
@include_private_option
@filter_option
@db_option
@output_options(ARCHIVE, table=False, stdout=("jsonl", "jsonl"))
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
    exact,
    limit,
    title,
    images,
    self_url,
    include_private,
    quiet,
    filter_name,
    db_path,
    output,
) -> None:
    """Write the selected posts as csv, json, jsonl, markdown, html, atom or parquet.

    Takes the same selection flags as `query`, and --filter NAME for whose verdicts. The
    format is --format, else the -o file's extension (.csv .json .jsonl .md .html
    .xml/.atom .parquet), else jsonl. html, atom and markdown are for publishing: they
    leave out followers-only posts and authors who opted out of being shown to people not
    logged in, and say how many on stderr, unless --include-private. csv, json and
    parquet carry `visibility` and `author_opt_out` for every post. Cards in html, atom and
    markdown say which `voices:` group their author is in, as the filter's file listed them at
    its last run or apply. Streams: a 100k-post export
    never holds the archive in memory. -o writes atomically (a temp file renamed into
    place). An Atom feed's id stays the same for this archive and selection (or is
    --self-url, the address it is published at).

    --format parquet -o DIR writes a folder partitioned by network and month for DuckDB,
    Spark or BigQuery; exporting again into DIR rewrites only the months whose posts
    changed (--limit and --order do not apply). Needs pip install 'plnfilter[parquet]'.

    \b
    Examples:
      plnfilter export --since 7d -o digest.html
      plnfilter export --tag edtech -o edtech.xml --self-url https://example.org/edtech.xml
      plnfilter export --all --bom -o everything.csv --columns created_at,author,text,url
      plnfilter export --all --format parquet -o pln-dataset
    """
    from plnfilter.query import select
    from plnfilter.store import open_readonly

    selection = build_selection(
        text, tags, authors, network, since, until, lang, kept, all_posts, order, limit, exact=exact
    )
    if output.columns:
        selection = replace(selection, columns=output.columns)
    elif output.fmt == "html":  # the digest shows each post's own (sanitised) HTML, links and all
        from plnfilter.store import OUTPUT_COLUMNS

        selection = replace(selection, columns=(*OUTPUT_COLUMNS, "html"))
    path = resolve_db(db_path)
    conn = open_readonly(path)
    selection = replace(selection, filter=chosen_filter(conn, filter_name))
    if formats.get(output.fmt).rows == ARCHIVE:
        _export_dataset(conn, selection, output, limit, self_url)
        return
    feed = json.dumps(
        [
            "export",
            selection.text or "",
            sorted(t.lower() for t in selection.tags),
            sorted(a.lower() for a in selection.authors),
            selection.network or "",
            (selection.lang or "").lower(),
            selection.kept,
            *(["exact"] if exact else []),
            *([selection.filter] if selection.filter else []),
        ]
    )
    options = atom_options(output, conn, path, feed, self_url)
    if publishing(output, include_private):
        from plnfilter.store.select import count_rows

        say_left_out(count_rows(conn, replace(selection, audience="private")), quiet)
        selection = replace(selection, audience="public")
    rows = select(conn, selection)
    if output.fmt in PUBLISHING_FORMATS:  # cards: each labelled with its author's voice group
        from plnfilter.voice_labels import recorded_voices, with_voice_groups

        voices = recorded_voices(conn, selection.filter)  # as of the filter's last run or apply
        if voices is not None:
            rows = with_voice_groups(rows, voices)
    emit(rows, output, selected=True, title=title, images=images, show_html=True, **options)


def _export_dataset(conn, selection, output, limit, self_url) -> None:
    """A format that reads the selection from the archive itself (Parquet), into the folder -o names."""
    from plnfilter import export
    from plnfilter.errors import UsageError
    from plnfilter.store.dataset import ArchiveDataset

    if output.path is None:
        raise UsageError(f"{output.fmt} writes a folder of files", "give the folder with -o DIR")
    if limit is not None:
        raise UsageError(
            f"--limit does not apply to {output.fmt}", "a dataset holds every selected post; drop --limit"
        )
    if self_url:
        raise UsageError(f"--self-url is the address of an Atom feed; {output.fmt} has none", "drop it")
    export.save(ArchiveDataset(conn, selection), output.fmt, output.path)


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
    ("dropped_by", 0),
    ("filter_file", 0),
    ("errors", 0),
)


@click.command()
@db_option
@click.option("--wide", is_flag=True, help="Table: show each timeline's cursor too (it may wrap).")
@output_options()
def sources(db_path, wide, output) -> None:
    """Each timeline's last run, posts found and last error; its cursor with --wide or in json.

    The cursor is where the next run resumes: a Mastodon status id, a Bluesky cursor, or a
    file's sha256.
    """
    from plnfilter.store import list_sources, open_readonly

    rows = list_sources(open_readonly(resolve_db(db_path)))
    emit(rows, output, title="sources", table_columns=WIDE_SOURCE_COLUMNS if wide else SOURCE_COLUMNS)


@click.command()
@db_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@filter_option
@output_options()
def runs(db_path, limit, filter_name, output) -> None:
    """The history of one filter's runs: when, what they fetched, what failed, and what
    each exclude rule dropped (`dropped_by`: "giveaways 14, bots 3" in the table,
    {"giveaways": 14, "bots": 3} in csv and json)."""
    from plnfilter.store import list_runs, open_readonly

    conn = open_readonly(resolve_db(db_path))
    name = chosen_filter(conn, filter_name)
    emit(
        list_runs(conn, limit, name),
        output,
        title="runs",
        table_columns=RUN_COLUMNS,
        table_optional=("new",),  # at 80 columns what each rule dropped matters more
    )


@click.group(invoke_without_command=True)
@db_option
@output_options()
@click.pass_context
def filters(ctx, db_path, output) -> None:
    """The filters whose verdicts the archive keeps: name, file, last run, kept and dropped.

    Each filter file is known by its `name:` (else its file name): its verdicts are its own,
    and another file claiming the same name is refused. `filters forget NAME` deletes a
    filter's verdicts (the posts stay).
    """
    if ctx.invoked_subcommand is not None:
        return
    from plnfilter.store import open_readonly
    from plnfilter.store.verdicts import list_filters

    rows = list_filters(open_readonly(resolve_db(db_path)))
    emit(
        rows,
        output,
        title="filters",
        table_columns=(("name", 0), ("file", 0), ("last_run", 16), ("kept", 6), ("dropped", 7)),
    )


@filters.command("forget")
@click.argument("name")
@db_option
@click.option(
    "--wait",
    "lock_wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for a run of NAME to end, and for the write lock; then exit 75.",
)
def forget(name, db_path, lock_wait) -> None:
    """Delete the verdicts of the filter NAME; the posts, sources and runs stay."""
    from plnfilter.errors import UsageError
    from plnfilter.locks import run_lock
    from plnfilter.store import open_archive, require_archive
    from plnfilter.store.verdicts import filter_names, forget_filter

    path = require_archive(resolve_db(db_path))
    lock = run_lock(path, name, lock_wait)  # not while a run of NAME writes its verdicts
    try:
        db = open_archive(path, lock_wait)
        known = filter_names(db.conn)
        if name not in known:
            raise UsageError(
                f"no filter named {name!r} in {path}", "filters in it: " + (", ".join(known) or "none")
            )
        gone = forget_filter(db, name)
    finally:
        lock.release()
    click.echo(f"forgot filter {name!r}: {gone} verdicts deleted")


@click.command("datasette-metadata")
@click.option("--title", default="plnfilter archive", show_default=True, help="The title Datasette shows.")
@click.option(
    "--database",
    default=None,
    help="The database's name in Datasette (its file name without .db). Default: from --db.",
)
@db_option
def datasette_metadata(title, database, db_path) -> None:
    """Print Datasette metadata (JSON) for the archive: titles, descriptions, facets and search.

    \b
    Example:
      plnfilter datasette-metadata --db pln.db > metadata.json
      datasette pln.db --metadata metadata.json
    """
    from plnfilter.store.datasette import metadata

    name = database or resolve_db(db_path).stem
    click.echo(json.dumps(metadata(name, title), indent=2, ensure_ascii=False))


COMMANDS = (query, export, sources, runs, filters, datasette_metadata)
