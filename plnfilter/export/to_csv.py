"""CSV (RFC 4180, UTF-8) that is safe to open in a spreadsheet: formula-like cells are neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat
from typing import Any, TextIO

from plnfilter.store.rows import FORMULA_START, clean_text

SCORE_DECIMALS = 3
"""Scores are for people reading a spreadsheet: 1.099, not 1.098946347084404 (JSON keeps them whole)."""


def cell(value: Any) -> str:
    """One value as CSV text: lists space-joined, booleans true/false, text starting like a formula quoted.

    Spreadsheets run cells beginning with = + - @ (OWASP "CSV injection"); a leading `'` makes them text.
    Numbers are left alone so negative scores stay numbers.
    """
    if value.__class__ is str:  # most cells: skip the type checks below
        text = value if value.isascii() else clean_text(value)
        return "'" + text if text.startswith(FORMULA_START) else text
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        text = " ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    text = clean_text(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    out: TextIO,
    columns: Sequence[str] | None = None,
    bom: bool = False,
) -> int:
    """Header then one line per row (CRLF endings); columns default to the first row's keys."""
    ready = getattr(rows, "csv_lines", None)
    if ready is not None and (columns is None or tuple(columns) == tuple(rows.columns)):
        made = ready(_number_cells)
        if made is not None:
            return _write_lines(rows.columns, made, out, bom)
    names, lines = _header_and_cells(rows, columns)
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    count = 0
    writerow = writer.writerow
    for values in lines:
        writerow(values)
        count += 1
    return count


def _write_lines(names: Sequence[str], lines: Iterable[Any], out: TextIO, bom: bool) -> int:
    """Text SQLite made (`query.Rows.csv_lines`): chunks of whole lines, each written as it comes (a
    thousand lines a write); a row it could not vouch for comes as its dict and is written as any
    dict is."""
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    convert = [_score_cell if is_score(name) else cell for name in names]
    count = 0
    raw = _utf8_buffer(out)
    pending = True  # the header (and BOM) still in `out`'s own buffer
    for item in lines:
        if item.__class__ is tuple:
            text, made = item
            if text.__class__ is str:
                out.write(text)
                pending = True
            elif raw is None:
                out.write(text.decode("utf-8"))
            else:
                if pending:  # what went through the text layer first, in order
                    out.flush()
                    pending = False
                raw.write(text)
            count += made
            continue
        writer.writerow([to(item.get(name)) for to, name in zip(convert, names, strict=True)])
        pending = True
        count += 1
    return count


def _utf8_buffer(out: TextIO) -> Any:
    """The binary stream under a UTF-8 `io.TextIOWrapper`, for UTF-8 written as it is; None for any
    other stream (a StringIO, another encoding: the text is decoded and written as text). CSV streams
    translate no newline (`write` says so), so the bytes are what the text would have become."""
    if not isinstance(out, io.TextIOWrapper):
        return None
    if out.encoding.lower().replace("-", "").replace("_", "") != "utf8":
        return None
    return out.buffer


def _number_cell(name: str, value: Any) -> str | None:
    """A REAL cell as `cell` writes it (scores rounded); None for anything but a float or NULL."""
    if value is None:
        return ""
    if value.__class__ is float:
        return repr(round(value, SCORE_DECIMALS) if is_score(name) else value)
    return None


def _number_cells(name: str, values: Sequence[Any]) -> list[str] | None:
    """`_number_cell` of each value; None as soon as one has none. A column of floats only (the
    common one) is rounded and written by `map`, without a Python call per cell."""
    kinds = set(map(type, values))
    if kinds <= {float}:
        rounded = map(round, values, repeat(SCORE_DECIMALS)) if is_score(name) else values
        return list(map(repr, rounded))
    cells = [_number_cell(name, value) for value in values]
    return None if None in cells else cells


def is_score(column: str) -> bool:
    return column == "score" or column.endswith("_score")


def rounded_score(value: Any) -> Any:
    """A float score to SCORE_DECIMALS places; anything else (text from --sql, None) as it is."""
    return round(value, SCORE_DECIMALS) if value.__class__ is float else value


def _header_and_cells(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None
) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
    """The column names and each row's cells from the dicts, the names defaulting to the first row's keys."""
    from plnfilter.query import OUTPUT_COLUMNS

    iterator = iter(rows)
    first = next(iterator, None)
    names = list(columns) if columns else (list(first) if first is not None else list(OUTPUT_COLUMNS))
    if first is None:
        return names, ()
    rows = chain((first,), iterator)
    if not any(map(is_score, names)):
        return names, (list(map(cell, map(row.get, names))) for row in rows)
    convert = [_score_cell if is_score(name) else cell for name in names]
    return names, ([to(row.get(name)) for to, name in zip(convert, names, strict=True)] for row in rows)


def _score_cell(value: Any) -> str:
    return cell(rounded_score(value))
