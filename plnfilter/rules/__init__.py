"""Judge posts with a filter file's rules: dropped when any exclude rule matches, then kept when
any include rule matches (or always, when there are none).

`compile_rules(filter_file)` turns the rules into closures once; `RuleSet.evaluate(post, now)`
is the hot path (run over every fetched post and over the whole archive by `apply`), so it
allocates nothing for the common verdicts. A RuleSet may be shared by threads judging at the same `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any

from plnfilter.post import Post
from plnfilter.times import now_utc, to_iso

if TYPE_CHECKING:
    from plnfilter.filterfile.model import FilterFile, Rule

__all__ = ["RuleResult", "RuleSet", "Verdict", "compile_rules"]


class Verdict:
    """Kept or not, which include rules matched, their summed boost, and the exclude rule that dropped it.

    A post that is not kept with an empty `dropped_by` matched no include rule. Frozen, compared and
    hashed by its values, like the dataclass it was: written out because `@dataclass` compiles its
    methods with `exec` at every start, and every digest loads this module (issue 14).
    """

    __slots__ = ("kept", "matched", "boost", "dropped_by")

    def __init__(
        self, kept: bool, matched: tuple[str, ...] = (), boost: float = 0.0, dropped_by: str = ""
    ) -> None:
        setter = object.__setattr__
        setter(self, "kept", kept)
        setter(self, "matched", matched)
        setter(self, "boost", boost)
        setter(self, "dropped_by", dropped_by)

    def _values(self) -> tuple:
        return (self.kept, self.matched, self.boost, self.dropped_by)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (
            f"Verdict(kept={self.kept!r}, matched={self.matched!r}, boost={self.boost!r}, "
            f"dropped_by={self.dropped_by!r})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Verdict is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Verdict is frozen")

    @property
    def reason(self) -> str:
        """One line for `explain` and logs."""
        if self.dropped_by:
            return f"dropped by exclude rule '{self.dropped_by}'"
        if not self.kept:
            return "dropped: no include rule matched"
        if self.matched:
            return "kept by " + ", ".join(f"'{name}'" for name in self.matched)
        return "kept (no include rules)"


class RuleResult:
    """One rule's outcome for one post, for `plnfilter explain`. A plain class: `@dataclass` compiles
    its methods with `exec` at every start, and every digest loads this module (issue 14)."""

    __slots__ = ("section", "name", "line", "matched", "boost")

    def __init__(self, section: str, name: str, line: int, matched: bool, boost: float) -> None:
        self.section = section  # "exclude" | "include"
        self.name = name
        self.line = line
        self.matched = matched
        self.boost = boost


KEEP_ALL = Verdict(kept=True)
NOT_INCLUDED = Verdict(kept=False)


class RuleSet:
    """Compiled rules; `evaluate` is pure apart from the regex timeout counter."""

    def __init__(
        self, exclude: Iterable[Rule] = (), include: Iterable[Rule] = (), voices: Any = None
    ) -> None:
        self.exclude_rules = tuple(exclude)
        self.include_rules = tuple(include)
        self._voices = voices
        self._boosts = {rule.name: rule.boost for rule in self.include_rules}
        self._compiled: _Compiled | None = None  # the checks, made when a post is first judged
        self._lock = Lock()
        self._now: datetime | None = None

    def _checks(self) -> _Compiled:
        """The rules as checks, compiled once (under a lock: threads may share this RuleSet).

        Not at construction: `top FILTER` reading current stored verdicts judges no post, so it
        loads neither the matchers nor `regex` and compiles nothing (issue 14)."""
        compiled = self._compiled
        if compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = self._compile()
                compiled = self._compiled
        return compiled

    def _compile(self) -> _Compiled:
        from plnfilter.rules.predicates import Compiler  # the matchers (regex) load with the first rules

        compiler = Compiler(self._voices)
        exclude = tuple(
            (compiler.rule(rule), Verdict(kept=False, dropped_by=rule.name)) for rule in self.exclude_rules
        )
        include = tuple(
            (compiler.rule(rule), rule.name, rule.boost, Verdict(True, (rule.name,), rule.boost))
            for rule in self.include_rules
        )
        return _Compiled(exclude, include, tuple(compiler.cutoffs), compiler.stats)

    @property
    def depends_on_time(self) -> bool:
        """Whether a verdict depends on `now` (a `max_age` condition), not on the post alone. Read
        from the rules themselves, without compiling them."""
        return any(_has_max_age(rule) for rule in (*self.exclude_rules, *self.include_rules))

    def include_boosts(self) -> dict[str, float]:
        """Each include rule's boost by its name (names are unique in a filter file)."""
        return dict(self._boosts)

    def stored(self, matched: tuple[str, ...]) -> Verdict:
        """The verdict `evaluate` gives a kept post whose include rules `matched` (in file order):
        what a current stored verdict stands for."""
        if not matched:
            return KEEP_ALL
        boosts = self._boosts
        if len(matched) == 1:
            return Verdict(True, matched, boosts.get(matched[0], 0.0))
        return Verdict(True, matched, sum(boosts.get(name, 0.0) for name in matched))

    @property
    def regex_timeouts(self) -> int:
        """Regex searches abandoned at their time limit (each counted as no match); worth a warning."""
        compiled = self._compiled
        return compiled.stats.timeouts if compiled is not None else 0

    def evaluate(self, post: Post, now: datetime | None = None) -> Verdict:
        """The verdict for one post; `now` anchors `max_age` (default: the current time)."""
        compiled = self._compiled or self._checks()
        if compiled.cutoffs and (now is None or now != self._now):
            self._set_now(compiled, now or now_utc())
        for check, dropped in compiled.exclude:
            if check(post):
                return dropped
        if not compiled.include:
            return KEEP_ALL
        first = None
        more = None
        for entry in compiled.include:
            if entry[0](post):
                if first is None:
                    first = entry
                elif more is None:
                    more = [first, entry]
                else:
                    more.append(entry)
        if first is None:
            return NOT_INCLUDED
        if more is None:
            return first[3]
        return Verdict(True, tuple(entry[1] for entry in more), sum(entry[2] for entry in more))

    def explain(self, post: Post, now: datetime | None = None) -> list[RuleResult]:
        """Every rule's outcome, exclude rules first, in file order (slow path: no short cut)."""
        compiled = self._checks()
        if compiled.cutoffs:
            self._set_now(compiled, now or now_utc())
        results = [
            RuleResult("exclude", rule.name, rule.line, bool(check(post)), 0.0)
            for rule, (check, _) in zip(self.exclude_rules, compiled.exclude, strict=True)
        ]
        results.extend(
            RuleResult("include", rule.name, rule.line, bool(entry[0](post)), rule.boost)
            for rule, entry in zip(self.include_rules, compiled.include, strict=True)
        )
        return results

    def _set_now(self, compiled: _Compiled, now: datetime) -> None:
        self._now = now
        for cutoff in compiled.cutoffs:
            cutoff.iso = to_iso(now - cutoff.age)


class _Compiled:
    """A RuleSet's checks: (check, verdict) per exclude rule, (check, name, boost, verdict) per
    include rule, the `max_age` cutoffs they share, and the regex stats."""

    __slots__ = ("exclude", "include", "cutoffs", "stats")

    def __init__(self, exclude: tuple, include: tuple, cutoffs: tuple, stats: Any) -> None:
        self.exclude = exclude
        self.include = include
        self.cutoffs = cutoffs
        self.stats = stats


def _has_max_age(rule: Rule) -> bool:
    """Whether a `max_age` condition is anywhere in the rule, its `all:`, `any:` and `not:` included."""
    for condition in rule.conditions:
        if condition.key == "max_age":
            return True
        if condition.key in ("all", "any", "not") and any(_has_max_age(inner) for inner in condition.value):
            return True
    return False


def compile_rules(filter_file: FilterFile) -> RuleSet:
    """A loaded filter file's exclude and include rules, compiled when a post is first judged
    (each regex when it is first searched)."""
    return RuleSet(filter_file.exclude, filter_file.include, filter_file.voices)
