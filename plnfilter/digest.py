"""The top of a digest: kept posts from a time window, re-scored at `now`, capped and mixed by `rank.select_top`.

Scores in the archive were computed when each post was fetched, so their recency parts are from
different moments; a digest re-scores every candidate at one `now` so they compare fairly.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plnfilter.filterfile.model import FilterFile, RankConfig
from plnfilter.post import Post
from plnfilter.rank import Score, score, select_top, voice_grouper
from plnfilter.rules import RuleSet, Verdict, compile_rules
from plnfilter.store import Judged, get_post, judged_row
from plnfilter.store.filters import filter_names
from plnfilter.store.read import posts_with_verdicts
from plnfilter.store.select import is_public

NO_GROUP = {"rule": "(no rule)", "tag": "(no tag)"}


@dataclass
class Ranked:
    """A kept post with the verdict and score it has now (`rank.select_top` reads .score and .post)."""

    post: Post
    verdict: Verdict
    score: Score
    group: str = ""
    voice_group: str = ""  # the author's `voices:` group, which labels the card

    def row(self, rank: int) -> dict[str, Any]:
        """An output row: the archive's post columns, the new score (whole: CSV and tables round it),
        its place, its group and its author's voice group."""
        row = judged_row(Judged(self.post, self.verdict.kept, self.score.total, self.verdict.matched))
        row["html"] = self.post.html
        return {"rank": rank, "group": self.group, "voice_group": self.voice_group or None, **row}


@dataclass(frozen=True)
class Ranking:
    """How to judge and score: a filter file's rules and rank settings, or the archive's verdicts and defaults."""

    rules: RuleSet | None
    config: RankConfig
    filter_name: str | None = None  # whose stored verdicts choose the candidates

    @classmethod
    def from_filter(cls, filter_file: FilterFile | None, filter_name: str | None = None) -> Ranking:
        """A filter file's rules and settings with its own stored verdicts, else the stored verdicts
        of the filter `filter_name` with the default settings."""
        if filter_file is None:
            return cls(None, RankConfig(), filter_name)
        return cls(compile_rules(filter_file), filter_file.rank, filter_file.name)

    def judge(self, post: Post, stored_kept: bool, stored_matched: tuple[str, ...], now: datetime) -> Verdict:
        """The filter file's verdict when there is one; otherwise what the archive recorded (no boosts)."""
        if self.rules is not None:
            return self.rules.evaluate(post, now)
        return Verdict(kept=stored_kept, matched=stored_matched)


def rescore(
    conn: sqlite3.Connection,
    ranking: Ranking,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    public_only: bool = False,
    left_out: list[int] | None = None,
    seen_since: datetime | None = None,
) -> list[Ranked]:
    """Every post kept in the archive (and, with a filter file, still kept by its rules), scored at `now`;
    `seen_since`: only posts first seen here from then on."""
    ranked = []
    # Scanned without `raw`; `with_raw` fetches it for the few chosen posts (the HTML export finds
    # images there).
    # A filter file that never judged this archive judges every post in the window itself.
    unjudged = ranking.rules is not None and ranking.filter_name not in filter_names(conn)
    candidates = posts_with_verdicts(
        conn, since, until, filter_name=ranking.filter_name, unjudged=unjudged, seen_since=seen_since
    )
    hidden = 0
    for post, kept, matched in candidates:
        verdict = ranking.judge(post, kept, matched, now)
        if verdict.kept and public_only and not is_public(post):
            hidden += 1  # publishing: not for people who may not see it
            continue
        if verdict.kept:
            ranked.append(Ranked(post, verdict, score(post, verdict, now, ranking.config)))
    ranked.sort(key=lambda item: item.post.uri)
    ranked.sort(key=lambda item: item.post.created_at, reverse=True)
    ranked.sort(key=lambda item: item.score.total, reverse=True)  # ties: newest first
    if left_out is not None:
        left_out.append(hidden)
    return ranked


def top_posts(ranked: Iterable[Ranked], config: RankConfig, limit: int | None) -> list[Ranked]:
    """`rank.select_top` over re-scored posts: caps per author and instance, places for mixed voices."""
    return list(select_top(list(ranked), config, limit))


def assign_groups(chosen: list[Ranked], by: str) -> list[Ranked]:
    """Put each post in one section: its first matching include rule (file order), or the tag most of
    the chosen posts share (ties: the post's own tag order).

    Returns the posts ordered section by section; sections appear in the order of their best post.
    """
    if by not in NO_GROUP:
        raise ValueError(f"group by 'rule' or 'tag', not {by!r}")
    if by == "rule":
        for item in chosen:
            item.group = item.verdict.matched[0] if item.verdict.matched else NO_GROUP[by]
    else:
        popularity = Counter(tag for item in chosen for tag in dict.fromkeys(item.post.tags))
        for item in chosen:
            tags = item.post.tags
            item.group = (
                max(tags, key=lambda tag: (popularity[tag], -tags.index(tag))) if tags else NO_GROUP[by]
            )
    first_seen: dict[str, int] = {}
    for position, item in enumerate(chosen):
        first_seen.setdefault(item.group, position)
    order = {id(item): position for position, item in enumerate(chosen)}
    return sorted(chosen, key=lambda item: (first_seen[item.group], order[id(item)]))


def build_digest(
    conn: sqlite3.Connection,
    filter_file: FilterFile | None,
    now: datetime,
    since: datetime | None,
    limit: int | None = 20,
    by: str | None = None,
    with_raw: bool = False,
    filter_name: str | None = None,
    public_only: bool = False,
    left_out: list[int] | None = None,
    until: datetime | None = None,
    seen_since: datetime | None = None,
    voices: Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """What `plnfilter top` prints: the chosen posts as rows, grouped when asked (`raw` added if `with_raw`).

    The candidates are the posts `filter_file` (else the filter `filter_name`) keeps in the archive.
    Each row's `voice_group` comes from `filter_file`'s `voices:`, else from `voices` (group -> people)."""
    ranking = Ranking.from_filter(filter_file, filter_name)
    ranked = rescore(
        conn, ranking, now, since, until, public_only=public_only, left_out=left_out, seen_since=seen_since
    )
    chosen = top_posts(ranked, ranking.config, limit)
    group_of = voice_grouper(voices if filter_file is None and voices is not None else ranking.config)
    for item in chosen:
        item.voice_group = group_of(item.post)
    numbered = {id(item): rank for rank, item in enumerate(chosen, start=1)}
    if by:
        chosen = assign_groups(chosen, by)
    rows = [item.row(numbered[id(item)]) for item in chosen]
    if with_raw:
        for row in rows:
            stored = get_post(conn, row["uri"])
            row["raw"] = stored.raw if stored else {}
    return rows
