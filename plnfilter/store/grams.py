"""Words of scripts written without spaces (CJK, Thai, Lao, Khmer, Myanmar) as overlapping bigrams.

FTS5's unicode61 tokenizer makes one token of a whole run of such characters ("今日の授業は" is one
word to it) and the trigram tokenizer cannot find two-character words, so `授業` would never match.
Each run is indexed instead as its character bigrams followed by its last character alone
(`今日 日の の授 授業 業は は`), in the `search_grams` column; a query word of two or more characters
becomes the phrase of its bigrams, a single character the prefix of a bigram or a last character.
The lone last character also keeps two runs apart, so a phrase never matches across them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Han (with extensions and compatibility), kana, iteration marks, Hangul syllables, Thai, Lao,
# Myanmar, Khmer, half-width katakana.
RUN_CHARS = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f"
)
RUN = re.compile(f"[{RUN_CHARS}]+")


def run_grams(run: str) -> list[str]:
    """One run's tokens: its bigrams, then its last character (a run of one is that character)."""
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def search_grams(*texts: str | None) -> str | None:
    """The `search_grams` cell of a post's text, content warning and tags; None when none has a run."""
    tokens: list[str] = []
    for text in texts:
        if not text or text.isascii():
            continue
        for run in RUN.findall(text):
            tokens += run_grams(run)
    return " ".join(tokens) if tokens else None


def query_bigrams(run: str) -> str:
    """A query run of two or more characters as the phrase text of its bigrams (no last character)."""
    return " ".join(run[i : i + 2] for i in range(len(run) - 1))


def split_runs(word: str) -> Iterable[tuple[bool, str]]:
    """`word` cut into (is_run, piece) pieces, in order."""
    at = 0
    for found in RUN.finditer(word):
        if found.start() > at:
            yield False, word[at : found.start()]
        yield True, found.group()
        at = found.end()
    if at < len(word):
        yield False, word[at:]
