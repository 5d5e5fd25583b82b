"""JSON (one array, written row by row so memory stays flat) and JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from plnfilter.store.rows import clean_text

# Compact, as SQLite's json_object writes the lines `query.Rows.json_lines` hands over.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode


def _dumps(row: Mapping[str, Any]) -> str:
    """UTF-8 JSON; U+2028/U+2029 escaped so line-splitting tools see one record per line."""
    text = clean_text(_ENCODE(row))
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def write_json(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """A valid JSON array even for zero rows, never holding more than one row in memory."""
    count = 0
    out.write("[")
    for row in rows:
        out.write("\n" if count == 0 else ",\n")
        out.write(_dumps(row))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_jsonl(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """One JSON object per line; rows that can give their lines ready-made (`query.Rows`) skip the dicts."""
    count = 0
    write = out.write  # looked up once: click's stdout wrapper resolves attributes through __getattr__
    ready = getattr(rows, "json_lines", None)
    lines = ready() if ready is not None else None
    if lines is not None:
        for line in lines:
            write(line + "\n")
            count += 1
        return count
    for row in rows:
        write(_dumps(row) + "\n")
        count += 1
    return count
