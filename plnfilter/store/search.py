"""The catalogue search language of `plnfilter query TEXT`, turned into an FTS5 MATCH expression.

    word            the word, or (stemmed index) any of its forms: textbook finds textbooks
    word*           words starting with it: librar* finds library, libraries, librarian
    "two words"     the words next to each other, in this order ("..."* : the last one a prefix;
                    typographic quotes “ ” „ count as ")
    #tag            posts with that hashtag
    a b, a AND b    both;    a OR b: either;    -a, NOT a: without it;    ( ) to group
    授業, การเรียน   words of scripts without spaces are found inside longer runs (store.grams)

AND binds tighter than OR: `a OR b c` is `a OR (b AND c)`. Operators are AND, OR and NOT in capitals;
in small letters they are words. Everything the user typed reaches FTS5 inside a quoted string, so
column filters (`text:`), NEAR, `^`, `+` and stray quotes are never FTS5 syntax. Text that cannot be
parsed (an unclosed quote or bracket, an operator with nothing to join, only exclusions) raises
UsageError saying where and how to write it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from plnfilter.errors import UsageError
from plnfilter.store.grams import query_bigrams, split_runs

GRAMS_COLUMN = "search_grams"
TAGS_COLUMN = "tags"
_OPERATORS = ("AND", "OR", "NOT")
# A character FTS5's tokenizer keeps in a token (letters, digits, marks): a term without one is dropped.
_TOKEN_CHAR = re.compile(r"[^\W_]|[\u0300-\u036f\u0e31-\u0e3a\u0e47-\u0e4e]")
_SPECIAL = '()"'
# Quotes a phone or a word processor types for " (“open textbook”, „open textbook“).
_TYPOGRAPHIC_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})


class Search(NamedTuple):
    """A parsed search: its MATCH expression (None: nothing to search) and what to highlight."""

    match: str | None
    runs: list[str]  # CJK/Thai runs searched for, highlighted as typed


# Plain classes: `plnfilter query` imports this module on every start.
class _Term:
    def __init__(self, text: str, phrase: bool = False, prefix: bool = False, tag: bool = False) -> None:
        self.text, self.phrase, self.prefix, self.tag = text, phrase, prefix, tag


class _Not:
    def __init__(self, child: object) -> None:
        self.child = child


class _Group:
    def __init__(self, op: str, children: list) -> None:
        self.op, self.children = op, children  # op: "AND" | "OR"


class _Problem(Exception):
    """A search that cannot be run as typed: what is wrong and how to write it."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def parse_search(text: str) -> Search:
    """The MATCH expression for the user's `text`; UsageError when it cannot be parsed."""
    source = text.replace("\x00", " ").translate(_TYPOGRAPHIC_QUOTES)
    runs: list[str] = []
    try:
        tree = _Parser(source, _lex(source)).parse()
        match = _render(tree, runs, negated=False) if tree is not None else None
    except _Problem as problem:
        raise UsageError(f"search {text!r}: {problem.problem}", problem.hint) from None
    return Search(match, runs)


def _lex(text: str) -> list[tuple[str, object]]:
    """Tokens: ("(", None) (")", None) ("OP", name) ("-", None) ("TERM", _Term)."""
    tokens: list[tuple[str, object]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append((ch, None))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise _Problem(
                    f"the quote at character {i + 1} is never closed",
                    'close it ("open textbook"), or leave quotes out to search the words',
                )
            prefix = end + 1 < n and text[end + 1] == "*"
            tokens.append(("TERM", _Term(text[i + 1 : end], phrase=True, prefix=prefix)))
            i = end + 2 if prefix else end + 1
        elif ch in "-+" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in ")-+":
            if ch == "-":
                tokens.append(("-", None))
            i += 1
        else:
            end = i
            while end < n and not text[end].isspace() and text[end] not in _SPECIAL:
                end += 1
            word = text[i:end]
            i = end
            if word in _OPERATORS:
                tokens.append(("OP", word))
                continue
            tag = word.startswith("#")
            prefix = word.endswith("*")
            word = word.lstrip("#").rstrip("*")
            tokens.append(("TERM", _Term(word, prefix=prefix, tag=tag)))
    return tokens


class _Parser:
    """or := and (OR and)* ; and := unary ([AND] unary)* ; unary := (NOT|-) unary | ( or ) | term."""

    def __init__(self, text: str, tokens: list[tuple[str, object]]) -> None:
        self.text, self.tokens, self.at = text, tokens, 0

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def parse(self):
        if not self.tokens:
            return None
        tree = self.parse_or()
        if self.peek() is not None:  # only a ")" stops parse_or early
            raise _Problem(
                "a ')' has no '(' before it", "remove it, or put it in quotes to search it as text"
            )
        return tree

    def parse_or(self):
        children = [self.parse_and()]
        while self.peek() == ("OP", "OR"):
            self.at += 1
            children.append(self.parse_and("OR"))
        return children[0] if len(children) == 1 else _Group("OR", children)

    def parse_and(self, after: str | None = None):
        children = [self.parse_unary(after)]
        while True:
            token = self.peek()
            if token is None or token[0] == ")" or token == ("OP", "OR"):
                break
            if token == ("OP", "AND"):
                self.at += 1
                children.append(self.parse_unary("AND"))
            else:
                children.append(self.parse_unary())
        return children[0] if len(children) == 1 else _Group("AND", children)

    def parse_unary(self, after: str | None = None):
        token = self.peek()
        if token is None or token[0] == ")" or token[0] == "OP" and token[1] in ("AND", "OR"):
            if after:
                problem = f"{after} needs a word after it"
            elif token is None:
                problem = "a word is missing"
            elif token[0] == ")":
                raise _Problem(
                    "'()' holds no word", 'put words inside, or quotes around brackets to search them: "(c)"'
                )
            else:
                problem = f"{token[1]} needs a word before it"
            raise _Problem(
                problem,
                "write AND, OR and NOT between words (AI OR podcasting), or in small letters to search them",
            )
        self.at += 1
        kind, value = token
        if kind == "OP" or kind == "-":  # NOT or a leading minus
            return _Not(self.parse_unary("NOT" if kind == "OP" else "-"))
        if kind == "(":
            inner = self.parse_or()
            if self.peek() != (")", None):
                raise _Problem("a '(' is never closed", "close it: (AI OR podcasting) feedback")
            self.at += 1
            return inner
        return value


def _has_token(text: str) -> bool:
    return bool(_TOKEN_CHAR.search(text))


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _render_term(term: _Term, runs: list[str], negated: bool) -> str | None:
    """One term as FTS5 text: quoted phrases, a column filter for tags and script runs."""
    parts: list[str] = []
    pieces = list(split_runs(term.text))
    for index, (is_run, piece) in enumerate(pieces):
        last = index == len(pieces) - 1
        if is_run:
            if not negated:
                runs.append(piece)
            if len(piece) == 1:
                parts.append(f"{GRAMS_COLUMN} : {_quote(piece)} *")
            else:
                parts.append(f"{GRAMS_COLUMN} : {_quote(query_bigrams(piece))}")
        elif _has_token(piece):
            phrase = _quote(" ".join(piece.split()))
            if term.prefix and last:
                phrase += " *"
            parts.append(f"{TAGS_COLUMN} : {phrase}" if term.tag else phrase)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _render(node, runs: list[str], negated: bool) -> str | None:
    """FTS5 text for a node, None when it holds nothing searchable; exclusions go after `NOT`."""
    if isinstance(node, _Term):
        return _render_term(node, runs, negated)
    if isinstance(node, _Not):
        raise _Problem(
            "a search needs a word to look for, not only words to leave out",
            "add one: feedback -AI, or feedback NOT AI (after -- when the search starts with -)",
        )
    if node.op == "OR":
        if any(isinstance(child, _Not) for child in node.children):
            raise _Problem(
                "OR cannot join a word left out (-word or NOT word)",
                "group it with a word to find: (feedback -AI) OR podcasting",
            )
        rendered = [r for r in (_render(c, runs, negated) for c in node.children) if r is not None]
        return _join(rendered, "OR")
    wanted = [c for c in node.children if not isinstance(c, _Not)]
    unwanted = [c.child for c in node.children if isinstance(c, _Not)]
    if not wanted:
        raise _Problem(
            "a search needs a word to look for, not only words to leave out",
            "add one: feedback -AI, or feedback NOT AI (after -- when the search starts with -)",
        )
    found = _join([r for r in (_render(c, runs, negated) for c in wanted) if r is not None], "AND")
    if found is None:
        return None
    for child in unwanted:
        if isinstance(child, _Not):  # NOT NOT x: x is wanted after all
            again = _render(child.child, runs, negated)
            found = found if again is None else f"({found} AND {again})"
            continue
        left_out = _render(child, runs, not negated)
        if left_out is not None:
            found = f"({found} NOT {left_out})"
    return found


def _join(parts: list[str], op: str) -> str | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return "(" + f" {op} ".join(parts) + ")"
