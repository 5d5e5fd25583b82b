"""An Atom 1.0 feed (RFC 4287) of posts, for feed readers; every value XML-escaped."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from plnfilter.export.to_markdown import voice_label
from plnfilter.store.rows import clean_text
from plnfilter.times import normalise_iso, now_utc, to_iso

ATOM_NS = "http://www.w3.org/2005/Atom"
TAG_AUTHORITY = "tag:plnfilter,2024:"
GROUP_SCHEME = TAG_AUTHORITY + "group"
VOICE_SCHEME = TAG_AUTHORITY + "voice"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")
TITLE_LENGTH = 80


def xml_text(value: Any) -> str:
    """Escaped character data with characters XML 1.0 forbids (NUL, most controls) removed."""
    return escape(_NOT_XML.sub("", clean_text(str(value or ""))))


def xml_attr(value: Any) -> str:
    return quoteattr(_NOT_XML.sub("", clean_text(str(value or ""))))


def entry_id(uri: str) -> str:
    """The post uri when it is a usable IRI (https:, at:, tag:), else a tag: IRI derived from it."""
    uri = clean_text(uri)
    if _IRI.match(uri) and not _NOT_XML.search(uri):
        return uri
    return TAG_AUTHORITY + "post:" + quote(uri, safe="")


def feed_id(archive_id: str, feed: str) -> str:
    """A feed id stable for one archive and one feed (`feed` names the filter or selection) and
    unique to them: a name-based UUID (RFC 4122 v5) under the archive's own random UUID, so two
    archives never share an id and no title change alters it."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.UUID(archive_id), feed))


def usable_self_url(url: str) -> bool:
    """A feed's own address must be an absolute http(s) IRI to be a `rel="self"` link and an id."""
    url = clean_text(url)
    return (
        bool(_IRI.match(url)) and url.lower().startswith(("http://", "https://")) and not _NOT_XML.search(url)
    )


def entry_title(row: Mapping[str, Any]) -> str:
    """The content warning if there is one, else the first ~80 characters of the text on one line."""
    text = " ".join(str(row.get("spoiler") or "").split()) or " ".join(str(row.get("text") or "").split())
    if not text:
        return f"Post by {row.get('author') or 'unknown'}"
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH].rsplit(" ", 1)[0] or text[:TITLE_LENGTH]
    return cut.rstrip() + "…"


def _entry(row: Mapping[str, Any], fallback: str) -> str:
    created = normalise_iso(str(row.get("created_at") or ""))
    updated = created or normalise_iso(str(row.get("first_seen") or "")) or fallback
    author = str(row.get("author_name") or "") or str(row.get("author") or "") or "unknown"
    parts = [
        "<entry>",
        f"<id>{xml_text(entry_id(str(row.get('uri') or '')))}</id>",
        f'<title type="text">{xml_text(entry_title(row))}</title>',
        f"<updated>{updated}</updated>",
    ]
    if created:
        parts.append(f"<published>{created}</published>")
    author_parts = [f"<name>{xml_text(author)}</name>"]
    author_id = str(row.get("author_id") or "")
    if author_id.lower().startswith(("http://", "https://")) and _IRI.match(author_id):
        author_parts.append(f"<uri>{xml_text(author_id)}</uri>")
    parts.append("<author>" + "".join(author_parts) + "</author>")
    url = str(row.get("url") or "")
    if url.lower().startswith(("http://", "https://")) and _IRI.match(url):
        parts.append(f'<link rel="alternate" type="text/html" href={xml_attr(url)}/>')
    if row.get("group"):  # `top --by rule|tag`: readers that sort by category show the digest's groups
        parts.append(f"<category term={xml_attr(row['group'])} scheme={xml_attr(GROUP_SCHEME)}/>")
    voice = voice_label(row)
    if voice:  # the author's `voices:` group: a category readers can filter on, and words in the text
        term = xml_attr(row["voice_group"])
        parts.append(f"<category term={term} scheme={xml_attr(VOICE_SCHEME)} label={xml_attr(voice)}/>")
    for tag in row.get("tags") or ():
        parts.append(f"<category term={xml_attr(tag)}/>")
    text = str(row.get("text") or "")
    spoiler = str(row.get("spoiler") or "")
    content = f"CW: {spoiler}\n\n{text}" if spoiler else text
    content = f"[{voice}]\n\n{content}" if voice else content
    parts.append(f'<content type="text">{xml_text(content)}</content>')
    parts.append("</entry>\n")
    return "".join(parts)


def write_atom(
    rows: Iterable[Mapping[str, Any]],
    out: TextIO,
    title: str = "plnfilter digest",
    feed_id: str | None = None,
    updated: datetime | str | None = None,
    self_url: str | None = None,
) -> int:
    """Feed metadata first (updated = export time unless given), then one entry per row."""
    stamp = updated if isinstance(updated, str) else to_iso(updated or now_utc())
    feed_id = feed_id or TAG_AUTHORITY + "feed:" + quote(clean_text(title), safe="")
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    out.write(f'<feed xmlns="{ATOM_NS}">\n')
    out.write(f"<id>{xml_text(feed_id)}</id>\n")
    out.write(f'<title type="text">{xml_text(title)}</title>\n')
    out.write(f"<updated>{xml_text(stamp)}</updated>\n")
    out.write('<generator uri="https://pypi.org/project/plnfilter/">plnfilter</generator>\n')
    if self_url:
        out.write(f'<link rel="self" type="application/atom+xml" href={xml_attr(self_url)}/>\n')
    count = 0
    for row in rows:
        out.write(_entry(row, stamp))
        count += 1
    out.write("</feed>\n")
    return count
