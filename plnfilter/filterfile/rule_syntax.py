"""The `exclude:` and `include:` lists: each rule's keys checked and normalised for the rule engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import (
    as_bool,
    as_count,
    as_duration,
    as_number,
    as_text,
    as_text_list,
    check_keys,
    need_list,
    need_mapping,
)
from plnfilter.filterfile.model import Condition, Rule
from plnfilter.filterfile.problems import Problems
from plnfilter.rank import VOICE_GROUPS

if TYPE_CHECKING:
    import regex

TEXT_KEYS = {
    "tags": "[edtech, pln]",
    "tags_all": "[edtech, ai]",
    "words": "[giveaway, airdrop]",
    "text": "'free followers'",
    "regex": "'(?i)slides|panel'",
    "lang": "[en, de]",
    "authors": "[kate@example.social, adjoa.bsky.social]",
    "not_authors": "[spam@example.social]",
    "domains": "[youtube.com, substack.com]",
    "network": "mastodon",
    "source": "'mastodon*'",
    "visibility": "[public, unlisted]",
    "voices": "[trusted]",
}
VISIBILITIES = ("public", "unlisted", "followers", "direct")
# Rule keys whose values come from a fixed list: key -> (the list, what one value is, a note for the fix).
CLOSED_VALUES = {
    "voices": (VOICE_GROUPS, "voice group", " (the groups listed under `voices:`)"),
    "visibility": (VISIBILITIES, "visibility", " (Mastodon's `private` is `followers`)"),
}
BOOL_KEYS = ("has_link", "has_media", "is_reply", "is_repost", "bot", "sensitive")
COUNT_KEYS = ("min_likes", "min_reposts", "min_engagement", "min_tags", "max_tags", "min_length")
DURATION_KEYS = ("max_age",)
COMBINATORS = ("all", "any", "not")
PREDICATE_KEYS = (*TEXT_KEYS, *BOOL_KEYS, *COUNT_KEYS, *DURATION_KEYS, *COMBINATORS)
RULE_KEYS = ("name", "boost", *PREDICATE_KEYS)
MAX_REGEX_LENGTH = 1000
SYNONYMS = {
    "hashtags": "tags",
    "hashtag": "tags",
    "tag": "tags",
    "word": "words",
    "keywords": "words",
    "author": "authors",
    "language": "lang",
    "languages": "lang",
    "domain": "domains",
    "regexp": "regex",
    "contains": "text",
    "media": "has_media",
    "reply": "is_reply",
    "repost": "is_repost",
    "boosted": "is_repost",
    "weight": "boost",
}


def compile_user_regex(pattern: str) -> regex.Pattern:
    """Compile a regex from a filter file (the `regex` module: matches take a timeout). The module is
    imported here, when a filter has a regex: it costs ~40 ms of start-up that `voices`, `top` and
    the rest pay for nothing when no rule has one."""
    import regex

    return regex.compile(pattern, regex.VERSION0)


def parse_rules(value: Any, path: str, line: int, section: str, names: dict[str, int]) -> tuple[Rule, ...]:
    """A list of rules; `names` collects rule names across sections so each is unique."""
    items = need_list(
        value,
        path,
        line,
        f"'{section}'",
        f"a list: `- {{name: giveaways, words: [giveaway]}}` under `{section}:`",
    )
    rules = []
    problems = Problems()  # every rule is checked, so one run of `check` shows every mistake
    for index, (item, item_line) in enumerate(zip(items, items.item_lines, strict=True), start=1):
        with problems.gather():
            rule = parse_rule(item, path, item_line, section, default_name=f"{section}-{index}")
            if rule.name in names:
                raise FilterFileError(
                    path,
                    item_line,
                    f"two rules are named '{rule.name}' (also line {names[rule.name]})",
                    "give each rule its own name",
                )
            names[rule.name] = item_line
            rules.append(rule)
    problems.raise_any()
    return tuple(rules)


def parse_rule(
    item: Any, path: str, line: int, section: str, default_name: str = "", nested: bool = False
) -> Rule:
    """One rule mapping; nested rules (inside all/any/not) take no name or boost."""
    item = need_mapping(item, path, line, "a rule", "`{name: giveaways, words: [giveaway, airdrop]}`")
    where = "in a rule inside all/any/not" if nested else f"in an {section} rule"
    check_keys(item, PREDICATE_KEYS if nested else RULE_KEYS, path, where, SYNONYMS)
    lines = item.key_lines
    name = default_name
    boost = 0.0
    if "name" in item:
        name = as_text(item["name"], path, lines["name"], "name", "giveaways")
    if "boost" in item:
        if section == "exclude":
            raise FilterFileError(
                path,
                lines["boost"],
                "'boost' does nothing in an exclude rule",
                "move the rule to `include:` or remove boost",
            )
        boost = as_number(item["boost"], path, lines["boost"], "boost")
    problems = Problems()
    conditions = []
    for key, value in item.items():
        if key not in ("name", "boost"):
            with problems.gather():
                conditions.append(
                    Condition(key, parse_condition(key, value, path, lines[key], section), lines[key])
                )
    problems.raise_any()
    if not conditions:
        raise FilterFileError(
            path,
            line,
            "this rule has no conditions, so it would match every post",
            "add a key such as `tags: [edtech]` or `words: [giveaway]` (see filters/README.md)",
        )
    return Rule(name=name, line=line, conditions=tuple(conditions), boost=boost)


def parse_condition(key: str, value: Any, path: str, line: int, section: str) -> Any:
    """Normalise one rule key's value; the rule engine relies on these shapes."""
    if key in BOOL_KEYS:
        return as_bool(value, path, line, key)
    if key in COUNT_KEYS:
        return as_count(value, path, line, key)
    if key in DURATION_KEYS:
        return as_duration(value, path, line, key)
    if key in COMBINATORS:
        return _sub_rules(key, value, path, line, section)
    if isinstance(value, str) and "," in value and key not in ("text", "regex", "source"):
        listed = ", ".join(part.strip() for part in value.split(","))
        raise FilterFileError(
            path,
            line,
            f"'{key}' is one piece of text with commas in it",
            f"write a list: `{key}: [{listed}]`",
        )
    items = as_text_list(value, path, line, key, TEXT_KEYS[key])
    if key in ("tags", "tags_all"):
        tags = tuple(item.lstrip("#").lower() for item in items)
        for tag in tags:
            if not tag or any(ch.isspace() for ch in tag):
                raise FilterFileError(
                    path,
                    line,
                    f"{tag!r} is not a hashtag",
                    "hashtags have no spaces: write [machinelearning, edtech]",
                )
        return tags
    if key in ("authors", "not_authors"):
        return tuple(item.lstrip("@").lower() for item in items)
    if key == "domains":
        return tuple(_domain(item, path, line) for item in items)
    if key == "network":
        from plnfilter.sources.registry import post_networks

        networks = post_networks()
        for item in items:
            if item.lower() not in networks:
                raise FilterFileError(
                    path,
                    line,
                    f"unknown network {item!r}",
                    "write " + " or ".join(f"`network: {name}`" for name in networks),
                )
        return tuple(item.lower() for item in items)
    if key == "lang":
        return tuple(item.lower() for item in items)
    if key in CLOSED_VALUES:
        known, what, aside = CLOSED_VALUES[key]
        for item in items:
            if item.lower() not in known:
                raise FilterFileError(
                    path, line, f"unknown {what} {item!r}", "write any of " + ", ".join(known) + aside
                )
        return tuple(item.lower() for item in items)
    if key == "regex":
        for pattern in items:
            _check_regex(pattern, path, line)
    return items


def _sub_rules(key: str, value: Any, path: str, line: int, section: str) -> tuple[Rule, ...]:
    """`all: [...]`, `any: [...]`, `not: {...}` (a list under `not` means none of them)."""
    example = (
        "`not: {words: [giveaway]}`"
        if key == "not"
        else f"`{key}: [{{tags: [like69]}}, {{regex: 'slides'}}]`"
    )
    if key == "not" and not isinstance(value, list):
        return (parse_rule(value, path, line, section, nested=True),)
    items = need_list(value, path, line, f"'{key}'", example)
    if not items:
        raise FilterFileError(path, line, f"'{key}' has an empty list", f"write {example}")
    return tuple(
        parse_rule(item, path, item_line, section, nested=True)
        for item, item_line in zip(items, items.item_lines, strict=True)
    )


def _domain(text: str, path: str, line: int) -> str:
    """`example.com`, `https://example.com/x` or `*.example.com`, all as `example.com`."""
    host = text.lower()
    if "://" in host:
        try:
            host = urlsplit(host).hostname or ""
        except ValueError:
            host = ""
    host = host.removeprefix("*.").strip(".")
    if not host or "/" in host or any(ch.isspace() for ch in host):
        raise FilterFileError(
            path, line, f"{text!r} is not a domain", "write a domain such as `domains: [youtube.com]`"
        )
    return host


def _check_regex(pattern: str, path: str, line: int) -> None:
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in pattern):
        raise FilterFileError(
            path,
            line,
            f"the regex {pattern[:60]!r} contains a control character (in double quotes YAML reads \\b as a backspace)",
            "put regexes in single quotes: regex: '\\bslides\\b'",
        )
    if len(pattern) > MAX_REGEX_LENGTH:
        raise FilterFileError(
            path,
            line,
            f"a regex of {len(pattern)} characters is too long",
            f"keep each under {MAX_REGEX_LENGTH}, or use words:",
        )
    import regex

    try:
        compile_user_regex(pattern)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise FilterFileError(
            path,
            line,
            f"bad regex {pattern[:60]!r}: {exc}",
            "fix the pattern: put it in single quotes, and escape characters meant literally: \\( \\[ \\.",
        ) from None
