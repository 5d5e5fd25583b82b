"""Mastodon status HTML to plain text and shared links, once at ingest, with precompiled regexes.

Mastodon sanitises what it serves (lower-case `p br span a del pre code em strong b i u ul ol li
blockquote h1-h5`), but saved files and other servers may not: nothing here executes or fetches
anything, script/style bodies are dropped, and the result is plain text. Plain string and regex
operations instead of `html.parser`: the normaliser has to manage 20k statuses/s
(benchmarks/bench_normalize_mastodon.py).
"""

from __future__ import annotations

import re
from html import unescape

# The web UI hides `<span class="invisible">` (the `https://` and the tail of long links) and
# shows `…` after `<span class="ellipsis">`; the markup is Mastodon's own TextFormatter output:
# https://github.com/mastodon/mastodon/blob/main/app/lib/text_formatter.rb
_INVISIBLE = re.compile(r'<span class="invisible">[^<]*</span>')
_ELLIPSIS = re.compile(r'<span class="ellipsis">([^<]*)</span>')
# Mastodon 4.5 adds `<p class="quote-inline">RE: <a>...</a></p>` for clients that cannot show
# quotes; the web UI hides it, and the quote is kept as `quote_of` instead.
_QUOTE_INLINE = re.compile(r'<p class="quote-inline">.*?</p>', re.S)
_HIDDEN_HINT = re.compile(r"<(?:script|style|template)\b|<!--", re.I)
_HIDDEN = re.compile(r"<(script|style|template)\b[^>]*>.*?(?:</\1\s*>|$)|<!--.*?(?:-->|$)", re.I | re.S)
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|blockquote|pre|ul|ol)\s*>", re.I)
_LINE_END = re.compile(r"<br\s*/?>|</(?:li|div|tr)\s*>", re.I)
_TAG = re.compile(r"<[^>]*>?")
_LINE_EDGES = re.compile(r" *\n *")

_ANCHOR = re.compile(r"<a\s([^>]*)>", re.I)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_CLASS = re.compile(r"""\bclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_REL_TAG = re.compile(r"""\brel\s*=\s*["']?[^"'>]*\btag\b""", re.I)


def html_to_text(html: str) -> str:
    """Readable text as the web UI shows it: paragraphs as blank lines, `<br>` as newlines, `#tag`, `@user`."""
    if not html:
        return ""
    if "<" not in html:
        return (unescape(html) if "&" in html else html).strip()
    text = html
    if "\n" in text or "\r" in text or "\t" in text:  # raw whitespace is a plain space in HTML
        text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if _HIDDEN_HINT.search(text):
        text = _HIDDEN.sub("", text)
    if 'class="invisible"' in text:
        text = _INVISIBLE.sub("", text)
    if 'class="ellipsis"' in text:
        text = _ELLIPSIS.sub("\\1…", text)
    if "quote-inline" in text:
        text = _QUOTE_INLINE.sub("", text)
    text = _BLOCK_END.sub("\n\n", text.replace("</p>", "\n\n"))
    text = _LINE_END.sub("\n", text.replace("<br>", "\n").replace("<br />", "\n"))
    text = _TAG.sub("", text)
    if "&" in text:
        text = unescape(text)
    if "\n" in text:
        if " \n" in text or "\n " in text:
            text = _LINE_EDGES.sub("\n", text)
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def _attribute(pattern: re.Pattern[str], attributes: str) -> str:
    match = pattern.search(attributes)
    if not match:
        return ""
    return unescape(match.group(1) or match.group(2) or match.group(3) or "")


def shared_links(html: str) -> list[str]:
    """`href`s of the links an author shared: not mentions, hashtags or the 4.5 quote fallback."""
    if "<a" not in html and "<A" not in html:
        return []
    if "quote-inline" in html:
        html = _QUOTE_INLINE.sub("", html)
    links: list[str] = []
    for match in _ANCHOR.finditer(html):
        attributes = match.group(1)
        if "mention" in attributes or "tag" in attributes:
            classes = _attribute(_CLASS, attributes).split()
            if "mention" in classes or "hashtag" in classes:
                continue
            if _REL_TAG.search(attributes):
                continue
        href = _attribute(_HREF, attributes)
        if not href.lower().startswith(("http://", "https://")):
            continue  # javascript:, mailto:, relative: not a shared web link
        if href not in links:
            links.append(href)
    return links
