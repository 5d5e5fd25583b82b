"""Post <-> posts row: lists and raw as JSON text, booleans as 0/1, text safe for SQLite's UTF-8."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

from plnfilter.store.columns import POST_SCHEMA, VERDICT_SCHEMA

if TYPE_CHECKING:
    from plnfilter.post import Post

ROW_COLUMNS: tuple[str, ...] = tuple(name for name in POST_SCHEMA if name != "id")
"""Columns written by `save_page`, in this order."""

OUTPUT_COLUMNS: tuple[str, ...] = (
    "uri",
    "network",
    "created_at",
    "author",
    "author_name",
    "text",
    "url",
    "tags",
    "links",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "score",
    "kept",
    "matched",
    "dropped_by",
    "lang",
    "reply_to",
    "quote_of",
    "reposted_by",
    "has_media",
    "media_alt",
    "sensitive",
    "spoiler",
    "card_url",
    "card_title",
    "source",
    "author_id",
    "author_followers",
    "author_bot",
    "visibility",
    "author_opt_out",
    "first_seen",
    "last_seen",
)
"""Default output columns, in this order; `html` and `raw` only when asked for by `Selection.columns`."""

ALL_COLUMNS: tuple[str, ...] = OUTPUT_COLUMNS + ("html", "raw")
"""Every column a selection may ask for."""

VERDICT_COLUMNS = frozenset({"kept", "score", "matched", "dropped_by"})
"""Output columns read from the chosen filter's row in `verdicts`; the others are the post's facts."""


def column_sql(name: str) -> str:
    """Where an output column lives in a SELECT joining `posts` and the chosen filter's `verdicts`."""
    if name == "raw":
        return RAW_SQL + " AS raw"
    if name == "html":
        return html_sql() + " AS html"
    return f"verdicts.{name}" if name in VERDICT_COLUMNS else f"posts.{name}"


JSON_LIST_COLUMNS = frozenset({"tags", "links", "mentions", "reposted_by", "media_alt", "matched"})
BOOL_COLUMNS = frozenset({"author_bot", "has_media", "sensitive", "kept", "author_opt_out"})

_SURROGATE = "[\ud800-\udfff]"  # compiled by `re` (and cached there) when first met, not at every start
_LIST_FIELDS = ("tags", "links", "mentions", "reposted_by", "media_alt")
# Built once: json.dumps with any non-default option builds a new encoder on every call.
_LIST_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Raw objects come from a JSON parser or an SDK's dicts, so they cannot hold a cycle: skip the check (~15%).
_RAW_ENCODE = json.JSONEncoder(
    ensure_ascii=True, check_circular=False, default=str, separators=(",", ":")
).encode


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_orjson_dumps = orjson.dumps


def clean_text(value: str) -> str:
    """Replace lone UTF-16 surrogates (legal in JSON, not in UTF-8) with U+FFFD; NUL is kept."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return re.sub(_SURROGATE, "\ufffd", value)
    return value


def dump_list(values: Sequence[str]) -> str:
    """A JSON array of strings as stored in the list columns (compact, as SQLite's json functions write)."""
    if not values:
        return "[]"
    if all(v.__class__ is str for v in values):
        try:  # the same text as the json module writes, ~8x faster; lone surrogates are refused
            return _orjson_dumps(values).decode("utf-8")
        except TypeError:
            pass
    return clean_text(_LIST_ENCODE([str(v) for v in values]))


def dump_raw(raw: Mapping[str, Any] | None) -> str:
    """Raw API JSON as compact text; odd SDK types (datetimes) become strings.

    orjson writes it ~10x faster than the json module (a tenth of ingest time); what orjson refuses
    (lone surrogates from hostile JSON, integers past 64 bits, non-string keys) goes through the
    json module, ASCII-escaped so it survives.
    """
    try:
        return _orjson_dumps(raw or {}, default=str, option=_ORJSON_OPTIONS).decode("utf-8")
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return _RAW_ENCODE(raw or {})


def load_list(text: str | None) -> list[str]:
    """The inverse of `dump_list`; a damaged cell reads as an empty list rather than failing a query."""
    if not text or text == "[]":  # most list cells are empty: skip the JSON parser
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


RAW_LEVEL = 1  # ISA-L's level (0-3): with the preset dictionary ~600 bytes a post, as zlib's level 2 writes


def pack_raw(raw: Mapping[str, Any] | None) -> bytes:
    """The raw API object as stored in `post_raw`: UTF-8 JSON (see `dump_raw`), zlib-compressed with
    the preset dictionary of API shapes (`store/raw_dictionary.py`): ~600 bytes a post, not ~900.

    ISA-L (`isal`) writes the zlib stream, read back by plain `zlib` like any other: ~2x faster
    than zlib's own level 1 for the same size, and compressing was the largest single cost of a
    fetched post (~1 of 4.5 CPU-s per 10k posts at zlib level 6).
    """
    from isal import isal_zlib

    from plnfilter.store.raw_dictionary import RAW_DICTIONARY

    packer = isal_zlib.compressobj(RAW_LEVEL, zdict=RAW_DICTIONARY)
    return packer.compress(dump_raw(raw).encode("utf-8", "surrogatepass")) + packer.flush()


def inflate_raw(blob: bytes) -> bytes:
    """A `post_raw` blob's JSON bytes: plain zlib (archives before m011), or zlib with the preset
    dictionary its header names by checksum. zlib.error when damaged or the dictionary is unknown."""
    if len(blob) > 6 and blob[1] & 0x20:  # FDICT: a preset dictionary, its Adler-32 in bytes 2-5
        from plnfilter.store.raw_dictionary import DICTIONARIES

        zdict = DICTIONARIES.get(int.from_bytes(blob[2:6], "big"))
        if zdict is None:
            raise zlib.error("compressed with a dictionary this plnfilter does not know")
        inflater = zlib.decompressobj(zdict=zdict)
        data = inflater.decompress(blob)
        if not inflater.eof:
            raise zlib.error("incomplete compressed data")
        return data
    return zlib.decompress(blob)


def unpack_raw(value: bytes | str | None) -> dict[str, Any]:
    """The inverse of `pack_raw` (text is read as JSON); a damaged blob reads as {}."""
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            value = inflate_raw(bytes(value)).decode("utf-8", "surrogatepass")
        except (zlib.error, UnicodeDecodeError):
            return {}
    return load_raw(value)


RAW_SQL = "(SELECT post_raw.raw FROM post_raw WHERE post_raw.post_id = posts.id)"
"""The stored raw blob of the post in the row (decoded by `decode_row`/`row_decoder`/`unpack_raw`)."""


def load_raw(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


NULL_WHEN_MISSING = (
    "url",
    "author_name",
    "author_id",
    "html",
    "lang",
    "reply_to",
    "quote_of",
    "card_url",
    "card_title",
)
"""Text columns stored as NULL, not '', when a post has no value (`reply_to IS NULL` finds non-replies).
The full-text columns (text, author, tags, spoiler) keep '' so the index is never rewritten for it."""


STAMP_COLUMNS = ("first_seen", "last_seen")
FACT_COLUMNS: tuple[str, ...] = tuple(name for name in ROW_COLUMNS if name not in STAMP_COLUMNS)
"""The columns whose values come from the post alone (`post_facts`), in table order; the stamps say
when it was saved."""


def post_facts(post: Post, *, grams: bool = True) -> tuple[Any, ...]:
    """The values for FACT_COLUMNS; a missing value of NULL_WHEN_MISSING is NULL. `grams=False`:
    no `search_grams` cell (None), for an output row, which never shows it."""
    if grams:
        from plnfilter.store.grams import search_grams  # the save path only: readers never load it
    else:
        search_grams = _no_grams

    return (
        clean_text(post.uri),
        clean_text(post.network),
        clean_text(post.url) or None,
        clean_text(post.author),
        clean_text(post.author_name) or None,
        clean_text(post.author_id) or None,
        1 if post.author_bot else 0,
        int(post.author_followers or 0),
        clean_text(post.created_at),
        clean_text(post.text),
        clean_text(post.html) or None,
        clean_text(post.lang) or None,
        dump_list(post.tags),
        dump_list(post.links),
        dump_list(post.mentions),
        clean_text(post.reply_to) or None,
        clean_text(post.quote_of) or None,
        dump_list(post.reposted_by),
        1 if post.has_media else 0,
        dump_list(post.media_alt),
        1 if post.sensitive else 0,
        clean_text(post.spoiler),
        int(post.likes or 0),
        int(post.reposts or 0),
        int(post.replies or 0),
        int(post.quotes or 0),
        clean_text(post.card_url) or None,
        clean_text(post.card_title) or None,
        clean_text(post.source),
        search_grams(clean_text(post.text), clean_text(post.spoiler), " ".join(post.tags)),
        clean_text(post.visibility or "public"),
        1 if post.author_opt_out else 0,
    )


def _no_grams(*_texts: str | None) -> None:
    return None


def post_to_row(post: Post, now: str, *, grams: bool = True) -> tuple[Any, ...]:
    """The values for ROW_COLUMNS; first_seen and last_seen are both `now` (the upsert keeps first_seen)."""
    values = dict(zip(FACT_COLUMNS, post_facts(post, grams=grams), strict=True))
    values.update(first_seen=now, last_seen=now)
    return tuple(values[name] for name in ROW_COLUMNS)


_HTML_AT = FACT_COLUMNS.index("html")


def stored_form(post: Post) -> tuple[Any, ...]:
    """What the writer stores of a post whenever it is saved: `post_facts`, then its packed raw JSON.
    A fetch thread prepares it (`fetching.prepared`), so the single writer need not.

    `html` is NULL when the raw object holds it as it is (`html_of_raw`: a Mastodon status's
    `content`, ~300 bytes a post, compressed beside the rest of the raw object); readers take it
    from there (`html_sql`)."""
    facts = post_facts(post)
    html = facts[_HTML_AT]
    if html is not None and post.network in html_networks() and html_of_raw(post.raw) == html:
        facts = (*facts[:_HTML_AT], None, *facts[_HTML_AT + 1 :])
    return (*facts, pack_raw(post.raw))


@cache
def html_networks() -> tuple[str, ...]:
    """The networks whose raw objects hold a post's html (their package's `html_in_raw`)."""
    from plnfilter.sources.registry import network, post_networks

    return tuple(name for name in post_networks() if hasattr(network(name), "html_in_raw"))


@cache
def _html_finders() -> tuple[tuple[Callable[[Any], bool], Callable[[Any], Any] | None], ...]:
    """Each post network's `recognises` and `html_in_raw` (None without one), in the registry's order
    (`registry.recognise` asks them in it): looked up once, as a save asks for every post."""
    from plnfilter.sources.registry import network, post_networks

    return tuple(
        (network(name).recognises, getattr(network(name), "html_in_raw", None)) for name in post_networks()
    )


def html_of_raw(raw: Mapping[str, Any] | None) -> str | None:
    """The html the raw API object holds, by the network that recognises it (`registry.recognise`)
    and its `html_in_raw`, as `clean_text` stores text; None when it holds none."""
    for recognises, find in _html_finders():
        if recognises(raw):
            content = find(raw) if find is not None else None
            return (clean_text(content) or None) if isinstance(content, str) else None
    return None


def html_of_blob(blob: bytes) -> str | None:
    """`html_of_raw` of a `post_raw` blob (what `html_sql()` gives for a NULL html). orjson reads the
    JSON (~40% faster); what it refuses (lone surrogates, huge numbers) is read as `unpack_raw` does."""
    try:
        raw = orjson.loads(inflate_raw(blob))
    except (zlib.error, orjson.JSONDecodeError):
        raw = unpack_raw(blob)
    return html_of_raw(raw) if isinstance(raw, dict) else None


@cache
def html_sql() -> str:
    """The post's html: the stored text, or, when it is NULL for a post of one of `html_networks`
    (`stored_form`), its raw blob, which `html_of_blob` reads it from (`decode_row`, `row_decoder`
    and `row_to_post` do)."""
    names = ", ".join(f"'{name}'" for name in html_networks())
    return f"(CASE WHEN posts.html IS NULL AND posts.network IN ({names}) THEN {RAW_SQL} ELSE posts.html END)"


def row_to_post(row: Mapping[str, Any]) -> Post:
    """Rebuild the Post a row was saved from (verdict columns are not part of a Post)."""
    from plnfilter.post import Post

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value)

    def number(name: str) -> int:
        value = row.get(name)
        return int(value) if value is not None else 0

    raw = unpack_raw(row.get("raw"))
    html = row.get("html")
    if isinstance(html, bytes):  # html_sql()'s raw blob
        html = html_of_blob(html)
    elif html is None and "raw" in row and row.get("network") in html_networks():
        html = html_of_raw(raw)  # the raw object holds it (`stored_form`); scans without raw leave it ''

    return Post(
        uri=text("uri"),
        network=text("network"),
        url=text("url"),
        author=text("author"),
        author_name=text("author_name"),
        author_id=text("author_id"),
        author_bot=bool(row.get("author_bot")),
        author_followers=number("author_followers"),
        created_at=text("created_at"),
        text=text("text"),
        html="" if html is None else str(html),
        lang=text("lang"),
        tags=tuple(load_list(row.get("tags"))),
        links=tuple(load_list(row.get("links"))),
        mentions=tuple(load_list(row.get("mentions"))),
        reply_to=text("reply_to"),
        quote_of=text("quote_of"),
        reposted_by=tuple(load_list(row.get("reposted_by"))),
        has_media=bool(row.get("has_media")),
        media_alt=tuple(load_list(row.get("media_alt"))),
        sensitive=bool(row.get("sensitive")),
        spoiler=text("spoiler"),
        likes=number("likes"),
        reposts=number("reposts"),
        replies=number("replies"),
        quotes=number("quotes"),
        card_url=text("card_url"),
        card_title=text("card_title"),
        source=text("source"),
        visibility=text("visibility") or "public",
        author_opt_out=bool(row.get("author_opt_out")),
        raw=raw,
    )


def decode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A posts row for output: JSON list columns as lists, booleans as bools, raw as a dict."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in JSON_LIST_COLUMNS and (value is None or isinstance(value, str)):
            out[name] = load_list(value)
        elif name in BOOL_COLUMNS and isinstance(value, int):
            out[name] = bool(value)
        elif name == "raw" and isinstance(value, str | bytes):
            out[name] = unpack_raw(value)
        elif name == "html" and isinstance(value, bytes):  # html_sql()'s raw blob
            out[name] = html_of_blob(value)
        else:
            out[name] = value
    return out


def row_decoder(names: Sequence[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """`decode_row(dict(zip(names, row)))` for every row of one cursor, deciding per column only once."""
    unique = tuple(dict.fromkeys(names))
    lists = tuple(name for name in unique if name in JSON_LIST_COLUMNS)
    bools = tuple(name for name in unique if name in BOOL_COLUMNS)
    raw = "raw" in unique
    html = "html" in unique

    def decode(row: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(names, row, strict=True))
        for name in lists:
            value = out[name]
            if value is None or isinstance(value, str):
                out[name] = load_list(value)
        for name in bools:
            value = out[name]
            if isinstance(value, int):
                out[name] = bool(value)
        if raw and isinstance(out["raw"], str | bytes):
            out["raw"] = unpack_raw(out["raw"])
        if html and isinstance(out["html"], bytes):  # html_sql()'s raw blob
            out["html"] = html_of_blob(out["html"])
        return out

    return decode


_FLOAT_COLUMNS = frozenset(
    name for name, kind in (*POST_SCHEMA.items(), *VERDICT_SCHEMA.items()) if kind is float
)
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def _list_sql(column: str) -> str:
    """A stored list as embedded JSON; a damaged or non-array cell becomes [] (as `load_list` reads it)."""
    return (
        f"CASE WHEN json_valid({column}) THEN CASE json_type({column}) WHEN 'array' THEN json({column}) "
        "ELSE json_array() END ELSE json_array() END"
    )


def _check_sql_columns(names: Sequence[str], form: str) -> None:
    """Names spliced into SQL must be archive columns; `raw` is stored ASCII-escaped and `html` often
    inside it (`html_sql`), so they have no ready-made form."""
    unknown = [
        n for n in names if (n not in POST_SCHEMA and n not in VERDICT_COLUMNS) or n in ("raw", "html")
    ]
    if unknown:
        raise ValueError(f"no {form} form for column {unknown[0]!r}")


def _bool_sql(column: str) -> str:
    """0/1 as false/true; anything else (NULL) as it is, as `decode_row` leaves it."""
    return (
        f"CASE typeof({column}) WHEN 'integer' THEN json(CASE WHEN {column} THEN 'true' ELSE 'false' END) "
        f"ELSE {column} END"
    )


def _number_json(value: Any) -> str:
    """A REAL as Python's json writes it (shortest repr), which SQLite's %.15g would not."""
    if value.__class__ is float and value - value == 0.0:
        return repr(value)
    return _JSON_TEXT(value)


def json_object_sql(names: Sequence[str]) -> tuple[str, Callable[[Sequence[Any]], str]]:
    """A SELECT list making SQLite write each row as compact JSON, and the function finishing each line.

    The line equals the compact JSON of `decode_row` of the same row (lists and booleans decoded, U+2028
    and U+2029 escaped), without building a dict: SQLite's json_object does the work in C. REAL columns
    are left to Python so floats keep their shortest form. `raw` is not supported (stored ASCII-escaped).
    `names` must come from POST_SCHEMA (they are spliced into SQL).
    """
    _check_sql_columns(names, "JSON")
    selects: list[str] = []
    keys: list[str | None] = []  # None: a json_object segment; else the '"name":' prefix of a REAL column
    run: list[str] = []

    def close_run() -> None:
        if run:
            selects.append(f"json_object({', '.join(run)})")
            keys.append(None)
            run.clear()

    for name in names:
        column = column_sql(name)
        if name in _FLOAT_COLUMNS:
            close_run()
            selects.append(column)
            keys.append(_JSON_TEXT(name) + ":")
        elif name in JSON_LIST_COLUMNS:
            run.append(f"'{name}', {_list_sql(column)}")
        elif name in BOOL_COLUMNS:
            run.append(f"'{name}', {_bool_sql(column)}")
        else:
            run.append(f"'{name}', {column}")
    close_run()
    plan = tuple(keys)

    def assemble(row: Sequence[Any]) -> str:
        if len(plan) == 1 and plan[0] is None:
            line = row[0]
        else:
            parts = []
            for key, value in zip(plan, row, strict=True):
                part = value[1:-1] if key is None else key + _number_json(value)
                if part:
                    parts.append(part)
            line = "{" + ",".join(parts) + "}"
        if "\u2028" in line or "\u2029" in line:
            line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return line

    return ", ".join(selects), assemble


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (`export.to_csv.cell`)."""


def judged_row(item: Any, now: str = "") -> dict[str, Any]:
    """A judged Post as an output row (OUTPUT_COLUMNS), without touching the archive (`plnfilter filter`)."""
    # OUTPUT_COLUMNS leave out `search_grams`: not worked out (nor its module loaded) for output rows.
    # The values `post_to_row` gives, by name, without its tuple (`top` writes 50 of these a run).
    values = dict(zip(FACT_COLUMNS, post_facts(item.post, grams=False), strict=True))
    values["first_seen"] = values["last_seen"] = now
    values.update(
        kept=1 if item.kept else 0,
        score=float(item.score),
        matched=dump_list(item.matched),
        dropped_by=clean_text(getattr(item, "dropped_by", "") or "") or None,
    )
    return _output_decoder()(tuple(values[name] for name in OUTPUT_COLUMNS))


@cache
def _output_decoder() -> Callable[[Sequence[Any]], dict[str, Any]]:
    """`decode_row` for OUTPUT_COLUMNS, its per-column choices made once."""
    return row_decoder(OUTPUT_COLUMNS)
