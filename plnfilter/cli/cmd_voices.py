"""`plnfilter voices`: who to follow next, who went quiet, and how varied your sources are."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from plnfilter.cli.options import chosen_filter, db_option, filter_option, load_filter, parse_time, resolve_db
from plnfilter.cli.output import TABLE, Output, emit, output_options

SUGGEST_COLUMNS = (("group", 5), ("account", 30), ("score", 6), ("why", 0))
REPORT_COLUMNS = (("section", 7), ("item", 30), ("value", 10), ("detail", 0))
YAML = {"yaml": (".yaml", ".yml")}


def _filter(filter_path: Path | None):
    return None if filter_path is None else load_filter(filter_path)


def _verdicts_of(conn, filter_file, filter_name: str | None) -> str | None:
    """Whose verdicts say what was kept: --filter NAME, else FILTER's `name:` when it has judged this
    archive, else the archive's only filter (several and none named: exit 2 listing them)."""
    from plnfilter.store.filters import filter_names

    if filter_name is None and filter_file is not None and filter_file.name in filter_names(conn):
        return filter_file.name
    return chosen_filter(conn, filter_name)


def _duration(value: str, flag: str):
    from plnfilter.errors import UsageError
    from plnfilter.times import DURATION_FORMS, parse_duration

    try:
        found = parse_duration(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a duration", f"write {DURATION_FORMS}") from None
    if found.total_seconds() <= 0:
        raise UsageError(f"{flag} {value!r} must be longer than nothing", "write e.g. 14d")
    return found


def _write_text(output: Output, text: str) -> None:
    """stdout, or the -o file written atomically (a temp file renamed into place)."""
    if output.path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    tmp = output.path.with_name(f".{output.path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output.path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


filter_arg = click.argument(
    "filter_path", metavar="[FILTER]", required=False, type=click.Path(dir_okay=False, path_type=Path)
)
follows_option = click.option(
    "--follows",
    "extra_sources",
    multiple=True,
    metavar="SOURCE",
    help="Also count this archive source as one you follow people through, like a list "
    "(e.g. a file: source of a saved list; * and ? match any; repeatable).",
)


@click.group()
def voices() -> None:
    """Grow your network: who to follow next, who went quiet, how varied your sources are.

    \b
    Examples:
      plnfilter voices suggest filters/pln-digest.yaml
      plnfilter voices suggest filters/pln-digest.yaml --format yaml -o new-voices.yaml
      plnfilter voices report filters/pln-digest.yaml --since 30d -o voices.html
    """


@voices.command()
@filter_arg
@click.option("--since", default="90d", show_default=True, help="Read posts newer than a duration or a date.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many accounts."
)
@click.option(
    "--near-threshold",
    type=click.FloatRange(0, 1),
    default=0.25,
    show_default=True,
    help="Near your topics when at least this share of an account's hashtag uses is on your usual tags.",
)
@follows_option
@filter_option
@db_option
@output_options(local=YAML, stdout=(TABLE, "jsonl"))
def suggest(filter_path, since, limit, near_threshold, extra_sources, filter_name, db_path, output) -> None:
    """Accounts your voices endorse that you do not follow yet, each with why.

    You follow: everyone in FILTER's `voices:`, its account: and author: sources, and
    everyone the archive's list, home, timeline, account and author timelines showed
    posting or reposting (add others with --follows). None of them is suggested, nor an
    account whose every post your rules dropped, nor one the archive cannot name (a reply
    known only by an instance-local id). What counts, each optional: reposts, quotes,
    replies and mentions by trusted voices (`voices: trusted` and everyone you follow
    through a source), links they shared too, kept posts of their own.

    Each account is NEAR your topics when at least --near-threshold of its hashtag uses
    fall on your usual tags (the 20 tags most used on kept posts, with FILTER's source
    hashtags and include-rule tags), else FAR. --format yaml prints `voices:` ready to
    paste: near ones under trusted, far ones under outside_sector.

    \b
    Examples:
      plnfilter voices suggest filters/pln-digest.yaml
      plnfilter voices suggest filters/pln-digest.yaml --near-threshold 0.5 --format json
      plnfilter voices suggest filters/demo.yaml --format yaml -o new-voices.yaml
    """
    from plnfilter.store import open_readonly
    from plnfilter.voices import SUGGESTION_FIELDS, snippet_yaml
    from plnfilter.voices import suggest as find

    filter_file = _filter(filter_path)
    start = parse_time(since, "--since")
    conn = open_readonly(resolve_db(db_path))
    found = find(
        conn,
        filter_file,
        _iso(start),
        limit=limit,
        near_threshold=near_threshold,
        extra_sources=extra_sources,
        filter_name=_verdicts_of(conn, filter_file, filter_name),
    )
    rows = [item.row(rank) for rank, item in enumerate(found, start=1)]
    title = f"plnfilter voices suggest {filter_file.name if filter_file else ''}".strip()
    if output.fmt == "yaml":
        _write_text(output, snippet_yaml(rows, f"{title}: merge into your filter file's voices:"))
        return
    emit(rows, output, table_columns=SUGGEST_COLUMNS, title=title, known=SUGGESTION_FIELDS)


def _iso(moment) -> str | None:
    from plnfilter.times import to_iso

    return to_iso(moment) if moment is not None else None


@voices.command()
@filter_arg
@click.option("--since", default="30d", show_default=True, help="Kept posts newer than a duration or a date.")
@click.option(
    "--quiet-after",
    default="14d",
    show_default=True,
    help="A followed voice with no post for this long is quiet.",
)
@click.option(
    "--stale-after",
    default="14d",
    show_default=True,
    help="A source that kept nothing for this long is listed.",
)
@click.option("--title", default="Your network", show_default=True, help="Title for markdown and html.")
@follows_option
@filter_option
@db_option
@output_options(own=("markdown", "html"), stdout=(TABLE, "markdown"))
def report(
    filter_path, since, quiet_after, stale_after, title, extra_sources, filter_name, db_path, output
) -> None:
    """How varied your kept posts were, which followed voices went quiet, which sources kept nothing.

    Variety: kept posts, distinct authors and instances, the share of the top 5 authors
    and, with FILTER, the share from its outside_sector and dissenting voices beside the
    places `rank.mix` keeps for them in the top (of `keep:`, else 20). Quiet: voices
    followed through an author, account, list or home source (a voice seen only through
    hashtags may just not have used them) with no post for --quiet-after. Stale: sources
    fetched in the last --stale-after that kept nothing in it, candidates to drop.
    Markdown and HTML sit beside the digest; csv, json and jsonl give one row per finding.

    \b
    Examples:
      plnfilter voices report filters/pln-digest.yaml --since 30d
      plnfilter voices report filters/pln-digest.yaml --quiet-after 7d -o voices.html
    """
    from plnfilter.store import open_readonly
    from plnfilter.times import now_utc
    from plnfilter.voices_report import REPORT_FIELDS, build_report, report_html, report_markdown

    filter_file = _filter(filter_path)
    start = parse_time(since, "--since")
    quiet = _duration(quiet_after, "--quiet-after")
    stale = _duration(stale_after, "--stale-after")
    conn = open_readonly(resolve_db(db_path))
    found = build_report(
        conn,
        filter_file,
        now_utc(),
        start,
        quiet_after=quiet,
        stale_after=stale,
        extra_sources=extra_sources,
        filter_name=_verdicts_of(conn, filter_file, filter_name),
    )

    def markdown(rows, out, title: str = title, **_options) -> int:
        return report_markdown(found, out, title)

    def html(rows, out, title: str = title, **_options) -> int:
        return report_html(found, out, title)

    emit(
        found.rows,
        output,
        table_columns=REPORT_COLUMNS,
        title=title,
        known=REPORT_FIELDS,
        writers={"markdown": markdown, "html": html},
    )


COMMANDS = (voices,)
