"""CSV of a selection made mostly by SQLite, so that Python spends almost no bytecode per row.

The csv module costs ~15 us a row of 35 cells, more than SQLite takes to read it; here SQLite
converts every other cell (lists space-joined, flags true/false, NULL empty) and writes each run of
them as one JSON array of strings (`json_array`: it escapes every quote, backslash and control
character, NUL included, so one backslash anywhere says a run holds a cell that needs the csv
module; printf would cut a cell at a NUL). The free-text cells (`FREE_TEXT`: the ones that often
hold commas, quotes and line breaks) come as they are and Python neutralises and quotes them:
three `in` tests cost Python less than SQLite's function calls on the same text. Python takes a
`fetchmany` batch at a time and checks and joins it column by column, each step one C call over
the whole batch, into UTF-8 (`_batch_text`).

The line must be byte for byte what `export.to_csv` and the csv module make of the row's dict.
Whatever SQLite cannot vouch for sends the row to the slow path (read again as the dict every
other format reads, and written from that): a value of a type its column does not hold, a list
cell that is not a compact JSON array of plain strings, a cell outside `FREE_TEXT` holding a
comma, a quote, a control character or a formula's first character. Those are damaged or hostile
cells, rare in an archive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from typing import Any

from plnfilter.store.columns import POST_SCHEMA, VERDICT_SCHEMA
from plnfilter.store.rows import (
    BOOL_COLUMNS,
    FORMULA_START,
    JSON_LIST_COLUMNS,
    column_sql,
)

FREE_TEXT = frozenset({"text", "html", "author_name", "spoiler", "card_title", "media_alt"})
"""Cells Python neutralises and quotes (`free_cell`): people's words, where commas and quotes are common."""

_UNSURE = "'\"'"  # a checked cell SQLite cannot vouch for: a quote, which json_array escapes
# The checks on the checked runs (joined by ','), made on a copy of their UTF-8 where every byte that
# makes a cell unsure (a quote, a control character) is a quote and every formula's first character
# is '='. (A byte table: ~5x faster than a str table; the bytes of a character beyond ASCII are all
# >= 0x80, so they stay as they are.)
_SPOTS = bytes.maketrans(bytes([*range(32), *b"+-@"]), b'"' * 32 + b"===")


def _kind(name: str) -> type:
    return VERDICT_SCHEMA[name] if name in VERDICT_SCHEMA and name not in POST_SCHEMA else POST_SCHEMA[name]


def _joined_sql(column: str) -> str:
    """A list cell space-joined by string surgery: exact for a compact JSON array of strings without
    escapes (every quote a delimiter, so none is left), which is what `rows.dump_list` writes. Cut
    as a BLOB, so that a NUL in the cell is kept (and the quotes after it are seen)."""
    blob = f"CAST({column} AS BLOB)"
    return f"replace(substr({blob}, 3, length({blob}) - 4), '\",\"', ' ')"


def _checked_sql(name: str) -> str:
    """A cell of a checked run as text: converted, '' for NULL, or `_UNSURE`. SQLite orders BLOB
    after everything, so `>= X''` finds a blob without a function call."""
    column = column_sql(name)
    if name in JSON_LIST_COLUMNS:  # left-over quotes, backslashes, controls: json_array escapes them
        return (
            f"CASE WHEN {column} = '[]' OR {column} IS NULL THEN '' WHEN {column} GLOB '[[]\"*\"]' "
            f"THEN {_joined_sql(column)} ELSE {_UNSURE} END"
        )
    # An integer equals itself cast to INTEGER; text, a BLOB or a REAL in an INTEGER column does not
    # (both sides have INTEGER affinity, so nothing is converted): no function call, unlike typeof().
    is_integer = f"{column} = CAST({column} AS INTEGER)"
    if name in BOOL_COLUMNS:
        return (
            f"CASE WHEN {is_integer} THEN iif({column}, 'true', 'false') "
            f"WHEN {column} IS NULL THEN '' ELSE {_UNSURE} END"
        )
    if _kind(name) is int:
        return (
            f"CASE WHEN {is_integer} THEN CAST({column} AS TEXT) WHEN {column} IS NULL THEN '' "
            f"ELSE {_UNSURE} END"
        )
    # TEXT affinity: text, NULL or a BLOB
    return f"CASE WHEN {column} IS NULL THEN '' WHEN {column} >= X'' THEN {_UNSURE} ELSE {column} END"


def _free_sql(name: str) -> str:
    """A free-text cell as the text `free_cell` takes: the column's text, '' for NULL (a BLOB or a
    number there sends the row to the slow path), a list cell space-joined ('' when empty), or NULL
    for a list that is not plain (the slow path)."""
    column = column_sql(name)
    if name in JSON_LIST_COLUMNS:
        joined = _joined_sql(column)
        exact = (
            f"instr({column}, '\\') = 0 AND {column} GLOB '[[]\"*\"]' AND instr({joined}, '\"') = 0 "
            f"AND json_valid({column})"
        )
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
    run_commas: tuple[int, ...]  # the same for each run
    number: int | None  # the REAL column's piece (formatted by the caller), if any
    number_name: str | None
    cells: int  # columns in the line


def line_plan(names: Sequence[str]) -> LinePlan | None:
    """How to make the lines of `names`; None when the csv module must (no column; several REAL
    columns, which only a column named twice could give)."""
    floats = [n for n in names if n not in JSON_LIST_COLUMNS and n not in BOOL_COLUMNS and _kind(n) is float]
    if not names or len(floats) > 1:
        return None
    selects: list[str] = []
    checked: list[int] = []
    free: list[int] = []
    run_commas: list[int] = []
    commas = 0
    number = None
    run: list[str] = []

    def close_run() -> None:
        nonlocal commas
        if run:
            checked.append(len(selects))
            selects.append(f"json_array({', '.join(run)})")
            commas += len(run) - 1
            run_commas.append(len(run) - 1)
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
        tuple(run_commas),
        number,
        floats[0] if floats else None,
        len(names),
    )


Chunk = tuple[str | bytes, int]
"""CSV text of whole lines (each ending CRLF), as str or as UTF-8, and how many lines it holds."""

NumberCells = Callable[[str, Sequence[Any]], "list[str] | None"]
"""`number_cells(name, values)`: the REAL column's cells as text, or None when one of them cannot be
written so (the rows then go one by one, and a row whose cell cannot goes the slow path)."""


def csv_lines(
    batches: Iterable[Sequence[Sequence[Any]]],
    plan: LinePlan,
    slow_row: Callable[[int], dict[str, Any]],
    number_cells: NumberCells,
) -> Iterator[Chunk | dict[str, Any]]:
    """The rows of `plan.select_list`, a batch (`fetchmany`) at a time, as CSV text: a `Chunk` of
    lines, or, for a row SQLite could not vouch for, the row as a dict (`slow_row(post id)`) for the
    caller to write as it writes any.

    A batch is checked and joined column by column (each check one C call over the whole batch), so
    Python spends no bytecode per row on the common batch but the free-text quoting; a batch that
    fails a check goes row by row (`_row_items`), which finds the rows to read again.
    """
    by_row = partial(_row_items, plan=plan, slow_row=slow_row, number_cells=number_cells)
    whole = _batch_text if plan.cells > 1 else None  # one column: its empty cell is '""' (row by row)
    for batch in batches:
        made = whole(batch, plan, number_cells) if whole is not None else None
        if made is not None:
            yield made, len(batch)
        else:
            yield from by_row(batch)


_NEEDS_QUOTES = re.compile("[,\n\r]")


def free_cells(cells: Sequence[str]) -> list[str]:
    """`free_cell` of each cell, with one C call over the batch where no cell holds a quote, and
    `free_cell` itself only for the few that start like a formula."""
    together = "\x00".join(cells)  # TypeError for a cell that is not text
    if '"' in together:
        return list(map(free_cell, cells))
    if _NEEDS_QUOTES.search(together):
        made = ['"' + t + '"' if "," in t or "\n" in t or "\r" in t else t for t in cells]
    else:
        made = list(cells)
    for i in compress(range(len(cells)), map(str.startswith, cells, repeat(FORMULA_START))):
        made[i] = free_cell(cells[i])
    return made


# `_SPOTS` for a run's batch once its quotes are gone: a line break starts a row (so its first cell
# follows a comma), and a backslash (what is left of any escape) counts as one comma too, so that a
# cell json_array escaped fails the comma count without a pass of its own.
_BATCH_SPOTS = bytes.maketrans(b"\n\\+-@", b",,===")


def _batch_text(batch: Sequence[Sequence[Any]], plan: LinePlan, number_cells: NumberCells) -> bytes | None:
    """The batch's lines as UTF-8, or None when a check fails (a cell SQLite cannot vouch for, a
    quote or a formula in the free text, a cell that is not text). Joined as bytes: one emoji in a
    text cell would make a joined str four bytes a character, ASCII runs included, to be encoded
    back when written. Each run is checked on its own (its text stays in the CPU caches: all the runs
    of a batch at once measured ~15% slower)."""
    columns: list[Any] = list(zip(*batch, strict=True))
    rows = len(batch)
    for i, commas in zip(plan.checked, plan.run_commas, strict=True):
        try:
            arrays = "\n".join(columns[i])  # JSON arrays never hold a raw line break
        except TypeError:
            return None
        # No quote is left in a cell (it would be escaped): every quote goes, `["a","b"]` is `[a,b]`.
        data = arrays.encode().translate(None, b'"').replace(b"]\n[", b"\n")
        spots = data.translate(_BATCH_SPOTS)
        if spots.count(b",") != rows * (commas + 1) - 1 or b",=" in spots or spots[1:2] == b"=":
            return None
        columns[i] = data[1:-1].split(b"\n")
    for i in plan.free:
        try:
            columns[i] = list(map(str.encode, free_cells(columns[i])))
        except TypeError:  # a cell that is not text (the slow path)
            return None
    if plan.number is not None:
        made = number_cells(plan.number_name, columns[plan.number])
        if made is None:
            return None
        columns[plan.number] = "\n".join(made).encode().split(b"\n")  # numbers: no line break
    return b"\r\n".join(map(b",".join, zip(*columns[: plan.pieces], strict=True))) + b"\r\n"


def _row_items(
    batch: Sequence[Sequence[Any]],
    plan: LinePlan,
    slow_row: Callable[[int], dict[str, Any]],
    number_cells: NumberCells,
) -> Iterator[Chunk | dict[str, Any]]:
    """A batch row by row: each row's line (the lines in a row joined into one `Chunk`), or its dict."""
    commas, last = plan.commas + max(len(plan.checked) - 1, 0), plan.pieces
    convert: list[tuple[int, Callable[[Any], str | None]]] = [(i, free_cell) for i in plan.free]
    if plan.number is not None:
        convert.append((plan.number, partial(_number_cell, number_cells, plan.number_name)))
    waiting: list[str] = []
    for row in batch:
        try:
            pieces = list(row[:last])
            for i in plan.checked:
                if "\\" in pieces[i]:
                    raise TypeError("an escaped cell")
                pieces[i] = pieces[i][2:-2].replace('","', ",")
            spots = ",".join([pieces[i] for i in plan.checked]).encode().translate(_SPOTS)
            if spots.count(b",") == commas and b'"' not in spots and b",=" not in spots and spots[:1] != b"=":
                for i, to in convert:
                    pieces[i] = to(pieces[i])
                waiting.append((",".join(pieces) or '""') + "\r\n")  # one empty cell: quoted, as csv does
                continue
        except (TypeError, AttributeError):  # a cell SQLite could not vouch for, or not text
            pass
        if waiting:
            yield "".join(waiting), len(waiting)
            waiting = []
        yield slow_row(row[last])
    if waiting:
        yield "".join(waiting), len(waiting)


def _number_cell(number_cells: NumberCells, name: str, value: Any) -> str | None:
    cells = number_cells(name, (value,))
    return None if cells is None else cells[0]


def slow_row_sql(names: Sequence[str]) -> str:
    """One post's row as a selection reads it (for `rows.row_decoder`), by id, with one filter's verdict."""
    return (
        f"SELECT {', '.join(column_sql(n) for n in names)} FROM posts LEFT JOIN verdicts "  # noqa: S608 (names from POST_SCHEMA)
        'ON verdicts.post_id = posts.id AND verdicts."filter" = ? WHERE posts.id = ?'
    )
