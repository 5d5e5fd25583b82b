"""A feed item (as `parse.py` makes it and the archive keeps it in `raw`) to a Post.

Identity: the feed's address as written in the filter file, `#`, and the item's guid/id, else its
link, else a digest of its title and date. So an item published again (edited) updates the archived
one, and a feed that reorders or drops old items changes nothing already archived.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

from plnfilter.html_text import html_to_text, shared_links
from plnfilter.post import Post


def item_key(item: dict[str, Any]) -> str:
    """What identifies an item within its feed: guid/id, else link, else a digest of title and date."""
    key = str(item.get("id") or "").strip() or str(item.get("link") or "").strip()
    if key:
        return key
    seed = f"{item.get('title') or ''}\n{item.get('published') or item.get('updated') or ''}"
    return "sha256:" + hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _web(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def uri_of(feed_url: str, item: dict[str, Any]) -> str:
    return f"{feed_url}#{item_key(item)}"


def to_post(raw: dict[str, Any], source: str = "") -> Post:
    """One Post per item: title then content as text, the item's author or else the feed's title,
    categories as tags, link and links in the content, enclosures as media, dates in UTC."""
    feed_url = raw["feed"]
    item = raw["item"]
    if not isinstance(feed_url, str) or not feed_url:
        raise ValueError("a feed item without its feed's address")
    title = str(item.get("title") or "").strip()
    html = str(item.get("html") or "")
    body = html_to_text(html) if html else str(item.get("text") or "")
    summary = html_to_text(str(item.get("summary") or "")) if not body else ""
    title_text = html_to_text(title) if "<" in title or "&" in title else title
    text = "\n\n".join(part for part in (title_text, body or summary) if part)
    link = str(item.get("link") or "").strip()
    link = link if _web(link) else ""  # never a javascript: or data: address
    links = [link] if link else []
    for found in shared_links(html) if html else ():
        if _web(found) and found not in links:
            links.append(found)
    if html and title_text:  # the HTML says what the text says: the title, then the content
        html = f"<p><strong>{escape(title_text)}</strong></p>{html}"
    tags: list[str] = []
    for tag in item.get("tags") or ():
        name = str(tag).strip().lstrip("#").lower()
        if name and name not in tags:
            tags.append(name)
    enclosures = [e for e in item.get("enclosures") or () if isinstance(e, dict) and _web(str(e.get("url")))]
    authors = [str(a) for a in item.get("authors") or () if a]
    feed_title = str(raw.get("feed_title") or "")
    author = ", ".join(authors) or feed_title or feed_url
    return Post(
        uri=uri_of(feed_url, item),
        network="feed",
        url=link or (feed_link if _web(feed_link := str(raw.get("feed_link") or "")) else feed_url),
        author=author,
        author_name=author,
        author_id=feed_url,  # `voices:` may name a feed by its address
        created_at=str(item.get("published") or item.get("updated") or ""),
        text=text,
        html=html,
        lang=str(item.get("lang") or ""),
        tags=tuple(tags),
        links=tuple(links),
        has_media=bool(enclosures) or bool(item.get("image")),
        media_alt=tuple(str(e["title"]) for e in enclosures if e.get("title")),
        card_url=link,
        card_title=title_text,
        source=source,
        raw=raw,
    )
