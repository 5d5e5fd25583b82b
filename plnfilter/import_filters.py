"""Turn the filters people already keep (Mastodon filters, Bluesky muted words) into exclude rules.

Mastodon: the JSON of `GET /api/v2/filters` (https://docs.joinmastodon.org/methods/filters/) or the
deprecated `/api/v1/filters`. Bluesky: the JSON of `app.bsky.actor.getPreferences`, whose
`app.bsky.actor.defs#mutedWordsPref` lists muted words
(https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/actor/defs.json).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import regex
import yaml

from plnfilter.errors import UsageError
from plnfilter.times import normalise_iso, parse_iso, to_iso

# Mastodon contexts that cover what plnfilter reads: home and lists, public and hashtag timelines,
# profiles, threads. A filter for notifications alone never hid a post from a timeline.
READING_CONTEXTS = frozenset({"home", "public", "account", "thread"})
MUTED_WORDS_TYPE = "app.bsky.actor.defs#mutedWordsPref"
# Bluesky matches a muted phrase with spaces or punctuation as a substring, a single character
# as a substring, and anything else as a whole word (`hasMutedWord` in @atproto/api's mutewords.ts).
_PHRASE = regex.compile(r"[\s\p{P}]")
_TAG_WORD = regex.compile(r"^[\p{L}\p{N}_]+$")


@dataclass
class ImportedRule:
    """One exclude rule and where it came from (written as a comment above it)."""

    name: str
    conditions: dict[str, Any]
    comment: str


@dataclass
class ImportResult:
    """Rules to write, and what was left out with the reason."""

    rules: list[ImportedRule] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """A readable rule name from a filter title: lower-case words joined by hyphens."""
    words = re.findall(r"\w+", text.lower())
    return "-".join(words)[:60].strip("-")


def _expired(expires_at: Any, now: datetime) -> bool:
    if not expires_at:
        return False
    try:
        return parse_iso(str(expires_at)) <= now
    except ValueError:
        return False


def _unique_name(base: str, taken: set[str]) -> str:
    name = base or "imported"
    counter = 2
    while name in taken:
        name = f"{base}-{counter}"
        counter += 1
    taken.add(name)
    return name


def _either(*conditions: dict[str, Any]) -> dict[str, Any]:
    """One condition as it is, several as `any:` (a rule's own keys must all hold)."""
    present = [c for c in conditions if c]
    if len(present) == 1:
        return present[0]
    return {"any": present}


def _mastodon_keyword_conditions(keywords: list[tuple[str, bool]]) -> dict[str, Any]:
    """whole_word keywords become `words` (matched as Mastodon does, `#tag` included), others `text`."""
    words = [keyword for keyword, whole_word in keywords if whole_word]
    texts = [keyword for keyword, whole_word in keywords if not whole_word]
    return _either({"words": words} if words else {}, {"text": texts} if texts else {})


def import_mastodon_filters(
    filters: list[dict], source: str, now: datetime, result: ImportResult, taken: set[str]
) -> None:
    """v2 filters (title, context, expires_at, keywords[]) or v1 filters (phrase, whole_word)."""
    for item in filters:
        if not isinstance(item, dict):
            result.skipped.append(f"{source}: an entry that is not a filter object")
            continue
        title = str(item.get("title") or item.get("phrase") or "mastodon filter")
        context = [str(c) for c in item.get("context") or []]
        if _expired(item.get("expires_at"), now):
            result.skipped.append(
                f"{source}: Mastodon filter {title!r} expired at {normalise_iso(str(item['expires_at']))}"
            )
            continue
        if context and not READING_CONTEXTS.intersection(context):
            result.skipped.append(f"{source}: Mastodon filter {title!r} applies only to {', '.join(context)}")
            continue
        if "keywords" in item:
            keywords = [
                (str(k.get("keyword") or "").strip(), bool(k.get("whole_word")))
                for k in item.get("keywords") or []
                if isinstance(k, dict) and str(k.get("keyword") or "").strip()
            ]
        else:
            phrase = str(item.get("phrase") or "").strip()
            keywords = [(phrase, bool(item.get("whole_word")))] if phrase else []
        statuses = item.get("statuses") or []
        if statuses:
            result.skipped.append(
                f"{source}: Mastodon filter {title!r} also hides {len(statuses)} chosen post(s); plnfilter rules match content, not single posts"
            )
        if not keywords:
            if not statuses:
                result.skipped.append(f"{source}: Mastodon filter {title!r} has no keywords")
            continue
        action = item.get("filter_action") or ("drop" if item.get("irreversible") else "hide")
        notes = [f"Mastodon filter {title!r}", f"action {action}"]
        if context:
            notes.append(f"contexts {', '.join(context)}")
        if item.get("expires_at"):
            notes.append(
                f"expires {normalise_iso(str(item['expires_at']))} on Mastodon; here it stays until you remove it"
            )
        result.rules.append(
            ImportedRule(
                _unique_name(slug(title), taken), _mastodon_keyword_conditions(keywords), "; ".join(notes)
            )
        )


def _muted_word_items(data: Any) -> list[dict]:
    """The muted words in a getPreferences answer, a bare mutedWordsPref, or a bare list of items."""
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if not isinstance(data, dict):
        return []
    if "preferences" in data:
        items: list[dict] = []
        for pref in data.get("preferences") or []:
            if isinstance(pref, dict) and pref.get("$type") == MUTED_WORDS_TYPE:
                items.extend(item for item in pref.get("items") or [] if isinstance(item, dict))
        return items
    return [item for item in data.get("items") or [] if isinstance(item, dict)]


def import_bluesky_muted_words(
    data: Any, source: str, now: datetime, result: ImportResult, taken: set[str]
) -> None:
    """Muted words to three rules: tags, whole words, and phrases (substrings), as Bluesky matches them."""
    tags: list[str] = []
    words: list[str] = []
    phrases: list[str] = []
    following_only: set[str] = set()
    for item in _muted_word_items(data):
        value = str(item.get("value") or "").strip()
        if not value:
            continue
        if _expired(item.get("expiresAt"), now):
            result.skipped.append(
                f"{source}: Bluesky muted word {value!r} expired at {normalise_iso(str(item['expiresAt']))}"
            )
            continue
        targets = [str(t) for t in item.get("targets") or ["content", "tag"]]
        if item.get("actorTarget") == "exclude-following":
            following_only.add(value.lstrip("#").lower())
        bare = value.lstrip("#")
        # Bluesky checks a muted word against the post's tags whatever its targets say.
        if _TAG_WORD.match(bare) and bare.lower() not in tags:
            tags.append(bare.lower())
        if "content" in targets:
            if len(bare) == 1 or _PHRASE.search(bare):
                phrases.append(bare)
            elif bare not in words:
                words.append(bare)
    expiring = {
        str(i.get("value") or "").strip().lstrip("#").lower()
        for i in _muted_word_items(data)
        if i.get("expiresAt") and not _expired(i.get("expiresAt"), now)
    }
    for suffix, key, values in (
        ("tags", "tags", tags),
        ("words", "words", words),
        ("phrases", "text", phrases),
    ):
        if not values:
            continue
        notes = ["Bluesky muted words"]
        when_following = [v for v in values if v.lower() in following_only]
        if when_following:
            notes.append(
                f"Bluesky skips {', '.join(when_following)} for people you follow; here it applies to everyone"
            )
        temporary = [v for v in values if v.lower() in expiring]
        if temporary:
            notes.append(f"{', '.join(temporary)} expire(s) on Bluesky but stay here until you remove them")
        result.rules.append(
            ImportedRule(_unique_name(f"bluesky-muted-{suffix}", taken), {key: values}, "; ".join(notes))
        )


def importer_for(data: Any) -> Callable[..., None] | None:
    """The importer of this JSON's shape (Mastodon filters or Bluesky preferences); None when neither."""
    if isinstance(data, dict) and ("preferences" in data or data.get("$type") == MUTED_WORDS_TYPE):
        return import_bluesky_muted_words
    if isinstance(data, dict) and ("keywords" in data or "phrase" in data):
        return _mastodon_filters
    if isinstance(data, list) and data and all(isinstance(i, dict) for i in data):
        if all("keywords" in i or "phrase" in i for i in data):
            return _mastodon_filters
        if all("value" in i for i in data):
            return import_bluesky_muted_words
    if isinstance(data, list) and not data:
        return _mastodon_filters
    return None


def _mastodon_filters(data: Any, source: str, now: datetime, result: ImportResult, taken: set[str]) -> None:
    """One v2 filter, or a list of them (v1 or v2)."""
    import_mastodon_filters(data if isinstance(data, list) else [data], source, now, result, taken)


def import_data(data: Any, source: str, now: datetime, result: ImportResult, taken: set[str]) -> None:
    """Add the rules one parsed JSON document holds."""
    importer = importer_for(data)
    if importer is None:
        raise UsageError(
            f"{source} is neither Mastodon filters nor Bluesky preferences",
            "save the JSON of GET /api/v2/filters (Mastodon) or app.bsky.actor.getPreferences (Bluesky)",
        )
    importer(data, source, now, result, taken)
    result.inputs.append(source)


def import_files(paths: list[Path], now: datetime, stdin: str | None = None) -> ImportResult:
    """Read every file and collect their rules, in file order; the path `-` is the text `stdin`."""
    result = ImportResult()
    taken: set[str] = set()
    for path in paths:
        from_stdin = str(path) == "-"
        name = "<stdin>" if from_stdin else str(path)
        try:
            text = (stdin or "") if from_stdin else Path(path).read_text(encoding="utf-8-sig")
            data = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{name} is not JSON (line {exc.lineno}: {exc.msg})", "give the file the API answered with"
            ) from None
        import_data(data, name, now, result, taken)
    return result


def to_filter_yaml(result: ImportResult, now: datetime, name: str = "imported-filters") -> str:
    """A filter file holding only the imported exclude rules, with a comment above each."""
    lines = [
        f"# Generated by `plnfilter import-filters` at {to_iso(now)}",
        *(f"# from {_comment(source)}" for source in result.inputs),
        "# Copy the rules under `exclude:` into your own filter file, or add `sources:` to this one.",
    ]
    lines += [f"# skipped: {_comment(reason)}" for reason in result.skipped]
    lines.append(yaml.safe_dump({"name": name}, allow_unicode=True, sort_keys=False).strip())
    if not result.rules:
        lines.append("exclude: []")
        return "\n".join(lines) + "\n"
    lines.append("exclude:")
    for rule in result.rules:
        lines.append(f"  # {_comment(rule.comment)}")
        block = yaml.safe_dump(
            [{"name": rule.name, **rule.conditions}],
            allow_unicode=True,
            sort_keys=False,
            default_flow_style=None,
            width=100,
        )
        lines.extend("  " + line for line in block.rstrip("\n").split("\n"))
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    """One comment line: filter titles are user text and may hold newlines."""
    flat = " ".join(str(text).split())
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in flat)
