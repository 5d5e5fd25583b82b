"""The top of a digest: kept posts from a time window, re-scored at `now`, capped and mixed by `rank.select_top`.

Scores in the archive were computed when each post was fetched, so their recency parts are from
different moments; a digest re-scores every candidate at one `now` so they compare fairly.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from plnfilter.filterfile.rank_settings import RankConfig
from plnfilter.post import Post
from plnfilter.rank import Score, score, select_top, voice_grouper
from plnfilter.rules import RuleSet, Verdict, compile_rules
from plnfilter.store.columns import is_public
from plnfilter.store.filters import filter_names
from plnfilter.store.read import get_post, posts_with_verdicts, stored_html
from plnfilter.store.rows import judged_row, load_list, row_to_post

if TYPE_CHECKING:
    from plnfilter.filterfile.model import FilterFile

NO_GROUP = {"rule": "(no rule)", "tag": "(no tag)"}


class Ranked:
    """A kept post with the verdict and score it has now (`rank.select_top` reads .score and .post).

    This and `Ranking` are plain classes: `@dataclass` compiles its methods with `exec` at every
    start, ~1 ms of `top`'s start-up for the two (issue 14)."""

    __slots__ = ("post", "verdict", "score", "group", "voice_group")

    def __init__(
        self, post: Post, verdict: Verdict, score: Score, group: str = "", voice_group: str = ""
    ) -> None:
        self.post = post
        self.verdict = verdict
        self.score = score
        self.group = group
        self.voice_group = voice_group  # the author's `voices:` group, which labels the card

    def row(self, rank: int) -> dict[str, Any]:
        """An output row: the archive's post columns, the new score (whole: CSV and tables round it),
        its place, its group and its author's voice group."""
        # judged_row reads .post .kept .score .matched (store.Judged's fields; the save path's module
        # is not loaded for a digest)
        judged = SimpleNamespace(
            post=self.post, kept=self.verdict.kept, score=self.score.total, matched=self.verdict.matched
        )
        row = judged_row(judged)
        row["html"] = self.post.html
        return {"rank": rank, "group": self.group, "voice_group": self.voice_group or None, **row}


class Ranking:
    """How to judge and score: a filter file's rules and rank settings, or the archive's verdicts and defaults."""

    __slots__ = ("rules", "config", "filter_name", "rules_hash")

    def __init__(
        self,
        rules: RuleSet | None,
        config: RankConfig,
        filter_name: str | None = None,
        rules_hash: str | None = None,
    ) -> None:
        self.rules = rules
        self.config = config
        self.filter_name = filter_name  # whose stored verdicts choose the candidates
        # the filter file's `judge.rules_digest`: stored verdicts made under it are current
        self.rules_hash = rules_hash

    @classmethod
    def from_filter(cls, filter_file: FilterFile | None, filter_name: str | None = None) -> Ranking:
        """A filter file's rules and settings with its own stored verdicts, else the stored verdicts
        of the filter `filter_name` with the default settings."""
        if filter_file is None:
            return cls(None, RankConfig(), filter_name)
        from plnfilter.judge import rules_digest

        rules = compile_rules(filter_file)
        return cls(rules, filter_file.rank, filter_file.name, rules_digest(filter_file))

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
    with_links: bool = False,
) -> list[Ranked]:
    """Every post kept in the archive (and, with a filter file, still kept by its rules), scored at `now`;
    `seen_since`: only posts first seen here from then on; `with_links`: only posts with a link or a
    link card (all `links` reads)."""
    ranked = []
    # Scanned without `raw`; `with_raw` fetches it for the few chosen posts (the HTML export finds
    # images there).
    # A filter file that never judged this archive judges every post in the window itself.
    unjudged = ranking.rules is not None and ranking.filter_name not in filter_names(conn)
    candidates = posts_with_verdicts(
        conn,
        since,
        until,
        filter_name=ranking.filter_name,
        unjudged=unjudged,
        seen_since=seen_since,
        with_links=with_links,
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


def best_posts(
    conn: sqlite3.Connection,
    ranking: Ranking,
    now: datetime,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    *,
    public_only: bool = False,
    left_out: list[int] | None = None,
    seen_since: datetime | None = None,
) -> list[Ranked]:
    """`top_posts(rescore(...))`, the same posts, scoring only as many candidates as choosing needs.

    The archive hands the window's kept posts best first by a bound on their score
    (`store.ranking`); they are scored in that order until the choice among them cannot change:
    until `select_top` fills `limit` places before reaching a stand-in scored at the next post's
    bound, checked after `limit` posts and then after a quarter more each time. Falls back to scoring every candidate when the stored verdicts cannot stand for the rules
    (a filter that has not judged this archive, rules changed since, or rules that depend on the
    time), or when this SQLite has no math functions.
    """
    from plnfilter.store.ranking import UNBOUNDED, best_first

    terms = _score_terms(conn, ranking)
    if terms is None or limit is None or ranking.filter_name is None:
        ranked = rescore(
            conn,
            ranking,
            now,
            since,
            until,
            public_only=public_only,
            left_out=left_out,
            seen_since=seen_since,
        )
        return top_posts(ranked, ranking.config, limit)
    rows, hidden = best_first(
        conn,
        ranking.filter_name,
        terms,
        now,
        since,
        until,
        seen_since,
        current_only=ranking.rules is not None,
        public_only=public_only,
        first_chunk=limit + 1,  # the chosen and the next one's bound, when they settle it at once
    )
    scored: list[Ranked] = []
    chosen = None
    check_at = limit
    for row, bound, current in rows:
        if len(scored) >= check_at and bound < UNBOUNDED:
            chosen = _settled(scored, ranking.config, limit, bound)
            if chosen is not None:
                break
            check_at += max(check_at // 4, 1)  # a cap or a `mix` place usually needs only a few more
        post = row_to_post(row)
        matched = tuple(load_list(row["matched"]))
        if current and ranking.rules is not None:
            verdict = ranking.rules.stored(matched)
        else:
            verdict = ranking.judge(post, bool(row["kept"]), matched, now)
        if not verdict.kept:
            continue
        if public_only and not is_public(post):
            hidden += 1
            continue
        scored.append(Ranked(post, verdict, score(post, verdict, now, ranking.config)))
    if left_out is not None:
        left_out.append(hidden)
    return chosen if chosen is not None else top_posts(_in_order(scored), ranking.config, limit)


def _score_terms(conn: sqlite3.Connection, ranking: Ranking):
    """`rank.score`'s terms for `store.ranking`, or None when stored verdicts cannot stand in for the rules."""
    from plnfilter.rank import NEUTRAL_LIKES, NEUTRAL_REPOSTS, without_counts
    from plnfilter.store.ranking import ScoreTerms, has_math
    from plnfilter.store.verdicts import rules_hash

    if ranking.filter_name is None or ranking.filter_name not in filter_names(conn) or not has_math(conn):
        return None
    rules = ranking.rules
    if rules is not None and (
        rules.depends_on_time or rules_hash(conn, ranking.filter_name) != ranking.rules_hash
    ):
        return None
    config = ranking.config
    weights, counts = config.weights, config.interactions
    mixed = tuple(person for group in config.mix for person in getattr(config, group, ()))
    return ScoreTerms(
        engagement=weights.get("engagement", 1.0),
        recency=weights.get("recency", 1.0),
        boost=weights.get("boost", 1.0),
        trusted=weights.get("trusted", 1.0),
        likes=counts.get("likes", 1.0),
        reposts=counts.get("reposts", 1.0),
        replies=counts.get("replies", 1.0),
        quotes=counts.get("quotes", 1.0),
        neutral=counts.get("likes", 1.0) * NEUTRAL_LIKES + counts.get("reposts", 1.0) * NEUTRAL_REPOSTS,
        half_life_seconds=config.half_life.total_seconds(),
        without_counts=without_counts(),
        boosts=rules.include_boosts() if rules is not None else None,
        trusted_people=tuple(config.trusted),
        mixed_people=mixed,
    )


def _in_order(scored: list[Ranked]) -> list[Ranked]:
    """As `rescore` orders them: best score first, then newest, then by uri."""
    scored.sort(key=lambda item: item.post.uri)
    scored.sort(key=lambda item: item.post.created_at, reverse=True)
    scored.sort(key=lambda item: item.score.total, reverse=True)
    return scored


def _settled(scored: list[Ranked], config: RankConfig, limit: int, bound: float) -> list[Ranked] | None:
    """`select_top`'s choice among the posts scored so far, if the ones not yet scored (each at most
    `bound`) cannot change it: a stand-in just above `bound`, last among equals, is not reached."""
    from plnfilter.store.ranking import MARGIN

    stand_in = {"author": "\x00unscored", "instance": "\x00unscored", "score": bound + MARGIN}
    chosen = select_top([*_in_order(scored), stand_in], config, limit)
    if any(item is stand_in for item in chosen):
        return None
    return chosen


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
    chosen = best_posts(
        conn,
        ranking,
        now,
        since,
        until,
        limit,
        public_only=public_only,
        left_out=left_out,
        seen_since=seen_since,
    )
    group_of = voice_grouper(voices if filter_file is None and voices is not None else ranking.config)
    for item in chosen:
        item.voice_group = group_of(item.post)
    numbered = {id(item): rank for rank, item in enumerate(chosen, start=1)}
    if by:
        chosen = assign_groups(chosen, by)
    rows = [item.row(numbered[id(item)]) for item in chosen]
    # The scans leave a Mastodon post's html in its raw object (`store.rows.stored_form`).
    html = stored_html(conn, [row["uri"] for row in rows if not row["html"]])
    for row in rows:
        if row["uri"] in html:
            row["html"] = html[row["uri"]]
    if with_raw:
        for row in rows:
            stored = get_post(conn, row["uri"])
            row["raw"] = stored.raw if stored else {}
    return rows
