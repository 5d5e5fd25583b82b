"""Judge posts with a filter file's rules: dropped when any exclude rule matches, then kept when
any include rule matches (or always, when there are none).

`compile_rules(filter_file)` turns the rules into closures once; `RuleSet.evaluate(post, now)`
is the hot path (run over every fetched post and over the whole archive by `apply`), so it
allocates nothing for the common verdicts. A RuleSet may be shared by threads judging at the same `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.post import Post
from plnfilter.times import now_utc, to_iso

if TYPE_CHECKING:
    from plnfilter.filterfile.model import FilterFile, Rule
    from plnfilter.rules.predicates import Check

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
        from plnfilter.rules.predicates import Compiler  # the matchers (regex) load with the first rules

        compiler = Compiler(voices)
        self.exclude_rules = tuple(exclude)
        self.include_rules = tuple(include)
        self._exclude: tuple[tuple[Check, Verdict], ...] = tuple(
            (compiler.rule(rule), Verdict(kept=False, dropped_by=rule.name)) for rule in self.exclude_rules
        )
        self._include: tuple[tuple[Check, str, float, Verdict], ...] = tuple(
            (compiler.rule(rule), rule.name, rule.boost, Verdict(True, (rule.name,), rule.boost))
            for rule in self.include_rules
        )
        self._boosts = {rule.name: rule.boost for rule in self.include_rules}
        self._cutoffs = tuple(compiler.cutoffs)
        self._stats = compiler.stats
        self._now: datetime | None = None

    @property
    def depends_on_time(self) -> bool:
        """Whether a verdict depends on `now` (a `max_age` condition), not on the post alone."""
        return bool(self._cutoffs)

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
        return self._stats.timeouts

    def evaluate(self, post: Post, now: datetime | None = None) -> Verdict:
        """The verdict for one post; `now` anchors `max_age` (default: the current time)."""
        if self._cutoffs and (now is None or now != self._now):
            self._set_now(now or now_utc())
        for check, dropped in self._exclude:
            if check(post):
                return dropped
        if not self._include:
            return KEEP_ALL
        first = None
        more = None
        for entry in self._include:
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
        if self._cutoffs:
            self._set_now(now or now_utc())
        results = [
            RuleResult("exclude", rule.name, rule.line, bool(check(post)), 0.0)
            for rule, (check, _) in zip(self.exclude_rules, self._exclude, strict=True)
        ]
        results.extend(
            RuleResult("include", rule.name, rule.line, bool(entry[0](post)), rule.boost)
            for rule, entry in zip(self.include_rules, self._include, strict=True)
        )
        return results

    def _set_now(self, now: datetime) -> None:
        self._now = now
        for cutoff in self._cutoffs:
            cutoff.iso = to_iso(now - cutoff.age)


def compile_rules(filter_file: FilterFile) -> RuleSet:
    """Compile a loaded filter file's exclude and include rules (regexes compiled once, here)."""
    return RuleSet(filter_file.exclude, filter_file.include, filter_file.voices)
