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
        judged.append(Judged(post, verdict.kept, total, verdict.matched))
    return judged
