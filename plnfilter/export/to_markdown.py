"""A Markdown digest to read or paste: author, date, text and link for each post, text escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote

from plnfilter.store.rows import clean_text

_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.MULTILINE)
# Terminal escapes (a digest is often read with `cat`: ESC ] can retitle or rewrite the screen), other
# controls, and the bidi overrides that make a line read unlike what it holds (CVE-2021-42574).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def escape_markdown(text: str) -> str:
    """Backslash-escape what Markdown would turn into markup, links or raw HTML."""
    text = _INLINE.sub(r"\\\1", _UNSAFE.sub("\ufffd", clean_text(text).replace("\x00", "")))
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def safe_link(url: Any) -> str:
    """An http(s) URL usable inside `(...)`, or '' for anything else (javascript:, data:, junk)."""
    url = str(url or "").strip()
    if not re.match(r"(?i)^https?://", url):
        return ""
    return quote(clean_text(url), safe="/:?#[]@!$&'*+,;=%~.-_")


def display_time(iso: Any) -> str:
    """`2026-11-26T09:30:00Z` as `2026-11-26 09:30 UTC`."""
    text = str(iso or "")
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 and text[10] == "T" else text


def instance_of(row: Mapping[str, Any]) -> str:
    """Where a post lives: the host of its web address, else of its author (`user@host`)."""
    url = str(row.get("url") or "")
    if re.match(r"(?i)^https?://", url):
        host = url.split("://", 1)[1].split("/", 1)[0].split("@")[-1].split(":")[0].lower()
        if host:
            return clean_text(host)
    author = str(row.get("author") or "")
    return clean_text(author.rsplit("@", 1)[1]) if "@" in author.strip("@") else ""


def reason_of(row: Mapping[str, Any]) -> str:
    """Why the post is here: `kept by topics, conference` (the rules that matched, in file order)."""
    matched = [clean_text(str(name)) for name in row.get("matched") or () if name]
    kept = row.get("kept")
    verb = "dropped by" if kept is not None and not kept else "kept by"
    if matched:
        return f"{verb} {', '.join(matched)}"
    return "kept: no rule dropped it" if verb == "kept by" else ""


VOICE_LABELS = {
    "trusted": "trusted voice",
    "outside_sector": "outside your sector",
    "dissenting": "dissenting voice",
}
"""The words on a card for its author's `voices:` group (a row's `voice_group`)."""


def voice_label(row: Mapping[str, Any]) -> str:
    """`trusted voice`, `outside your sector` or `dissenting voice`; '' for no group (or one not known)."""
    return VOICE_LABELS.get(str(row.get("voice_group") or ""), "")


def _post(row: Mapping[str, Any], level: int = 2) -> str:
    author = str(row.get("author") or "")
    name = str(row.get("author_name") or "")
    who = (
        f"{escape_markdown(name)} (@{escape_markdown(author)})"
        if name and name != author
        else f"@{escape_markdown(author)}"
    )
    lines = [f"{'#' * level} {who} · {display_time(row.get('created_at'))}", ""]
    where = [
        escape_markdown(part)
        for part in (str(row.get("network") or ""), instance_of(row), voice_label(row))
        if part
    ]
    why = reason_of(row)
    if where or why:
        lines += ["*" + " · ".join([*where, *([escape_markdown(why)] if why else [])]) + "*", ""]
    spoiler = str(row.get("spoiler") or "")
    if spoiler:
        lines += [f"**CW: {escape_markdown(spoiler)}**", ""]
    text = str(row.get("text") or "").strip()
    if text:
        lines += ["> " + line if line else ">" for line in escape_markdown(text).split("\n")]
        lines.append("")
    alts = [a for a in row.get("media_alt") or () if a]
    for alt in alts:
        lines.append(f"*Image: {escape_markdown(str(alt))}*")
    if alts:
        lines.append("")
    facts = []
    link = safe_link(row.get("url"))
    if link:
        facts.append(f"[link]({link})")
    for noun, key in (("like", "likes"), ("repost", "reposts"), ("reply", "replies")):
        if row.get(key):
            facts.append(counted(row[key], noun))
    tags = row.get("tags") or ()
    if tags:
        facts.append(" ".join("\\#" + escape_markdown(str(t)) for t in tags))
    if facts:
        lines += [" · ".join(facts), ""]
    return "\n".join(lines)


def counted(number: Any, noun: str) -> str:
    """`1 like`, `2 likes`, `1 reply`, `0 replies`."""
    plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{number} {noun if number == 1 else plural}"


def write_markdown(rows: Iterable[Mapping[str, Any]], out: TextIO, title: str = "plnfilter digest") -> int:
    """A heading, then one section per post separated by rules; rows with a `group` (`top --by`) go
    under a `##` heading per group, their posts one level down."""
    out.write(f"# {escape_markdown(title)}\n\n")
    count = 0
    group = None
    for row in rows:
        name = str(row.get("group") or "")
        if count:
            out.write("---\n\n")
        if name and name != group:
            out.write(f"## {escape_markdown(name)}\n\n")
            group = name
        out.write(_post(row, 3 if name else 2))
        out.write("\n")
        count += 1
    if not count:
        out.write("*No posts.*\n")
    return count
