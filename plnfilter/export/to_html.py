"""One self-contained HTML page (inline CSS, no scripts), every piece of post content escaped or sanitised."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from plnfilter.export.to_markdown import counted, display_time
from plnfilter.store.rows import clean_text
from plnfilter.times import now_utc, to_iso

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ALLOWED_TAGS = {"a", "p", "br", "span"}
ALLOWED_CLASSES = {"span": {"invisible", "ellipsis", "h-card"}}


def sanitise_html(html: str) -> str:
    """Mastodon's HTML reduced to text, paragraphs and http(s) links (rel=noopener nofollow)."""
    import nh3

    return nh3.clean(
        clean_text(html),
        tags=ALLOWED_TAGS,
        attributes={"a": {"href"}},
        allowed_classes=ALLOWED_CLASSES,
        url_schemes={"http", "https"},
        link_rel="noopener nofollow",
        strip_comments=True,
    )


def _http(url: Any) -> str:
    """Only http(s) URLs become links or image sources; anything else is dropped."""
    text = clean_text(str(url or "")).strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


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
    return {
        "author": clean_text(str(row.get("author") or "")),
        "author_name": clean_text(str(row.get("author_name") or "")),
        "when": display_time(row.get("created_at")),
        "created_at": str(row.get("created_at") or ""),
        "url": _http(row.get("url")),
        "spoiler": clean_text(str(row.get("spoiler") or "")),
        "text": clean_text(str(row.get("text") or "")).replace("\x00", ""),
        "html": sanitise_html(html) if show_html and html else "",
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
    from markupsafe import Markup, escape

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["counted"] = counted
    env.filters["nl2br"] = lambda text: Markup("<br>\n").join(escape(line) for line in str(text).split("\n"))
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
