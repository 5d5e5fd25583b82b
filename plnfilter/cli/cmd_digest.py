"""The PLN view: `top`, `links`, `explain` and `import-filters`. All but the last only read the archive."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from plnfilter.cli.console import clean
from plnfilter.cli.options import (
    as_of_option,
    chosen_filter,
    db_option,
    filter_option,
    load_filter,
    quiet_option,
    resolve_db,
    say,
)
from plnfilter.cli.output import (
    TABLE,
    atom_options,
    emit,
    include_private_option,
    output_options,
    publishing,
    say_left_out,
    self_url_option,
)
from plnfilter.export.formats import POSTS

DEFAULT_TOP = 20
DIGEST_STDOUT = (TABLE, "markdown")  # a digest is read: a table on a terminal, Markdown when piped
TOP_COLUMNS = (("rank", 4), ("score", 6), ("posted", 24), ("text", 0))  # posted: who, when, where, link
SINCE_HELP = (
    "Posts newer than a duration (24h, 7d, 1d12h), today, yesterday or a date; or first seen since "
    "last-run (the start of the last successful run of FILTER) or last-read (the last digest of "
    "FILTER made with --mark-read)."
)
LINK_COLUMNS = (("count", 5), ("url", 0), ("title", 0), ("shared_by", 30), ("best_author", 24))


def _open_filter(filter_path: Path | None):
    return None if filter_path is None else load_filter(filter_path)


def _filter_of(conn, filter_file) -> str | None:
    """FILTER's own verdicts (by its `name:`; if it has none here, its rules judge every post in the
    window); else the archive's only filter."""
    if filter_file is None:
        return chosen_filter(conn, None)
    return filter_file.name


def _write_to(output: Path | None, write) -> None:
    """Write to stdout (None or '-'), or atomically to `output` (a temp file renamed into place)."""
    if output is None or str(output) == "-":
        out = sys.stdout
        write(out)
        out.flush()
        return
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            write(out)
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _grouped_markdown(rows, out, title: str = "plnfilter top posts") -> int:
    """`top`'s Markdown: one title, then a `##` heading per group of --by with its posts under it."""
    from plnfilter.export.to_markdown import write_markdown

    return write_markdown(rows, out, title=title)


def _filter_identity(filter_file) -> tuple[str | None, str]:
    """The path the `runs` table knows FILTER by (None: read from stdin) and its `name:`."""
    if filter_file is None:
        return None, ""
    path = None if filter_file.path in ("", "<stdin>") else str(Path(filter_file.path).resolve())
    return path, filter_file.name or ""


@click.command()
@click.argument("filter_path", metavar="[FILTER]", required=False, type=click.Path(path_type=Path))
@click.option("--since", default="24h", show_default=True, help=SINCE_HELP)
@as_of_option
@click.option(
    "--mark-read",
    is_flag=True,
    help="Record this digest's time for FILTER, so the next --since last-read starts here.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), help="At most this many posts. Default: FILTER's `keep:`, else 20."
)
@click.option(
    "--by", type=click.Choice(["rule", "tag"]), help="Group the chosen posts by include rule or by hashtag."
)
@click.option(
    "--title", default="plnfilter top posts", show_default=True, help="Title for markdown, html and atom."
)
@click.option(
    "--images", is_flag=True, help="HTML: show images from their servers instead of their alt text."
)
@self_url_option
@include_private_option
@db_option
@output_options(POSTS, own=("markdown",), stdout=DIGEST_STDOUT)
def top(
    filter_path,
    since,
    as_of,
    mark_read,
    limit,
    by,
    title,
    images,
    self_url,
    include_private,
    quiet,
    db_path,
    output,
) -> None:
    """The best kept posts of the last day (or --since), re-scored now, for reading or mailing.

    With FILTER, its rules decide again which posts are kept and what they are boosted by,
    and its `rank:` settings apply: half_life, weights, max_per_author, max_per_instance
    and the places `mix` keeps for outside_sector and dissenting voices; its `keep:` is
    the default --limit; the candidates are the posts FILTER's own verdicts keep (by its
    `name:`; every post in the window if it has not judged this archive). Without FILTER, the posts the archive's only filter kept are scored with the default settings (12h half-life,
    engagement + recency, no rule boosts, no caps), so give FILTER for your own digest.
    Posts stored as dropped stay out either way: run `plnfilter apply FILTER` after
    changing rules. --by rule puts each chosen post under its first matching include
    rule; --by tag under the hashtag most of the chosen posts share. Each card says which
    `voices:` group its author is in (trusted voice, outside your sector, dissenting voice;
    `voice_group` in csv and json); without FILTER the groups are those the archive's
    filter had at its last run or apply. -o takes the format
    from the file's extension; an Atom feed keeps one id for this archive and FILTER's
    `name:` (or is --self-url, the address it is published at), whatever its --title.

    --as-of remakes a past digest: scores, --since and the window are taken at that
    moment. --since last-read with --mark-read reads like a mailbox: each digest shows
    what arrived (by first_seen) since the last one marked read. When the window holds no
    post, stderr says how old the newest one is and which --since or --as-of shows it.

    \b
    Examples:
      plnfilter top filters/pln-digest.yaml
      plnfilter top filters/pln-digest.yaml --since last-read --mark-read -o today.html
      plnfilter top filters/demo.yaml --as-of newest --since 3d
      plnfilter top filters/mixed-voices.yaml --since 7d --by tag > week.md
      plnfilter top filters/pln-digest.yaml -o digest.html
      plnfilter top filters/pln-digest.yaml -o top.xml --self-url https://example.org/top.xml
    """
    from plnfilter.digest import build_digest
    from plnfilter.errors import UsageError
    from plnfilter.store import OUTPUT_COLUMNS, open_readonly
    from plnfilter.times import now_utc
    from plnfilter.window import check_flags, empty_hint, resolve_window

    if mark_read and as_of:
        raise UsageError(
            "--mark-read records when you read what arrived; a digest --as-of another moment is not that",
            "drop --as-of or --mark-read",
        )
    check_flags(since, as_of)
    started = now_utc()
    filter_file = _open_filter(filter_path)
    if limit is None:
        limit = (filter_file.keep if filter_file else None) or DEFAULT_TOP
    path = resolve_db(db_path)
    conn = open_readonly(path)
    verdicts_of = _filter_of(conn, filter_file)
    filter_key, filter_name = _filter_identity(filter_file)
    window = resolve_window(
        conn, since, as_of, filter_file=filter_key, filter_name=filter_name, kept_by=verdicts_of
    )
    note = say(quiet)
    for line in window.notes:
        note(line)
    feed = json.dumps(["top", filter_name])
    options = atom_options(output, conn, path, feed, self_url)
    left_out: list[int] = []
    with_raw = images and output.fmt == "html"  # the HTML export finds image URLs in the raw API object
    # The cards' voice labels: FILTER's groups, else those the archive recorded for its filter.
    voices = None
    if filter_file is None:
        from plnfilter.voice_labels import recorded_voices

        voices = recorded_voices(conn, verdicts_of)
    rows = build_digest(
        conn,
        filter_file,
        window.now,
        window.since,
        limit=limit,
        by=by,
        with_raw=with_raw,
        filter_name=verdicts_of,
        public_only=publishing(output, include_private),
        left_out=left_out,
        until=window.until,
        seen_since=window.seen_since,
        voices=voices,
    )
    say_left_out(sum(left_out), quiet)
    if not rows:
        from plnfilter.store.marks import newest_kept

        note(empty_hint(window, newest_kept(conn, filter_name=verdicts_of)))
    emit(
        rows,
        output,
        table_columns=TOP_COLUMNS,
        table_optional=("score",),  # at 80 columns when and where a post is matter more
        title=title,
        known=("rank", "group", "voice_group", *OUTPUT_COLUMNS, "html"),
        writers={"markdown": _grouped_markdown},
        images=images,
        show_html=True,
        **options,
    )
    if mark_read:
        from plnfilter.store.marks import mark_read as record_read  # the one write: only when asked

        conn.close()
        record_read(path, filter_name, started)


@click.command()
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="Posts newer than a duration (24h, 7d, 1d12h), today, yesterday or a date; or first seen "
    "since last-run (the last successful run) or last-read (the last `top` without FILTER made "
    "with --mark-read).",
)
@as_of_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many links."
)
@click.option(
    "--min-sharers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Only links this many people shared.",
)
@click.option("--title", default="Links shared in your PLN", show_default=True, help="Title for markdown.")
@filter_option
@quiet_option
@db_option
@output_options(own=("markdown",), stdout=DIGEST_STDOUT)
def links(since, as_of, limit, min_sharers, title, filter_name, quiet, db_path, output) -> None:
    """The links most people shared, each once per person across every network (Mastodon, Bluesky, feeds).

    Links are compared without tracking parameters (utm_*, fbclid...), fragments, `www.`,
    trailing slashes or default ports. Each comes with who shared it, the title of its link
    card, and the best kept post about it (scored now with the default settings). Kept by
    --filter NAME, else by the archive's only filter.
    A person is an author string: the same name on two networks counts twice.

    \b
    Examples:
      plnfilter links
      plnfilter links --since 30d --min-sharers 2 > links.md
      plnfilter links --as-of 2026-11-30 --since 7d
      plnfilter links -o links.csv --bom --columns count,url,title,best_score
    """
    from plnfilter.links import ROW_FIELDS, links_markdown, shared_links
    from plnfilter.store import open_readonly
    from plnfilter.store.marks import newest_kept
    from plnfilter.window import check_flags, empty_hint, resolve_window

    check_flags(since, as_of)
    conn = open_readonly(resolve_db(db_path))
    verdicts_of = chosen_filter(conn, filter_name)
    window = resolve_window(conn, since, as_of, kept_by=verdicts_of)
    note = say(quiet)
    for line in window.notes:
        note(line)
    found = shared_links(
        conn,
        verdicts_of,
        window.now,
        window.since,
        window.until,
        seen_since=window.seen_since,
        limit=limit,
        min_sharers=min_sharers,
    )
    if not found and _window_is_empty(conn, window, verdicts_of):
        note(empty_hint(window, newest_kept(conn, filter_name=verdicts_of)))

    def markdown(rows, out, title: str = title) -> int:
        count = sum(1 for _ in rows)
        out.write(links_markdown(found, title))
        return count

    rows = [link.as_row() for link in found]
    emit(
        rows,
        output,
        table_columns=LINK_COLUMNS,
        title=title,
        known=ROW_FIELDS,
        writers={"markdown": markdown},
    )


def _window_is_empty(conn, window, filter_name) -> bool:
    """Whether the window holds no kept post at all (not only none with a link)."""
    from plnfilter.store.read import posts_with_verdicts

    kept = posts_with_verdicts(
        conn, window.since, window.until, filter_name=filter_name, seen_since=window.seen_since
    )
    return next(iter(kept), None) is None


@click.command()
@click.argument("uri")
@click.argument(
    "filter_path", metavar="[FILTER]", required=False, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--since",
    default="24h",
    show_default=True,
    help="Rank among kept posts newer than this (as `top`): a duration (24h, 7d, 1d12h), today, "
    "yesterday or a date.",
)
@as_of_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Say whether it makes `top --limit N`.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@db_option
def explain(uri, filter_path, since, as_of, limit, fmt, db_path) -> None:
    """Why a post was kept or dropped, each part of its score, and its rank.

    URI is the post's uri (at://..., or the Mastodon status uri) or its web URL. With
    FILTER, every rule is checked again and the file's boosts and rank settings apply;
    without it, the verdict the archive's filter stored is shown (the exclude rule that
    dropped it, or the include rules it matched), scored with the defaults.

    \b
    Examples:
      plnfilter explain at://did:plc:abc/app.bsky.feed.post/3kxyz filters/pln-digest.yaml
      plnfilter explain https://mastodon.social/users/kate/statuses/1 --format json
      plnfilter explain https://mastodon.social/@kate/1 filters/pln-digest.yaml --as-of 2026-11-30
    """
    from plnfilter.explain import explain as explain_post
    from plnfilter.explain import explanation_lines
    from plnfilter.store import open_readonly
    from plnfilter.window import check_flags, resolve_window

    check_flags(since, as_of, archive_words=False)
    filter_file = _open_filter(filter_path)
    conn = open_readonly(resolve_db(db_path))
    filter_name = filter_file.name if filter_file else chosen_filter(conn, None)
    window = resolve_window(conn, since, as_of, archive_words=False, kept_by=filter_name)
    result = explain_post(
        conn,
        uri,
        filter_file,
        window.now,
        window.since,
        top_limit=limit,
        filter_name=filter_name,
        until=window.until,
    )
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    for line in explanation_lines(result):
        click.echo(clean(line))


@click.command("import-filters")
@click.argument(
    "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The filter file to write (default: stdout, also '-').",
)
@click.option("--force", is_flag=True, help="Replace --output if it exists.")
@click.option(
    "--name", default="imported-filters", show_default=True, help="The `name:` of the generated filter file."
)
@click.option(
    "--mastodon",
    "instances",
    multiple=True,
    metavar="INSTANCE",
    help="Also fetch your filters from this instance (needs `plnfilter auth`).",
)
@click.option(
    "--bluesky",
    "from_bluesky",
    is_flag=True,
    help="Also fetch the muted words of the Bluesky account `plnfilter auth bluesky` stored.",
)
def import_filters(files, output, force, name, instances, from_bluesky) -> None:
    """Turn Mastodon filters and Bluesky muted words into exclude rules of a filter file.

    FILE is saved JSON (`-` reads it from stdin): Mastodon's `GET /api/v2/filters` (or v1), or Bluesky's
    `app.bsky.actor.getPreferences`. Expired filters and Mastodon filters that only
    apply to notifications are skipped; whole-word keywords become `words`, others
    `text`. Each rule carries a comment saying where it came from. Copy the rules
    into your own filter file, or add `sources:` to the generated one.

    \b
    Examples:
      plnfilter import-filters mastodon-filters.json bluesky-prefs.json -o filters/muted.yaml
      plnfilter import-filters --mastodon mastodon.social --bluesky -o filters/muted.yaml
    """
    from plnfilter.errors import UsageError
    from plnfilter.filterfile import parse
    from plnfilter.import_filters import ImportResult, import_data, import_files, to_filter_yaml
    from plnfilter.times import now_utc

    if not files and not instances and not from_bluesky:
        raise UsageError("nothing to import", "give saved JSON files, --mastodon INSTANCE or --bluesky")
    if output is not None and str(output) == "-":
        output = None
    if sum(str(f) == "-" for f in files) > 1:
        raise UsageError("- (stdin) is given more than once", "stdin can be read once")
    if output is not None and output.exists() and not force:
        raise UsageError(f"{output} exists", "choose another --output, or add --force to replace it")
    now = now_utc()
    stdin = None
    if any(str(f) == "-" for f in files):
        stream = getattr(sys.stdin, "buffer", None)
        stdin = stream.read().decode("utf-8-sig", errors="replace") if stream else sys.stdin.read()
    result = import_files(list(files), now, stdin) if files else ImportResult()
    if instances or from_bluesky:
        from plnfilter.import_filters_live import fetch_bluesky_preferences, fetch_mastodon_filters

        taken = {rule.name for rule in result.rules}
        for instance in instances:
            import_data(fetch_mastodon_filters(instance), f"mastodon {instance}", now, result, taken)
        if from_bluesky:
            import_data(fetch_bluesky_preferences(), "bluesky preferences", now, result, taken)
    text = to_filter_yaml(result, now, name=name)
    parse(text, str(output or "<generated>"))  # what we write must load
    _write_to(output, lambda out: out.write(text))
    where = output or "stdout"
    click.echo(f"Wrote {len(result.rules)} exclude rule(s) to {clean(str(where))}.", err=True)
    for reason in result.skipped:
        click.echo(f"  skipped {clean(reason, keep_newlines=False)}", err=True)


COMMANDS = (top, links, explain, import_filters)
