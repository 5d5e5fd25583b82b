"""Judge posts: every rule evaluated and the score computed, for the pipeline, the count refresh,
`apply` and stream mode alike (below all of them, so none imports another for it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def judge(posts: Iterable, ruleset, rank_config, now: datetime) -> list:
    """Evaluate and score every post: every post is stored, kept or not."""
    from plnfilter.rank import score
    from plnfilter.store import Judged

    judged = []
    for post in posts:
        verdict = ruleset.evaluate(post, now)
        total = score(post, verdict, now, rank_config).total
        judged.append(Judged(post, verdict.kept, total, verdict.matched, verdict.dropped_by))
    return judged


_remembered: dict[int, tuple[object, str]] = {}  # id -> (a filter file from filterfile.cache, its digest)


def remember_digest(filter_file, digest: str) -> None:
    """`filterfile.cache` read this filter file with the digest it had when it was checked."""
    _remembered[id(filter_file)] = (filter_file, digest)


def remembered_digest(filter_file) -> str | None:
    """The digest `remember_digest` was told for this very object, else None."""
    known = _remembered.get(id(filter_file))
    return known[1] if known is not None and known[0] is filter_file else None


def rules_digest(filter_file) -> str:
    """A hash of what decides a verdict and a score (rules, rank settings, voices), not of line
    numbers, comments or sources: a filter's stored verdicts are current only under the same hash."""
    remembered = remembered_digest(filter_file)  # worked out when the file was checked, by this same code
    if remembered is not None:
        return remembered
    import dataclasses
    import hashlib

    def plain(value):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "line"
            }
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, list | tuple | set | frozenset):
            items = [plain(v) for v in value]
            return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
        if hasattr(value, "pattern"):  # a compiled regex
            return ["re", value.pattern, getattr(value, "flags", 0)]
        return repr(value)

    shape = [
        plain(filter_file.exclude),
        plain(filter_file.include),
        plain(filter_file.rank),
        plain(filter_file.voices),
    ]
    return hashlib.sha256(repr(shape).encode("utf-8", "surrogatepass")).hexdigest()
