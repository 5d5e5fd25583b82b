"""Rows as a rich table that stays readable at any terminal width: the text column keeps its room.

Every cell is a `Text` built from cleaned strings, so post content is never parsed as markup and
never carries terminal escapes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import click

from plnfilter.cli.console import clean, one_line
from plnfilter.store.grams import RUN

# `posted` stacks who, when, where and a short link in one narrow column, so at 80 columns a post
# still shows its date, network and link beside a readable text.
POSTED_WIDTH = 24
POST_COLUMNS = (("score", 5), ("posted", POSTED_WIDTH), ("text", 0), ("tags", 20))
# While the flexible columns would be narrower than TEXT_MIN: these go first, one at a time, then
# the NARROWING columns give way down to AUTHOR_MIN, then the DROP_LAST ones go.
DROP_FIRST = ("tags", "network", "group", "shared_by", "fetched", "posts")
NARROWING = ("author", "best_author")
DROP_LAST = ("created_at", "posted", "rank", "last_run")
TIME_COLUMNS = frozenset({"created_at", "first_seen", "last_seen", "last_run", "started", "finished"})
TEXT_MIN = 36
AUTHOR_MIN = 12
TEXT_LINES = 3  # a post's text is cut to about this many lines, ending in an ellipsis
CELL_PADDING = 3  # rich's borders and padding per column


def flexible_width(columns: Iterable[tuple[str, int]], width: int) -> int:
    """What each flexible (width 0) column gets of `width` once the fixed ones and borders are paid."""
    columns = list(columns)
    fixed = sum(size for _, size in columns if size)
    flexible = sum(1 for _, size in columns if not size) or 1
    return (width - 1 - CELL_PADDING * len(columns) - fixed) // flexible


def fit_columns(
    columns: tuple[tuple[str, int], ...],
    width: int,
    empty: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> tuple[tuple[str, int], ...]:
    """The columns that fit `width` with at least TEXT_MIN for each flexible (width 0) column:
    first the `empty` ones (no row has a value there), the command's `optional` ones and the
    optional columns go, then author names narrow, then time and rank go too."""
    chosen = list(columns)
    flexible = sum(1 for _, size in chosen if not size) or 1
    wanted = TEXT_MIN if flexible == 1 else TEXT_MIN // 2

    def short() -> int:
        return wanted - flexible_width(chosen, width)

    def drop(names: tuple[str, ...]) -> None:
        nonlocal chosen
        for name in names:
            if short() > 0:
                chosen = [(column, size) for column, size in chosen if column != name]

    drop(empty)
    drop(optional)
    drop(DROP_FIRST)
    if short() > 0:
        cut = short() * flexible
        chosen = [
            (column, max(AUTHOR_MIN, size - cut) if column in NARROWING else size) for column, size in chosen
        ]
    drop(DROP_LAST)
    return tuple(chosen)


def print_table(
    rows: Iterable[dict], *, columns=None, title: str = "", optional: tuple[str, ...] = ()
) -> None:
    """Print rows as a table on stdout ("No rows." on stderr when there are none); `optional`
    columns give way first when the terminal is narrow."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(soft_wrap=False, highlight=False)
    rows = list(rows)
    if not rows:
        click.echo("No rows.", err=True)
        return
    if columns is None:
        columns = (
            POST_COLUMNS if "uri" in rows[0] and "text" in rows[0] else tuple((key, 0) for key in rows[0])
        )
    empty = tuple(name for name, _ in columns if not any(cell(row, name) for row in rows))
    columns = fit_columns(tuple(columns), console.width, empty, optional)
    text_width = max(flexible_width(measured(columns, rows), console.width), 10)
    table = Table(title=Text(clean(title)) if title else None, show_lines=False, expand=True)
    for name, size in columns:
        if size:
            table.add_column(Text(name), no_wrap=True, max_width=size, overflow="ellipsis")
        else:
            table.add_column(Text(name), min_width=min(TEXT_MIN // 2, text_width), ratio=1, overflow="fold")
    group = None
    for row in rows:
        if row.get("group") and row["group"] != group and "group" not in dict(columns):
            group = row["group"]  # `top --by`: each group under its own heading row
            if table.rows:
                table.add_section()
            heading = Text("▸ " + clean(str(group), keep_newlines=False), style="bold")
            where = next((i for i, (_, size) in enumerate(columns) if not size), len(columns) - 1)
            table.add_row(
                *(heading if i == where else Text("") for i in range(len(columns))), end_section=True
            )
        table.add_row(*(styled(row, name, text_width) for name, _ in columns))
    console.print(table)


MATCH_STYLE = "bold reverse"


def styled(row: dict, name: str, text_width: int):
    """A cell as rich `Text`; in the text column the words a search matched are marked by a style
    (never markup or escapes: the words only choose which characters of the cleaned cell to mark)."""
    from rich.text import Text

    from plnfilter.store.select import HIGHLIGHT

    text = Text(cell(row, name, text_width))
    words = row.get(HIGHLIGHT) if name == "text" else None
    if words:
        pattern = match_pattern(words)
        if pattern is not None:
            text.highlight_regex(pattern, style=MATCH_STYLE)
    return text


def match_pattern(words) -> re.Pattern | None:
    """One pattern for the matched words, longest first: whole words for letters (any case), as
    typed inside runs of CJK/Thai (which have no spaces between words)."""
    alternatives = []
    for word in sorted({clean(str(w), keep_newlines=False) for w in words if w}, key=len, reverse=True):
        if not word.strip():
            continue
        escaped = re.escape(word)
        alternatives.append(escaped if RUN.search(word) else rf"(?<!\w){escaped}(?!\w)")
    return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None


def measured(columns: tuple[tuple[str, int], ...], rows: list[dict]) -> tuple[tuple[str, int], ...]:
    """Fixed columns at the width their header and cells take (at most their size), so the
    flexible ones get the room that is really left."""
    return tuple(
        (name, min(size, max(len(name), *(widest_line(cell(row, name)) for row in rows))))
        if size
        else (name, 0)
        for name, size in columns
    )


def widest_line(text: str) -> int:
    return max((len(line) for line in text.split("\n")), default=0)


def cell(row: dict, name: str, text_width: int = 70) -> str:
    """The cell of column `name`: a field of the row, or `posted` made from several."""
    if name == "posted":
        return posted(row, POSTED_WIDTH)
    return cell_text(row.get(name), name, text_width)


def posted(row: dict, width: int) -> str:
    """Who, when (UTC, to the minute), which network and a short link, one per line, each cut to `width`."""
    lines = [
        cell_text(row.get("author"), "author"),
        cell_text(row.get("created_at"), "created_at"),
        cell_text(row.get("network"), "network"),
        short_link(cell_text(row.get("url"), "url"), width),
    ]
    return "\n".join(one_line(line, width) for line in lines if line)


def short_link(url: str, width: int) -> str:
    """A post's address in `width` characters: without https:// and www.; when still too long, the
    host (where the post is) and the end of its last part (which post): `bsky.app/…/3lbxq2k4abc`."""
    bare = url.split("://", 1)[-1].removeprefix("www.").rstrip("/")
    if len(bare) <= width:
        return bare
    host, _, rest = bare.partition("/")
    head = f"{host}/…/"
    room = width - len(head)
    if room < 4:
        return bare[: max(width - 1, 1)] + "…"
    return head + rest.rsplit("/", 1)[-1][-room:]


def cell_text(value, name: str, text_width: int = 70) -> str:
    """One cell as clean text: lists joined (tags with '#'), times to the minute, long text cut."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):  # counts by name (`runs`'s dropped_by): one a line, long names cut
        return "\n".join(
            f"{one_line(str(key), max(text_width - len(str(count)) - 1, 4))} {count}"
            for key, count in value.items()
        )
    if isinstance(value, list | tuple):
        prefix = "#" if name == "tags" else ""
        return " ".join(prefix + clean(str(v), keep_newlines=False) for v in value)
    if name in TIME_COLUMNS:
        return clean(str(value), keep_newlines=False)[:16].replace("T", " ")
    if name == "text":
        return one_line(str(value), max(text_width * TEXT_LINES - 8, 40))
    if name == "filter_file":
        return path_tail(clean(str(value), keep_newlines=False), text_width)
    return clean(str(value), keep_newlines=False)


def path_tail(path: str, width: int) -> str:
    """A path that fits `width` on one line: the home folder as `~`, then the start cut, since the
    file's name is what a person looks for."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        path = "~" + path[len(home) :]
    return path if len(path) <= width else "…" + path[-max(width - 1, 1) :]
