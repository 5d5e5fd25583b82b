"""CSV lines of a selection made mostly by SQLite, so that Python joins a few strings per row.

The csv module costs ~15 us a row of 35 cells, more than SQLite takes to read it; here SQLite
converts every cell (lists space-joined, flags true/false, NULL empty), neutralises and quotes the
free-text cells (`FREE_TEXT`: the ones that often hold commas, quotes and line breaks), and writes
each run of the other cells as one string. Python checks those runs in one pass and joins the pieces.

The line must be byte for byte what `export.to_csv` and the csv module make of the row's dict.
Whatever SQLite cannot vouch for sends the row to the slow path (read again as the dict every
other format reads, and written from that): a value of a type its column does not hold, a list cell that is not a compact
JSON array of plain strings, a cell outside `FREE_TEXT` holding a comma, a quote, a line break or
a formula's first character. Those are damaged or hostile cells, rare in an archive.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from plnfilter.store.archive import db_errors
from plnfilter.store.columns import POST_SCHEMA, VERDICT_SCHEMA
from plnfilter.store.rows import (
    BOOL_COLUMNS,
    FORMULA_START_SQL,
    JSON_LIST_COLUMNS,
    column_sql,
)

FREE_TEXT = frozenset({"text", "html", "author_name", "spoiler", "card_title", "media_alt"})
"""Cells SQLite neutralises and quotes itself: people's words, where commas and quotes are common."""

_UNSURE = "'\"'"  # a checked cell SQLite cannot vouch for: a quote, which sends its row to the slow path
# The checks on the checked runs (joined by ','), made on a copy where every character that makes a
# cell unsure (a quote, a line break, any control character: JSON would have escaped it in a list)
# is a quote and every formula's first character is '='.
_SPOTS = str.maketrans({**{chr(i): '"' for i in range(32)}, "=": "=", "+": "=", "-": "=", "@": "="})


def _kind(name: str) -> type:
    return VERDICT_SCHEMA[name] if name in VERDICT_SCHEMA and name not in POST_SCHEMA else POST_SCHEMA[name]


def _joined_sql(column: str) -> str:
    """A list cell space-joined by string surgery: exact for a compact JSON array of strings without
    escapes (every quote a delimiter, so none is left), which is what `rows.dump_list` writes."""
    return f"replace(substr({column}, 3, length({column}) - 4), '\",\"', ' ')"


def _plain_list_sql(column: str) -> str:
    """Whether `_joined_sql` is exact (the checked runs look for a left-over quote themselves)."""
    return f"instr({column}, '\\') = 0 AND {column} GLOB '[[]\"*\"]'"


def _checked_sql(name: str) -> str:
    """A cell of a checked run: converted, or `_UNSURE` (NULL is printed empty). SQLite orders BLOB
    after everything, so `>= X''` finds a blob without a function call."""
    column = column_sql(name)
    if name in JSON_LIST_COLUMNS:
        return (
            f"CASE WHEN {column} = '[]' OR {column} IS NULL THEN '' WHEN {_plain_list_sql(column)} "
            f"THEN {_joined_sql(column)} ELSE {_UNSURE} END"
        )
    if name in BOOL_COLUMNS:
        return (
            f"CASE typeof({column}) WHEN 'integer' THEN iif({column}, 'true', 'false') "
            f"WHEN 'real' THEN {_UNSURE} WHEN 'blob' THEN {_UNSURE} ELSE {column} END"
        )
    if _kind(name) is int:
        return (
            f"CASE typeof({column}) WHEN 'real' THEN {_UNSURE} WHEN 'blob' THEN {_UNSURE} ELSE {column} END"
        )
    return f"CASE WHEN {column} >= X'' THEN {_UNSURE} ELSE {column} END"  # TEXT affinity: text, NULL, blob


def _quoted_sql(text: str) -> str:
    """`text` as the csv module writes `to_csv.cell(text)`: neutralised, then quoted when it holds a
    comma, a quote or a line break (quotes doubled)."""
    cell = f"CASE WHEN substr({text}, 1, 1) IN {FORMULA_START_SQL} THEN '''' || {text} ELSE {text} END"
    return (
        f"CASE WHEN instr({text}, '\"') THEN '\"' || replace({cell}, '\"', '\"\"') || '\"' "
        f"WHEN instr({text}, ',') OR instr({text}, char(10)) OR instr({text}, char(13)) "
        f"THEN '\"' || {cell} || '\"' ELSE {cell} END"
    )


def _free_sql(name: str) -> str:
    """A free-text cell ready for the line, or NULL (the row takes the slow path)."""
    column = column_sql(name)
    if name in JSON_LIST_COLUMNS:
        joined = _joined_sql(column)
        exact = f"{_plain_list_sql(column)} AND instr({joined}, '\"') = 0 AND json_valid({column})"
        return f"CASE WHEN {column} = '[]' OR {column} IS NULL THEN '' WHEN {exact} THEN {_quoted_sql(joined)} END"
    return f"CASE WHEN {column} IS NULL THEN '' WHEN {column} < X'' THEN {_quoted_sql(column)} END"


@dataclass(frozen=True)
class LinePlan:
    """The SELECT list (pieces of the line, then posts.id) and where each kind of piece sits."""

    select_list: str
    pieces: int
    checked: tuple[int, ...]  # runs of checked cells, joined by ','
    commas: int  # commas the checked runs hold between their cells
    number: int | None  # the REAL column's piece (formatted by the caller), if any
    number_name: str | None


def line_plan(names: Sequence[str]) -> LinePlan | None:
    """How to make the lines of `names`; None when the csv module must (no column; several REAL
    columns, which only a column named twice could give)."""
    floats = [n for n in names if n not in JSON_LIST_COLUMNS and n not in BOOL_COLUMNS and _kind(n) is float]
    if not names or len(floats) > 1:
        return None
    selects: list[str] = []
    checked: list[int] = []
    commas = 0
    number = None
    run: list[str] = []

    def close_run() -> None:
        nonlocal commas
        if run:
            checked.append(len(selects))
            selects.append(f"printf('{','.join(['%s'] * len(run))}', {', '.join(run)})")
            commas += len(run) - 1
            run.clear()

    for name in names:
        if name in floats:
            close_run()
            number = len(selects)
            selects.append(column_sql(name))
        elif name in FREE_TEXT:
            close_run()
            selects.append(_free_sql(name))
        else:
            run.append(_checked_sql(name))
    close_run()
    return LinePlan(
        ", ".join([*selects, "posts.id"]),
        len(selects),
        tuple(checked),
        commas,
        number,
        floats[0] if floats else None,
    )


def csv_lines(
    conn: sqlite3.Connection,
    plan: LinePlan,
    sql: str,
    params: Sequence[Any],
    slow_row: Callable[[int], dict[str, Any]],
    number_cell: Callable[[str, Any], str | None],
) -> Iterator[str | dict[str, Any]]:
    """Each row as its CSV line (with CRLF), or, for a row SQLite could not vouch for, the row as a
    dict (`slow_row(post id)`) for the caller to write as it writes any. `number_cell(name, value)`
    writes the REAL cell, or None when it cannot (the slow path)."""
    if len(plan.checked) == 1:
        only = plan.checked[0]

        def checked_of(row: Sequence[Any]) -> tuple[str, ...]:
            return (row[only],)
    elif plan.checked:
        checked_of = operator.itemgetter(*plan.checked)
    else:

        def checked_of(row: Sequence[Any]) -> tuple[str, ...]:
            return ()

    commas, number, name, last = (
        plan.commas + max(len(plan.checked) - 1, 0),
        plan.number,
        plan.number_name,
        plan.pieces,
    )
    with db_errors(conn):
        for row in conn.execute(sql, params):
            try:
                runs = ",".join(checked_of(row))
                spots = runs.translate(_SPOTS)
                if runs.count(",") == commas and '"' not in spots and ",=" not in spots and spots[:1] != "=":
                    if number is None:
                        yield (",".join(row[:last]) or '""') + "\r\n"  # one empty cell: quoted, as csv does
                        continue
                    text = number_cell(name, row[number])
                    if text is not None:
                        pieces = list(row[:last])
                        pieces[number] = text
                        yield (",".join(pieces) or '""') + "\r\n"
                        continue
            except TypeError:  # a free-text cell SQLite could not vouch for (NULL)
                pass
            yield slow_row(row[last])


def slow_row_sql(names: Sequence[str]) -> str:
    """One post's row as a selection reads it (for `rows.row_decoder`), by id, with one filter's verdict."""
    return (
        f"SELECT {', '.join(column_sql(n) for n in names)} FROM posts LEFT JOIN verdicts "  # noqa: S608 (names from POST_SCHEMA)
        'ON verdicts.post_id = posts.id AND verdicts."filter" = ? WHERE posts.id = ?'
    )
