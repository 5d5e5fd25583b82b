"""Why one post scored what it did: the rules it matched, each part of its score, its verdict and its rank."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plnfilter.digest import Ranked, Ranking, rescore, top_posts
from plnfilter.errors import UsageError
from plnfilter.filterfile.model import FilterFile, RankConfig
from plnfilter.post import Post
from plnfilter.rank import Score, author_matches, instance_of, score, voice_grouper
from plnfilter.rules import RuleResult, Verdict
from plnfilter.times import to_iso

if TYPE_CHECKING:  # `top` and `explain` start without loading sqlite-utils
    import sqlite_utils

SCORE_PARTS_HELP = {
    "engagement": "log(1 + weighted likes, reposts, replies, quotes)",
    "recency": "1 when new, halving every half_life",
    "boost": "sum of the boosts of matching include rules",
    "trusted": "1 when the author is listed under voices: trusted",
}


@dataclass
class Explanation:
    """Everything `plnfilter explain` says about one post."""

    post: Post
    verdict: Verdict
    score: Score
    now: datetime
    since: datetime | None
    stored_kept: bool | None  # None: the filter has not judged this post
    stored_score: float
    stored_matched: tuple[str, ...]
    stored_dropped_by: str = ""
    filter_name: str = ""
    rules: list[RuleResult] = field(default_factory=list)
    filter_path: str = ""
    rank: int | None = None  # 1-based among kept posts in the window, by score at `now`
    ranked_among: int = 0
    top_position: int | None = None  # place in `plnfilter top --limit top_limit`, after caps and mix
    top_limit: int = 20
    left_out_because: str = ""  # why a ranked post is not in `top --limit top_limit`

    voice_group: str = ""  # the `voices:` group of the post's author, if any

    @property
    def reason(self) -> str:
        return self.verdict.reason

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`--format json`)."""
        return {
            "uri": self.post.uri,
            "url": self.post.url,
            "network": self.post.network,
            "author": self.post.author,
            "created_at": self.post.created_at,
            "text": self.post.text,
            "lang": self.post.lang or None,
            "visibility": self.post.visibility,
            "author_opt_out": self.post.author_opt_out,
            "voice_group": self.voice_group or None,
            "filter": self.filter_name or None,
            "filter_file": self.filter_path or None,
            "kept": self.verdict.kept,
            "reason": self.reason,
            "dropped_by": self.verdict.dropped_by or None,
            "matched": list(self.verdict.matched),
            "rules": [
                {"section": r.section, "name": r.name, "line": r.line, "matched": r.matched, "boost": r.boost}
                for r in self.rules
            ],
            "score": round(self.score.total, 4),
            "parts": {name: round(value, 4) for name, value in self.score.parts.items()},
            "scored_at": to_iso(self.now),
            "rank": self.rank,
            "ranked_among": self.ranked_among,
            "window_since": to_iso(self.since) if self.since else None,
            "top_position": self.top_position,
            "top_limit": self.top_limit,
            "left_out_because": self.left_out_because or None,
            "stored": {
                "filter": self.filter_name or None,
                "kept": self.stored_kept,
                "score": self.stored_score,
                "matched": list(self.stored_matched),
                "dropped_by": self.stored_dropped_by or None,
            },
        }


def find_stored(
    conn: sqlite3.Connection | sqlite_utils.Database, uri: str, filter_name: str | None = None
) -> tuple[Post, bool | None, float, tuple[str, ...], str]:
    """The post with this uri (or web URL) and the verdict the filter `filter_name` stored on it (kept
    is None when that filter has not judged it); UsageError when it is not archived."""
    from plnfilter.store.read import get_post, stored_verdict, uri_of_url

    post = get_post(conn, uri)
    if post is None:
        found = uri_of_url(conn, uri)
        post = get_post(conn, found) if found else None
    if post is None:
        raise UsageError(
            f"no post {uri!r} in the archive",
            "give its uri (at://... or the Mastodon status uri) or web URL, as `plnfilter query --format jsonl` shows",
        )
    return (post, *stored_verdict(conn, post.uri, filter_name))


def explain(
    conn: sqlite3.Connection | sqlite_utils.Database,
    uri: str,
    filter_file: FilterFile | None,
    now: datetime,
    since: datetime | None = None,
    top_limit: int = 20,
    filter_name: str | None = None,
    until: datetime | None = None,
) -> Explanation:
    """Judge and score one archived post as `plnfilter top` would, and find its place among the kept posts.

    The stored verdict is `filter_file`'s own (by its `name:`), else the filter `filter_name`'s."""
    ranking = Ranking.from_filter(filter_file, filter_name)
    post, stored_kept, stored_score, stored_matched, stored_dropped_by = find_stored(
        conn, uri, ranking.filter_name
    )
    if ranking.rules is not None:
        verdict = ranking.rules.evaluate(post, now)
    else:
        verdict = Verdict(kept=bool(stored_kept), matched=stored_matched, dropped_by=stored_dropped_by)
    result = Explanation(
        post=post,
        verdict=verdict,
        score=score(post, verdict, now, ranking.config),
        now=now,
        since=since,
        stored_kept=stored_kept,
        stored_score=stored_score,
        stored_matched=stored_matched,
        stored_dropped_by=stored_dropped_by,
        filter_name=ranking.filter_name or "",
        rules=ranking.rules.explain(post, now) if ranking.rules is not None else [],
        filter_path=filter_file.path if filter_file else "",
        top_limit=top_limit,
        voice_group=voice_grouper(ranking.config)(post),
    )
    ranked = rescore(conn, ranking, now, since, until)
    result.ranked_among = len(ranked)
    in_window = (since is None or post.created_at >= to_iso(since)) and (
        until is None or post.created_at < to_iso(until)
    )
    if verdict.kept and in_window:
        position = _position(ranked, post.uri)
        if position is None:  # kept by the filter file now, but stored as dropped: rank it as it would be
            ranked.append(Ranked(post, verdict, result.score))
            ranked.sort(key=lambda item: item.score.total, reverse=True)
            result.ranked_among = len(ranked)
            position = _position(ranked, post.uri)
        result.rank = position
        top = top_posts(ranked, ranking.config, top_limit)
        result.top_position = _position(top, post.uri)
        if result.top_position is None:
            result.left_out_because = _why_left_out(post, result.score.total, top, ranking.config, top_limit)
    return result


def _stored_line(result: Explanation) -> str:
    """What the archive holds for the post from the chosen filter."""
    name = f" of filter '{result.filter_name}'" if result.filter_name else ""
    if result.stored_kept is None:
        return f"Stored verdict{name}: none (not judged yet: run or apply that filter)"
    matched = ", ".join(result.stored_matched) or "none"
    verdict = "kept" if result.stored_kept else "dropped"
    if not result.stored_kept and result.stored_dropped_by:
        verdict += f" by exclude rule '{result.stored_dropped_by}'"
    return f"Stored verdict{name}: {verdict}; include rules matched: {matched}"


def _why_left_out(post: Post, total: float, top: list[Ranked], config: RankConfig, limit: int) -> str:
    """The first reason `select_top` passed over a kept post: a cap, places kept by `mix`, or better posts."""
    author = post.author.lower()
    if (
        config.max_per_author
        and sum(1 for i in top if i.post.author.lower() == author) >= config.max_per_author
    ):
        return f"{post.author} already has {config.max_per_author} posts there (rank.max_per_author)"
    instance = instance_of(post)
    if (
        config.max_per_instance
        and instance
        and sum(1 for i in top if instance_of(i.post) == instance) >= config.max_per_instance
    ):
        return f"{instance} already has {config.max_per_instance} posts there (rank.max_per_instance)"
    voices = frozenset(person for group in config.mix for person in getattr(config, group, ()))
    reserved = sorted(
        {i.post.author for i in top if i.score.total < total and author_matches(i.post, voices)}
    )
    if reserved:
        return f"places kept by rank.mix ({', '.join(config.mix)}) went to lower-scored posts by {', '.join(reserved)}"
    return f"the {limit} places went to higher-scored posts"


def _position(items: list[Ranked], uri: str) -> int | None:
    for index, item in enumerate(items, start=1):
        if item.post.uri == uri:
            return index
    return None


def explanation_lines(result: Explanation) -> list[str]:
    """Readable lines: what the post is, the verdict and why, each score part, and its rank."""
    post = result.post
    lines = [
        f"{post.uri}",
        f"  {post.network} post by {post.author or '(unknown author)'} at {post.created_at or '(unknown time)'}",
    ]
    if post.url:
        lines.append(f"  {post.url}")
    facts = f"  language {post.lang or 'unknown'}, visible to {post.visibility}"
    if post.author_opt_out:
        facts += ", author opted out of being shown to people not logged in"
    facts += f", voice group {result.voice_group}" if result.voice_group else ", in no voices: group"
    lines.append(facts)
    excerpt = " ".join(post.text.split())
    if excerpt:
        cut = excerpt if len(excerpt) <= 200 else excerpt[:199] + "\u2026"
        lines.append(f"  \u201c{cut}\u201d")
    lines.append("")
    lines.append(("KEPT: " if result.verdict.kept else "DROPPED: ") + result.reason)
    if result.rules:
        lines.append(f"Rules in {result.filter_path}:")
        for rule in result.rules:
            mark = "matched" if rule.matched else "no match"
            boost = f", boost {rule.boost:g}" if rule.section == "include" and rule.boost else ""
            effect = ""
            if rule.matched and rule.section == "exclude" and rule.name == result.verdict.dropped_by:
                effect = "  <- dropped it"
            lines.append(f"  {rule.section:7} {rule.name} (line {rule.line}): {mark}{boost}{effect}")
    else:
        lines.append(_stored_line(result))
        lines.append("  (give the filter file to see every rule's outcome and its boosts)")
    if result.filter_path and result.stored_kept is not None and result.verdict.kept != result.stored_kept:
        lines.append(
            f"  The archive says {'kept' if result.stored_kept else 'dropped'}: "
            f"run `plnfilter apply {result.filter_path}` to store the current rules' verdicts"
        )
    lines.append("")
    lines.append(f"Score at {to_iso(result.now)}: {result.score.total:.3f}")
    for name, value in result.score.parts.items():
        meaning = SCORE_PARTS_HELP.get(name, "")
        lines.append(f"  {name:10} {value:+.3f}" + (f"   {meaning}" if meaning else ""))
    lines.append(f"  (stored score when archived: {result.stored_score:.3f})")
    lines.append("")
    window = f"since {to_iso(result.since)}" if result.since else "in the archive"
    if result.rank is None:
        if not result.verdict.kept:
            lines.append(
                f"Rank: none (dropped posts are not ranked; {result.ranked_among} kept posts {window})"
            )
        else:
            lines.append(f"Rank: none (older than the window: {result.ranked_among} kept posts {window})")
    else:
        lines.append(f"Rank: {result.rank} of {result.ranked_among} kept posts {window}")
        if result.top_position is not None:
            lines.append(f"  In `plnfilter top --limit {result.top_limit}`: place {result.top_position}")
        else:
            lines.append(f"  Not in `plnfilter top --limit {result.top_limit}`: {result.left_out_because}")
    return lines


__all__ = ["Explanation", "explain", "explanation_lines", "find_stored"]
