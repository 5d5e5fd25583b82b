"""A feed document (bytes as served) to its title and items: RSS 0.9x/2.0, RSS 1.0 and Atom 1.0 with
feedparser, JSON Feed 1.x directly (feedparser does not read it). Each item becomes a plain dict
(`normalize.to_post` reads it; it is what the archive keeps as `raw`).

Hostile documents are refused before any parser sees them: an HTML page served where the feed was,
a DOCTYPE declaring entities (billion laughs), bytes that are not in the charset the document names.
Anything feedparser can only read by guessing (invalid XML) is refused too: one clear line, exit 3.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from plnfilter.errors import SourceError
from plnfilter.times import normalise_iso

_HTML_START = re.compile(rb"^\s*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I)
_ENTITY = re.compile(rb"<!ENTITY", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_TEXT_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*\bencoding\s*=\s*["'])[A-Za-z0-9._-]+(["'])""")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.I)
_FEED_ROOTS = (b"<rss", b"<feed", b"<rdf:RDF", b"<RDF")
_JSON_FEED = "https://jsonfeed.org/version/1"


@dataclass
class FeedDoc:
    """A parsed feed: its title and site link, and its items as plain dicts."""

    title: str = ""
    link: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    kind: str = ""  # rss20, atom10, rss10, json1... as the parser names it
    problems: list[str] = field(default_factory=list)  # what was read leniently, for the run report


def parse_document(body: bytes, content_type: str, url: str, source: str) -> FeedDoc:
    """The feed in `body`; SourceError (one line, with a fix) for anything that is not a readable feed."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    head = body[:2048]
    stripped = head.lstrip()
    if not stripped:
        raise SourceError(
            source, f"{url} sent an empty document", "check the feed's address; the next run tries again"
        )
    if "json" in content_type.lower() or stripped[:1] in (b"{", b"["):
        return parse_json_feed(body, url, source)
    if _HTML_START.match(head) or (
        "text/html" in content_type.lower() and not any(root in head for root in _FEED_ROOTS)
    ):
        raise SourceError(
            source,
            f"{url} sent a web page, not a feed (an error, login or moved page?)",
            "open the address in a browser; the site's feed is often at /feed, /rss or /atom.xml",
        )
    document = as_utf8(body, content_type, url, source)
    roots = [found for root in _FEED_ROOTS if (found := document.find(root)) >= 0]
    if _ENTITY.search(document, 0, min(roots, default=len(document))):  # in the prolog, before the feed
        raise SourceError(
            source,
            f"{url} declares its own XML entities, which feeds never need (an entity-expansion attack?)",
            "plnfilter does not read it; tell the site's owner if the feed is theirs",
        )
    return _parse_xml(document, url, source)


def as_utf8(body: bytes, content_type: str, url: str, source: str) -> bytes:
    """The XML document re-encoded as UTF-8 (its declaration saying so), so feedparser never guesses.

    The charset is the one the document declares (BOM, then `<?xml encoding=...?>`), else the HTTP
    header's, else UTF-8; where the two disagree, the first that decodes the bytes wins (servers
    often send `text/xml` or a stale charset). Bytes that decode in neither are a broken feed.
    """
    declared = _XML_ENCODING.match(body[:2048])
    header = _HEADER_CHARSET.search(content_type)
    candidates = [
        name
        for name in (
            "utf-16" if body[:2] in (b"\xff\xfe", b"\xfe\xff") else "",
            declared.group(1).decode("ascii") if declared else "",
            header.group(1) if header else "",
        )
        if name
    ] or ["utf-8"]
    failure: tuple[str, UnicodeDecodeError] | None = None
    for name in dict.fromkeys(candidate.lower() for candidate in candidates):
        try:
            text = body.decode(name)
        except LookupError:
            continue
        except UnicodeDecodeError as exc:
            failure = failure or (name, exc)
            continue
        text = _TEXT_ENCODING.sub(r"\1utf-8\2", text.lstrip("\ufeff"), count=1)
        return text.encode("utf-8", "surrogatepass")
    if failure is None:
        raise SourceError(
            source,
            f"{url} names a charset Python does not know ({', '.join(candidates)})",
            "tell the site's owner; the feed needs fixing",
        )
    name, exc = failure
    said = (
        f"says it is {name.upper()} but is not" if declared or header else "is not UTF-8 and names no charset"
    )
    raise SourceError(
        source,
        f"{url} {said} (byte 0x{body[exc.start]:02x} at offset {exc.start})",
        "the site's feed is broken; tell its owner (the next run tries again)",
    )


def _parse_xml(body: bytes, url: str, source: str) -> FeedDoc:
    import feedparser

    try:
        parsed = feedparser.parse(
            body,
            response_headers={"content-type": "application/xml; charset=utf-8", "content-location": url},
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # noqa: BLE001 - attacker-written input must end in one line, not a traceback
        raise SourceError(
            source,
            f"{url} could not be read as a feed ({type(exc).__name__})",
            "the site's feed is broken; tell its owner (the next run tries again)",
        ) from None
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    lenient = ""
    if problem is not None and _only_html_entities(problem) and parsed.get("entries"):
        # `&nbsp;`, `&eacute;`...: not XML, but every feed reader shows such feeds, and so does
        # feedparser's lenient parser; the run report notes it.
        lenient = f"read leniently: HTML entities that XML does not define (line {problem.getLineNumber()})"
        problem = None
    if problem is not None:
        if isinstance(problem, feedparser.CharacterEncodingOverride | feedparser.CharacterEncodingUnknown):
            raise SourceError(
                source, f"{url} is not in the charset it says it is ({problem})", "tell the site's owner"
            )
        where = ""
        get_line = getattr(problem, "getLineNumber", None)
        if callable(get_line):
            where = f" at line {get_line()}"
        reason = getattr(problem, "getMessage", lambda: str(problem))()
        raise SourceError(
            source,
            f"{url} is not well-formed XML{where}: {reason}",
            "the site's feed is broken; tell its owner (the next run tries again)",
        )
    version = parsed.get("version") or ""
    if not version:
        raise SourceError(
            source,
            f"{url} is not an RSS, Atom or JSON feed",
            "check the address; the site's feed is often at /feed",
        )
    feed = parsed.get("feed") or {}
    doc = FeedDoc(str(feed.get("title") or ""), str(feed.get("link") or ""), kind=version)
    if lenient:
        doc.problems.append(lenient)
    for entry in parsed.get("entries") or ():
        doc.items.append(_xml_item(entry))
    return doc


def _only_html_entities(problem: Exception) -> bool:
    get_message = getattr(problem, "getMessage", None)
    return callable(get_message) and get_message() == "undefined entity"


def _utc(parsed_time: Any) -> str:
    """feedparser's UTC struct_time as our ISO form; '' when absent."""
    if not parsed_time:
        return ""
    try:
        return normalise_iso(datetime.fromtimestamp(calendar.timegm(parsed_time), UTC).isoformat())
    except (OverflowError, ValueError, TypeError, OSError):
        return ""


def _xml_item(entry: Any) -> dict[str, Any]:
    content = entry.get("content") or []
    html = next((part.get("value") or "" for part in content if "html" in (part.get("type") or "")), "")
    html = html or (content[0].get("value") if content else "") or entry.get("summary") or ""
    summary = entry.get("summary") or ""
    authors = [
        str(a.get("name")) for a in entry.get("authors") or () if isinstance(a, dict) and a.get("name")
    ]
    if not authors and entry.get("author"):
        authors = [str(entry["author"])]
    enclosures = [
        {
            "url": str(link.get("href")),
            "type": str(link.get("type") or ""),
            "length": str(link.get("length") or ""),
        }
        for link in entry.get("enclosures") or ()
        if link.get("href")
    ]
    return {
        "id": str(entry.get("id") or ""),
        "title": str(entry.get("title") or ""),
        "link": str(entry.get("link") or ""),
        "html": str(html),
        "summary": str(summary) if summary != html else "",
        "authors": authors,
        "tags": [str(tag.get("term")) for tag in entry.get("tags") or () if tag.get("term")],
        "enclosures": enclosures,
        "comments": str(entry.get("comments") or ""),
        "published": _utc(entry.get("published_parsed")),
        "updated": _utc(entry.get("updated_parsed")),
        "lang": str((entry.get("title_detail") or {}).get("language") or ""),
    }


def parse_json_feed(body: bytes, url: str, source: str) -> FeedDoc:
    """JSON Feed 1.0/1.1 (https://www.jsonfeed.org/version/1.1/)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise SourceError(
            source, f"{url} is not valid JSON ({exc})", "the site's feed is broken; tell its owner"
        ) from None
    if not isinstance(data, dict) or not str(data.get("version") or "").startswith(_JSON_FEED):
        raise SourceError(
            source, f"{url} is JSON but not a JSON Feed (no jsonfeed.org version)", "check the feed's address"
        )
    items = data.get("items")
    if not isinstance(items, list):
        raise SourceError(source, f"{url} is a JSON Feed without an items list", "the site's feed is broken")
    feed_authors = _json_authors(data)
    doc = FeedDoc(
        _text(data.get("title")),
        _text(data.get("home_page_url")),
        kind="json" + str(data["version"])[-3:].lstrip("/"),
    )
    for item in items:
        if not isinstance(item, dict):
            continue
        attachments = [
            a for a in item.get("attachments") or () if isinstance(a, dict) and isinstance(a.get("url"), str)
        ]
        doc.items.append(
            {
                "id": _text(item.get("id")),
                "title": _text(item.get("title")),
                "link": _text(item.get("url")) or _text(item.get("external_url")),
                "html": _text(item.get("content_html")),
                "text": _text(item.get("content_text")),
                "summary": _text(item.get("summary")),
                "authors": _json_authors(item) or feed_authors,
                "tags": [_text(tag) for tag in item.get("tags") or () if isinstance(tag, str | int)],
                "enclosures": [
                    {
                        "url": a["url"],
                        "type": _text(a.get("mime_type")),
                        "length": _text(a.get("size_in_bytes")),
                        "title": _text(a.get("title")),
                    }
                    for a in attachments
                ],
                "image": _text(item.get("image")),
                "published": normalise_iso(_text(item.get("date_published")))
                if item.get("date_published")
                else "",
                "updated": normalise_iso(_text(item.get("date_modified")))
                if item.get("date_modified")
                else "",
                "lang": _text(item.get("language")) or _text(data.get("language")),
            }
        )
    return doc


def _json_authors(obj: dict) -> list[str]:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return [_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)
