"""Which user regexes can run without a time limit: those that cannot backtrack catastrophically.

The `regex` module's per-search `timeout=` roughly doubles the cost of a search, so the limit
is kept for patterns that need it. A pattern is treated as safe when, parsed by the standard
library's own parser, it has no repetition over something that repeats or branches (the shape
of `(a+)+` and `(a|aa)*`), at most one unbounded repeat (so a search is at worst quadratic,
and texts longer than SAFE_LENGTH still get the limit), and no backreferences. Anything the
parser does not understand is treated as unsafe.
"""

from __future__ import annotations

import re._constants as sre
import re._parser as sre_parse

SAFE_LENGTH = 1000  # a quadratic search over this many characters takes a few milliseconds at worst

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


class _Unsafe(Exception):
    pass


def runs_without_timeout(pattern: str) -> bool:
    """True when a search with `pattern` cannot take exponential or high-polynomial time."""
    try:
        unbounded = _count_unbounded(sre_parse.parse(pattern))
    except Exception:  # _Unsafe, or syntax only the `regex` module knows: keep the time limit
        return False
    return unbounded <= 1


def _count_unbounded(items) -> int:
    """Unbounded repeats in `items`; raises _Unsafe for nested repetition, branches under a repeat, backreferences."""
    count = 0
    for op, av in items:
        if op in _REPEATS:
            low, high, sub = av
            if high == sre.MAXREPEAT:
                count += 1
            if high > 1 and _repeats_or_branches(sub):
                raise _Unsafe
            count += _count_unbounded(sub)
        elif op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise _Unsafe
        else:
            for sub in _children(op, av):
                count += _count_unbounded(sub)
    return count


def _repeats_or_branches(items) -> bool:
    for op, av in items:
        if op in _REPEATS:
            if av[1] > 1 or _repeats_or_branches(av[2]):
                return True
        elif op == sre.BRANCH:
            return True
        elif any(_repeats_or_branches(sub) for sub in _children(op, av)):
            return True
    return False


def _children(op, av) -> list:
    """The sub-patterns inside one parsed node."""
    if op == sre.SUBPATTERN:
        return [av[3]]
    if op == sre.BRANCH:
        return list(av[1])
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [av[1]]
    if op == sre.ATOMIC_GROUP:
        return [av]
    return []
