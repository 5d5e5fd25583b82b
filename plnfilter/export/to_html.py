"""One self-contained HTML page (inline CSS, no scripts), every piece of post content escaped or sanitised."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from plnfilter.export.to_markdown import counted, display_time, instance_of, reason_of, voice_label
from plnfilter.links import without_tracking
from plnfilter.store.rows import clean_text
from plnfilter.times import now_utc, to_iso

if TYPE_CHECKING:
    from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ALLOWED_TAGS = {"a", "p", "br", "span"}
ALLOWED_CLASSES = {"span": {"invisible", "ellipsis", "h-card"}}
LINK_REL = "noopener nofollow"
_TRAILING = ".,;:!?)]}'\"»”’"
_SPACES = re.compile(r"(\s+)")
# A web address as people write one: a host, then no quote, angle bracket or other character a URL
# never holds unescaped (RFC 3986); plain text is made a link only when the whole word is one.
_WEB_URL = re.compile(r"https?://[a-z0-9.\-]+(?::\d+)?(?:[/?#][^\s<>\"'`{}|\\^]*)?", re.I)


def _href(element: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: a link's target is an absolute http(s) URL without tracking parameters."""
    if attribute != "href":
        return value
    link = _http(value)
    return without_tracking(link) if link else None


def sanitise_html(html: str) -> str:
    """Mastodon's HTML reduced to text, paragraphs and http(s) links (rel=noopener nofollow), tracking
    parameters taken out of every link."""
    import nh3

    return nh3.clean(
        clean_text(html),
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        attribute_filter=_href,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes={"http", "https"},
        link_rel=LINK_REL,
        strip_comments=True,
    )


def _http(url: Any) -> str:
    """Only http(s) URLs become links or image sources; anything else is dropped."""
    text = clean_text(str(url or "")).strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


def _bare(url: str) -> str:
    return url.split("://", 1)[-1].removeprefix("www.").lower()


def _target(word: str, links: list[str]) -> str:
    """The link a word of plain text stands for: a whole http(s) URL, or the shortened form Bluesky
    shows for one of the post's links (`example.org/long-pa...`)."""
    if _http(word):
        if not _WEB_URL.fullmatch(word):
            return ""
        for link in links:
            if _bare(link).rstrip("/") == _bare(word).rstrip("/"):
                return link
        return word
    shown = _bare(word).rstrip("…").removesuffix("...")
    if len(shown) < 4 or "." not in shown.split("/", 1)[0]:
        return ""
    for link in links:
        bare = _bare(link)
        if bare.rstrip("/") == shown.rstrip("/") or (shown != _bare(word) and bare.startswith(shown)):
            return link
    return ""


def linked_text(text: str, links: Any) -> tuple[Markup, list[str]]:
    """Plain post text as HTML: escaped, line breaks kept, its URLs (and Bluesky's shortened ones)
    made links; returns it with the post's links the text does not show, to list under it."""
    from markupsafe import Markup, escape

    known = [_http(link) for link in links or () if _WEB_URL.fullmatch(_http(link))]
    used: set[str] = set()
    pieces: list[str] = []
    for piece in _SPACES.split(text):
        word = piece.rstrip(_TRAILING)
        for mark in ("...", "…"):  # Bluesky's shortened links end in one; a sentence's end does not
            if piece[len(word) :].startswith(mark):
                word += mark
        target = _target(word, known) if word and not piece.isspace() else ""
        href = without_tracking(target) if target else ""
        if href:
            used.add(target)
            pieces.append(
                f'<a href="{escape(href)}" rel="{LINK_REL}">{escape(word)}</a>{escape(piece[len(word) :])}'
            )
        else:
            pieces.append(str(escape(piece)))
    html = "".join(pieces).replace("\n", "<br>\n")
    return Markup(html), [without_tracking(link) for link in known if link not in used]


def media_images(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(image URL, alt) pairs found in the raw API object (Mastodon attachments, Bluesky image embeds)."""
    raw = row.get("raw")
    if not isinstance(raw, dict):
        return []
    found: list[tuple[str, str]] = []
    for media in raw.get("media_attachments") or ():
        if isinstance(media, dict) and media.get("type") in ("image", "gifv", None):
            found.append(
                (_http(media.get("preview_url") or media.get("url")), str(media.get("description") or ""))
            )
    post = raw.get("post") if isinstance(raw.get("post"), dict) else raw
    embed = post.get("embed") if isinstance(post, dict) else None
    if isinstance(embed, dict):
        images = embed.get("images") or (embed.get("media") or {}).get("images") or ()
        for image in images:
            if isinstance(image, dict):
                found.append(
                    (_http(image.get("thumb") or image.get("fullsize")), str(image.get("alt") or ""))
                )
    return [(src, alt) for src, alt in found if src]


def _view(row: Mapping[str, Any], show_html: bool, images: bool) -> dict[str, Any]:
    html = str(row.get("html") or "")
    text = clean_text(str(row.get("text") or "")).replace("\x00", "")
    body, extra_links = linked_text(text, row.get("links")) if not (show_html and html) else ("", [])
    voice = voice_label(row)
    return {
        "author": clean_text(str(row.get("author") or "")),
        "author_name": clean_text(str(row.get("author_name") or "")),
        "when": display_time(row.get("created_at")),
        "created_at": str(row.get("created_at") or ""),
        "url": _http(row.get("url")),
        "spoiler": clean_text(str(row.get("spoiler") or "")),
        "text": text,
        "body": body,
        "links": extra_links,
        "html": sanitise_html(html) if show_html and html else "",
        "instance": instance_of(row),
        "why": reason_of(row),
        "voice": voice,
        "voice_group": str(row["voice_group"]) if voice else "",  # a known group: safe in a class name
        "tags": [clean_text(str(t)) for t in row.get("tags") or ()],
        "alts": [clean_text(str(a)) for a in row.get("media_alt") or () if a],
        "images": media_images(row) if images else [],
        "likes": row.get("likes") or 0,
        "reposts": row.get("reposts") or 0,
        "replies": row.get("replies") or 0,
        "score": row.get("score"),
        "network": str(row.get("network") or ""),
        "group": clean_text(str(row.get("group") or "")),
        "reposted_by": [clean_text(str(who)) for who in row.get("reposted_by") or () if who],
    }


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["counted"] = counted
    env.filters["shorter"] = lambda url: url.split("://", 1)[-1].removeprefix("www.")[:60]
    return env


def write_html(
    rows: Iterable[Mapping[str, Any]],
    out: TextIO,
    title: str = "plnfilter digest",
    show_html: bool = False,
    images: bool = False,
    generated: datetime | None = None,
) -> int:
    """Render `digest.html.j2` chunk by chunk; images appear as alt text unless `images=True`."""
    count = 0

    def posts() -> Iterator[dict[str, Any]]:
        nonlocal count
        for row in rows:
            count += 1
            yield _view(row, show_html, images)

    template = _environment().get_template("digest.html.j2")
    stamp = to_iso(generated or now_utc())
    for chunk in template.generate(title=clean_text(title), posts=posts(), generated=display_time(stamp)):
        out.write(chunk)
    return count
