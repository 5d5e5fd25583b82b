"""Each rule key compiled into a closure `check(post) -> bool`, with every constant precomputed."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from plnfilter.filterfile.model import Condition, Rule
from plnfilter.post import Post
from plnfilter.rules.text_match import RegexStats, TextCache, host_of, match_regex, match_text, match_words

Check = Callable[[Post], bool]

# Cheaper checks run first inside a rule, so a rule usually fails before any text is read.
COST = {
    "words": 5,
    "text": 5,
    "regex": 8,
    "all": 6,
    "any": 6,
    "not": 6,
    "domains": 4,
    "authors": 3,
    "not_authors": 3,
}
COST.update({"visibility": 1, "lang": 2, "source": 3, "tags": 1, "tags_all": 1, "network": 1, "max_age": 1})


class Cutoff:
    """The oldest `created_at` a `max_age` allows, refreshed when `now` changes."""

    __slots__ = ("age", "iso")

    def __init__(self, age: timedelta) -> None:
        self.age = age
        self.iso = ""


class Compiler:
    """Holds what the closures share: the per-post text cache, regex stats and the max_age cutoffs."""

    def __init__(self, voices: Any = None) -> None:
        self.voices = voices  # the filter file's `voices:` groups, which `voices:` conditions name
        self.cache = TextCache()
        self.stats = RegexStats()
        self.cutoffs: list[Cutoff] = []

    def rule(self, rule: Rule) -> Check:
        """All of a rule's conditions, cheapest first."""
        ordered = sorted(rule.conditions, key=lambda condition: COST.get(condition.key, 0))
        return all_of([self.condition(condition) for condition in ordered])

    def condition(self, condition: Condition) -> Check:
        key, value = condition.key, condition.value
        if key in _FLAGS:
            return _FLAGS[key](bool(value))
        if key in _MINIMUMS:
            return _MINIMUMS[key](value)
        builder = getattr(self, "_" + key)
        return builder(value)

    # Text
    def _words(self, value: tuple[str, ...]) -> Check:
        return match_words(value, self.cache)

    def _text(self, value: tuple[str, ...]) -> Check:
        return match_text(value, self.cache)

    def _regex(self, value: tuple[str, ...]) -> Check:
        return match_regex(value, self.stats)

    # Tags, language, people, links, provenance
    def _tags(self, value: tuple[str, ...]) -> Check:
        wanted = frozenset(value)
        return lambda post: not wanted.isdisjoint(post.tags)

    def _tags_all(self, value: tuple[str, ...]) -> Check:
        wanted = tuple(dict.fromkeys(value))

        def check(post: Post) -> bool:
            tags = post.tags
            for tag in wanted:
                if tag not in tags:
                    return False
            return True

        return check

    def _max_tags(self, value: int) -> Check:
        return lambda post: len(post.tags) <= value

    def _voices(self, value: tuple[str, ...]) -> Check:
        """The author is in one of these `voices:` groups of the filter file."""
        people = tuple(
            person.lstrip("@").lower() for group in value for person in getattr(self.voices, group, ()) or ()
        )
        if not people:
            return lambda post: False
        return author_in(people)

    def _visibility(self, value: tuple[str, ...]) -> Check:
        wanted = frozenset(value)
        return lambda post: (post.visibility or "public") in wanted

    def _lang(self, value: tuple[str, ...]) -> Check:
        exact = frozenset(value)
        prefixes = tuple(code + "-" for code in value)
        unknown = "unknown" in exact  # `unknown` names the posts that declare no language

        def check(post: Post) -> bool:
            lang = post.lang
            if not lang:
                return unknown
            if lang in exact:
                return True
            lang = lang.lower()
            return lang in exact or lang.startswith(prefixes)

        return check

    def _authors(self, value: tuple[str, ...]) -> Check:
        return author_in(value)

    def _not_authors(self, value: tuple[str, ...]) -> Check:
        inside = author_in(value)
        return lambda post: not inside(post)

    def _domains(self, value: tuple[str, ...]) -> Check:
        exact = frozenset(value)
        suffixes = tuple("." + domain for domain in value)

        def on_domain(url: str) -> bool:
            lowered = url.lower()
            for domain in value:
                if domain in lowered:  # cheap test first; most links name none of the domains
                    host = host_of(url)
                    return host in exact or host.endswith(suffixes)
            return False

        def check(post: Post) -> bool:
            for url in post.links:
                if on_domain(url):
                    return True
            return bool(post.card_url) and on_domain(post.card_url)

        return check

    def _network(self, value: tuple[str, ...]) -> Check:
        wanted = frozenset(value)
        return lambda post: post.network in wanted

    def _source(self, value: tuple[str, ...]) -> Check:
        match = re.compile("|".join(fnmatch.translate(glob) for glob in value)).match
        return lambda post: match(post.source) is not None

    def _max_age(self, value: timedelta) -> Check:
        cutoff = Cutoff(value)
        self.cutoffs.append(cutoff)
        return lambda post: post.created_at >= cutoff.iso

    # Combinators
    def _all(self, value: tuple[Rule, ...]) -> Check:
        return all_of([self.rule(rule) for rule in value])

    def _any(self, value: tuple[Rule, ...]) -> Check:
        return any_of([self.rule(rule) for rule in value])

    def _not(self, value: tuple[Rule, ...]) -> Check:
        inner = any_of([self.rule(rule) for rule in value])
        return lambda post: not inner(post)


_FLAGS: dict[str, Callable[[bool], Check]] = {
    "has_link": lambda want: lambda post: bool(post.links or post.card_url) is want,
    "has_media": lambda want: lambda post: bool(post.has_media) is want,
    "is_reply": lambda want: lambda post: bool(post.reply_to) is want,
    "is_repost": lambda want: lambda post: bool(post.reposted_by) is want,
    "bot": lambda want: lambda post: bool(post.author_bot) is want,
    "sensitive": lambda want: lambda post: bool(post.sensitive or post.spoiler) is want,
}
_MINIMUMS: dict[str, Callable[[int], Check]] = {
    "min_likes": lambda least: lambda post: post.likes >= least,
    "min_reposts": lambda least: lambda post: post.reposts >= least,
    "min_engagement": lambda least: (
        lambda post: post.likes + post.reposts + post.replies + post.quotes >= least
    ),
    "min_tags": lambda least: lambda post: len(post.tags) >= least,
    "min_length": lambda least: lambda post: len(post.text) >= least,
}


def author_in(value: tuple[str, ...]) -> Check:
    """The author's handle or account id (DID, account URL) is listed; `*` globs allowed."""
    exact = frozenset(item for item in value if not any(ch in item for ch in "*?["))
    globs = [fnmatch.translate(item) for item in value if item not in exact]
    glob_match = re.compile("|".join(globs), re.IGNORECASE).match if globs else None

    def check(post: Post) -> bool:
        author = post.author
        if author in exact or author.lower() in exact or (post.author_id and post.author_id.lower() in exact):
            return True
        return glob_match is not None and glob_match(author) is not None

    return check


def all_of(checks: list[Check]) -> Check:
    """A conjunction without per-call allocation (specialised for the common short rules)."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda post: first(post) and second(post)
    if len(checks) == 3:
        first, second, third = checks
        return lambda post: first(post) and second(post) and third(post)
    frozen = tuple(checks)

    def check(post: Post) -> bool:
        for each in frozen:
            if not each(post):
                return False
        return True

    return check


def any_of(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    frozen = tuple(checks)

    def check(post: Post) -> bool:
        for each in frozen:
            if each(post):
                return True
        return False

    return check
