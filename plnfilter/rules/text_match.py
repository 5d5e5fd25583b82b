"""Matching words, substrings and regexes in post text, folding the text's case once per post.

Text here means what Mastodon's own filters look at: the post text, its content warning and
its media descriptions. Whole words follow Mastodon's whole-word filters: a word boundary is
required only at an edge of the keyword that is a word character, so `#EdTech` matches the
hashtag and `café` matches `Café!`. Scripts written without spaces (CJK, Thai) match as
substrings, since they have no word boundaries to find.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from plnfilter.post import Post
from plnfilter.rules.regex_safety import SAFE_LENGTH, runs_without_timeout

REGEX_TIMEOUT = 0.05  # seconds per search; a hostile post cannot stall a run
# Scripts written without spaces (Thai, Lao, Myanmar, kana, CJK, Hangul), as code point ranges: the
# same set as a regex character class, which took ~4 ms to compile on every start that judges posts.
_UNSPACED = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
)
_WORD = re.compile(r"\w")


class TextCache:
    """The case-folded searchable text of the last post seen (posts are immutable, so identity is enough).

    The post and its text are swapped in as one tuple, so threads sharing a RuleSet never mix them up.
    """

    __slots__ = ("entry",)

    def __init__(self) -> None:
        self.entry: tuple[Post | None, str] = (None, "")

    def fold(self, post: Post) -> str:
        entry = self.entry
        if entry[0] is not post:
            if post.spoiler or post.media_alt:
                entry = (post, "\n".join((post.text, post.spoiler, *post.media_alt)).casefold())
            else:
                entry = (post, post.text.casefold())
            self.entry = entry
        return entry[1]


class RegexStats:
    """How many regex searches gave up on their time limit (counted, treated as no match)."""

    __slots__ = ("timeouts",)

    def __init__(self) -> None:
        self.timeouts = 0


def host_of(url: str) -> str:
    """The lower-case host of a URL, without urlsplit's cost (hot path over every link)."""
    start = url.find("://")
    rest = url[start + 3 :] if start >= 0 else url
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop, 0, end)
        if found >= 0:
            end = found
    host = rest[:end].rpartition("@")[2]
    if host.startswith("["):
        return host.partition("]")[0][1:].lower()
    return host.partition(":")[0].lower().rstrip(".")


def _bounded(char: str) -> bool:
    """Whether a keyword edge of this character needs a word boundary: a word character of a script
    written with spaces."""
    code = ord(char)
    return bool(_WORD.match(char)) and not any(low <= code <= high for low, high in _UNSPACED)


def words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern over case-folded text, with boundaries only at word-character edges."""
    parts = []
    for word in sorted({w.casefold() for w in words}, key=len, reverse=True):
        start = r"(?<!\w)" if _bounded(word[0]) else ""
        end = r"(?!\w)" if _bounded(word[-1]) else ""
        parts.append(start + re.escape(word) + end)
    return re.compile("|".join(parts))


def match_words(words: tuple[str, ...], cache: TextCache) -> Callable[[Post], bool]:
    """Any of `words` as a whole word: a substring test first, the boundary regex only on a hit."""
    folded_words = tuple(sorted({w.casefold() for w in words}))
    pattern = words_pattern(words)
    fold = cache.fold
    search = pattern.search

    def check(post: Post) -> bool:
        text = fold(post)
        for word in folded_words:
            if word in text:
                return search(text) is not None
        return False

    return check


def match_text(needles: tuple[str, ...], cache: TextCache) -> Callable[[Post], bool]:
    """Any of `needles` as a case-insensitive substring."""
    folded = tuple(needle.casefold() for needle in needles)
    fold = cache.fold

    def check(post: Post) -> bool:
        text = fold(post)
        for needle in folded:
            if needle in text:
                return True
        return False

    return check


def match_regex(patterns: tuple[str, ...], stats: RegexStats) -> Callable[[Post], bool]:
    """Any of `patterns` found in the text, warning or alt text; searches that could run away are time-limited.

    The patterns are compiled at the first post searched, not here: a digest from current stored
    verdicts judges no post, so it never loads the regex module (~10 ms of start-up). The file's
    checks compiled each pattern already, so this cannot fail; threads that race here each compile
    the same searches and keep either.
    """
    compiled: tuple[tuple[Callable, bool], ...] | None = None

    def searches() -> tuple[tuple[Callable, bool], ...]:
        nonlocal compiled
        if compiled is None:
            from plnfilter.filterfile.rule_syntax import compile_user_regex

            compiled = tuple(
                (compile_user_regex(pattern).search, runs_without_timeout(pattern)) for pattern in patterns
            )
        return compiled

    def found(search, safe: bool, text: str) -> bool:
        if safe and len(text) <= SAFE_LENGTH:
            return search(text) is not None
        try:
            return search(text, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            stats.timeouts += 1
            return False

    def check(post: Post) -> bool:
        for search, safe in compiled or searches():
            if found(search, safe, post.text):
                return True
            if post.spoiler and found(search, safe, post.spoiler):
                return True
            for alt in post.media_alt:
                if found(search, safe, alt):
                    return True
        return False

    return check
