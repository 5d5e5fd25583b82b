"""CSV (RFC 4180, UTF-8) that is safe to open in a spreadsheet: formula-like cells are neutralised."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any, TextIO

from plnfilter.store.rows import clean_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One value as CSV text: lists space-joined, booleans true/false, text starting like a formula quoted.

    Spreadsheets run cells beginning with = + - @ (OWASP "CSV injection"); a leading `'` makes them text.
    Numbers are left alone so negative scores stay numbers.
    """
    if value.__class__ is str:  # most cells: skip the type checks below
        text = value if value.isascii() else clean_text(value)
        return "'" + text if text.startswith(_FORMULA_START) else text
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
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    out: TextIO,
    columns: Sequence[str] | None = None,
    bom: bool = False,
) -> int:
    """Header then one line per row (CRLF endings); columns default to the first row's keys."""
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


def _header_and_cells(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None
) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
    """The column names and each row's cells: computed by SQLite when `rows` can (`query.Rows`),
    else from the dicts, the names defaulting to the first row's keys."""
    from plnfilter.query import OUTPUT_COLUMNS

    ready = getattr(rows, "csv_cells", None)
    if ready is not None and (columns is None or tuple(columns) == tuple(rows.columns)):
        cells = ready()
        if cells is not None:
            return rows.columns, cells
    iterator = iter(rows)
    first = next(iterator, None)
    names = list(columns) if columns else (list(first) if first is not None else list(OUTPUT_COLUMNS))
    if first is None:
        return names, ()
    return names, (list(map(cell, map(row.get, names))) for row in chain((first,), iterator))
