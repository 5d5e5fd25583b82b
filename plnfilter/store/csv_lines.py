"""CSV lines of a selection made mostly by SQLite, so that Python joins a few strings per row.

The csv module costs ~15 us a row of 35 cells, more than SQLite takes to read it; here SQLite
converts every other cell (lists space-joined, flags true/false, NULL empty) and writes each run of
them as one string, which Python checks in one pass over its bytes. The free-text cells
(`FREE_TEXT`: the ones that often hold commas, quotes and line breaks) come as they are and
`free_cell` neutralises and quotes them: three `in` tests cost Python less than SQLite's function
calls on the same text (~0.5 CPU-s per 100k rows).

The line must be byte for byte what `export.to_csv` and the csv module make of the row's dict.
Whatever SQLite cannot vouch for sends the row to the slow path (read again as the dict every
other format reads, and written from that): a value of a type its column does not hold, a list cell that is not a compact
JSON array of plain strings, a cell outside `FREE_TEXT` holding a comma, a quote, a line break or
a formula's first character. Those are damaged or hostile cells, rare in an archive.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from plnfilter.store.columns import POST_SCHEMA, VERDICT_SCHEMA
from plnfilter.store.rows import (
    BOOL_COLUMNS,
    FORMULA_START,
    JSON_LIST_COLUMNS,
    column_sql,
)

FREE_TEXT = frozenset({"text", "html", "author_name", "spoiler", "card_title", "media_alt"})
"""Cells `free_cell` neutralises and quotes: people's words, where commas and quotes are common."""

_UNSURE = "'\"'"  # a checked cell SQLite cannot vouch for: a quote, which sends its row to the slow path
# The checks on the checked runs (joined by ','), made on a copy of their UTF-8 where every byte that
# makes a cell unsure (a quote, a line break, any control character: JSON would have escaped it in a
# list) is a quote and every formula's first character is '='. (A byte table: ~5x faster than a str
# table; the bytes of a character beyond ASCII are all >= 0x80, so they stay as they are.)
_SPOTS = bytes.maketrans(bytes([*range(32), *b"+-@"]), b'"' * 32 + b"===")


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


def _free_sql(name: str) -> str:
    """A free-text cell as the text `free_cell` takes: the column's text, '' for NULL (a BLOB or a
    number there sends the row to the slow path), a list cell space-joined ('' when empty), or NULL
    for a list that is not plain (the slow path)."""
    column = column_sql(name)
    if name in JSON_LIST_COLUMNS:
        joined = _joined_sql(column)
        exact = f"{_plain_list_sql(column)} AND instr({joined}, '\"') = 0 AND json_valid({column})"
        return f"CASE WHEN {column} = '[]' OR {column} IS NULL THEN '' WHEN {exact} THEN {joined} END"
    return f"ifnull({column}, '')"


def free_cell(text: str) -> str:
    """`text` as the csv module writes `to_csv.cell(text)`: neutralised, then quoted when it holds a
    comma, a quote or a line break (quotes doubled). Anything but text raises (the slow path)."""
    if text.startswith(FORMULA_START):
        text = "'" + text
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


@dataclass(frozen=True)
class LinePlan:
    """The SELECT list (pieces of the line, then posts.id) and where each kind of piece sits."""

    select_list: str
    pieces: int
    checked: tuple[int, ...]  # runs of checked cells, joined by ','
    free: tuple[int, ...]  # free-text cells (`free_cell` writes them)
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
    free: list[int] = []
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
            free.append(len(selects))
            selects.append(_free_sql(name))
        else:
            run.append(_checked_sql(name))
    close_run()
    return LinePlan(
        ", ".join([*selects, "posts.id"]),
        len(selects),
        tuple(checked),
        tuple(free),
        commas,
        number,
        floats[0] if floats else None,
    )


def csv_lines(
    rows: Iterable[Sequence[Any]],
    plan: LinePlan,
    slow_row: Callable[[int], dict[str, Any]],
    number_cell: Callable[[str, Any], str | None],
) -> Iterator[str | dict[str, Any]]:
    """Each row of `plan.select_list` as its CSV line (with CRLF), or, for a row SQLite could not
    vouch for, the row as a dict (`slow_row(post id)`) for the caller to write as it writes any.
    `number_cell(name, value)` writes the REAL cell, or None when it cannot (the slow path)."""
    if len(plan.checked) == 1:
        only = plan.checked[0]

        def checked_of(row: Sequence[Any]) -> tuple[str, ...]:
            return (row[only],)
    elif plan.checked:
        checked_of = operator.itemgetter(*plan.checked)
    else:

        def checked_of(row: Sequence[Any]) -> tuple[str, ...]:
            return ()

    commas, last = plan.commas + max(len(plan.checked) - 1, 0), plan.pieces
    convert: list[tuple[int, Callable[[Any], str | None]]] = [(i, free_cell) for i in plan.free]
    if plan.number is not None:
        convert.append((plan.number, partial(number_cell, plan.number_name)))
    for row in rows:
        try:
            spots = ",".join(checked_of(row)).encode().translate(_SPOTS)
            if spots.count(b",") == commas and b'"' not in spots and b",=" not in spots and spots[:1] != b"=":
                if convert:
                    pieces = list(row[:last])
                    for i, to in convert:
                        pieces[i] = to(pieces[i])
                else:
                    pieces = row[:last]
                yield (",".join(pieces) or '""') + "\r\n"  # one empty cell: quoted, as csv does
                continue
        except (TypeError, AttributeError):  # a cell SQLite could not vouch for, or not text
            pass
        yield slow_row(row[last])


def slow_row_sql(names: Sequence[str]) -> str:
    """One post's row as a selection reads it (for `rows.row_decoder`), by id, with one filter's verdict."""
    return (
        f"SELECT {', '.join(column_sql(n) for n in names)} FROM posts LEFT JOIN verdicts "  # noqa: S608 (names from POST_SCHEMA)
        'ON verdicts.post_id = posts.id AND verdicts."filter" = ? WHERE posts.id = ?'
    )
