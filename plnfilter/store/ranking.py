"""A digest's candidates best first by a bound on the score `rank.score` will give them, so `top`
builds and scores only the few it needs instead of every kept post of the window.

The bound is `rank.score` written in SQL from a post's counts, its time and the filter's stored
verdict (the boosts of the include rules it matched), plus a margin for rounding; it may be above
the score, never below. Posts whose score it cannot bound come first, as unbounded, and the caller
scores them all: a verdict judged before the post was last saved (the rules judge it again), a time
SQLite cannot read, an author SQLite's ASCII-only lower() may misread while trusted or mixed voices
are named, and a voice that `mix` reserves places for.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from plnfilter.store.archive import db_errors
from plnfilter.store.columns import PUBLIC_SQL
from plnfilter.store.read import SCAN_COLUMNS
from plnfilter.times import to_iso

UNBOUNDED = 1e308
MARGIN = 1e-6
"""Added to every bound: SQLite's ln/pow/julianday and Python's log1p/**/datetime agree far closer."""

_PLAIN_NAME = r"[A-Za-z0-9 _.\-]+"  # a rule name JSON writes as itself (compiled when first used)
_FIRST_CHUNK = 64  # rows fetched whole at first; each later chunk a quarter of those before
_COUNTS = ("likes", "reposts", "replies", "quotes")  # in `ScoreTerms`' order of their weights
_SORTED = 256  # at least this many of the window's posts are sorted by the first query


class ScoreTerms:
    """What `rank.score` weighs, as plain values: weights, per-interaction weights, the half-life.

    A plain class, not a dataclass: `@dataclass` compiles its methods with `exec` at every start
    (~1 ms of `top`'s start-up for this one, issue 14)."""

    __slots__ = (
        "engagement",
        "recency",
        "boost",
        "trusted",
        "likes",
        "reposts",
        "replies",
        "quotes",
        "neutral",
        "half_life_seconds",
        "without_counts",
        "boosts",
        "trusted_people",
        "mixed_people",
    )

    def __init__(
        self,
        *,
        engagement: float,
        recency: float,
        boost: float,
        trusted: float,
        likes: float,
        reposts: float,
        replies: float,
        quotes: float,
        neutral: float,  # the interactions of a post whose network has no counts
        half_life_seconds: float,
        without_counts: tuple[str, ...],  # networks whose posts have no counts
        boosts: dict[str, float] | None,  # include rule -> boost; None: verdicts carry no boost
        trusted_people: tuple[str, ...],
        mixed_people: tuple[str, ...],  # voices `mix` reserves places for: always scored
    ) -> None:
        self.engagement = engagement
        self.recency = recency
        self.boost = boost
        self.trusted = trusted
        self.likes = likes
        self.reposts = reposts
        self.replies = replies
        self.quotes = quotes
        self.neutral = neutral
        self.half_life_seconds = half_life_seconds
        self.without_counts = without_counts
        self.boosts = boosts
        self.trusted_people = trusted_people
        self.mixed_people = mixed_people


def has_math(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has ln() and pow() (SQLITE_ENABLE_MATH_FUNCTIONS)."""
    try:
        conn.execute("SELECT ln(1.0), pow(0.5, 1.0)").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def _julian_day(moment: datetime) -> float:
    return 2440587.5 + moment.timestamp() / 86400.0


def _bound_sql(terms: ScoreTerms, now: datetime, current: str) -> tuple[str, list[Any]]:
    """The bound's expression (NULL when SQLite cannot read the post's time) and its parameters."""
    params: list[Any] = [terms.engagement]
    # Each count as max(coalesce(count, 0), 0), written as CASE: the same value (NULL > 0 is not
    # true; max() and > compare alike), without a function call per count and post (~0.4 ms a window).
    each = (f"? * CASE WHEN posts.{name} > 0 THEN posts.{name} ELSE 0 END" for name in _COUNTS)
    counted = f"({' + '.join(each)})"
    if terms.without_counts:
        marks = ", ".join("?" for _ in terms.without_counts)
        interactions = f"CASE WHEN posts.network IN ({marks}) THEN ? ELSE {counted} END"
        params += [*terms.without_counts, terms.neutral]
    else:
        interactions = counted
    params += [terms.likes, terms.reposts, terms.replies, terms.quotes]
    parts = [f"? * ln(1.0 + max({interactions}, 0.0))"]
    if terms.half_life_seconds > 0:
        parts.append("? * pow(0.5, max((? - julianday(posts.created_at)) * 86400.0, 0.0) / ?)")
        params += [terms.recency, _julian_day(now), terms.half_life_seconds]
    for name, boost in (terms.boosts or {}).items():
        if not boost:
            continue
        if re.fullmatch(_PLAIN_NAME, name):
            parts.append("CASE WHEN instr(verdicts.matched, ?) > 0 THEN ? ELSE 0.0 END")
            params += [json.dumps(name), terms.boost * boost]
        elif terms.boost * boost > 0:  # a name JSON may escape: count its boost as if matched
            parts.append("?")
            params.append(terms.boost * boost)
    unbounded = [f"NOT ({current})"]
    unbounded_params: list[Any] = []
    people = ("posts.author", "posts.author_id")
    if terms.trusted_people:
        trusted = json.dumps(list(terms.trusted_people))
        parts.append(
            "CASE WHEN lower(ltrim(coalesce(posts.author, ''), '@')) IN (SELECT value FROM json_each(?)) "
            "OR lower(coalesce(posts.author_id, '')) IN (SELECT value FROM json_each(?)) THEN ? ELSE 0.0 END"
        )
        params += [trusted, trusted, terms.trusted]
    if terms.trusted_people or terms.mixed_people:
        # SQLite's lower() folds ASCII only: an author with other letters is scored in Python.
        unbounded += [f"coalesce({column}, '') GLOB '*[^ -~]*'" for column in people]
    if terms.mixed_people:
        mixed = json.dumps(list(terms.mixed_people))
        unbounded.append(
            "lower(ltrim(coalesce(posts.author, ''), '@')) IN (SELECT value FROM json_each(?)) "
            "OR lower(coalesce(posts.author_id, '')) IN (SELECT value FROM json_each(?))"
        )
        unbounded_params += [mixed, mixed]
    bound = " + ".join(parts)
    sql = f"CASE WHEN {' OR '.join(f'({u})' for u in unbounded)} THEN {UNBOUNDED} ELSE {bound} + ? END"
    return f"coalesce({sql}, {UNBOUNDED})", [*unbounded_params, *params, MARGIN]


def best_first(
    conn: sqlite3.Connection,
    filter_name: str,
    terms: ScoreTerms,
    now: datetime,
    since: datetime | None,
    until: datetime | None,
    seen_since: datetime | None,
    *,
    current_only: bool,
    public_only: bool,
    first_chunk: int = _FIRST_CHUNK,
) -> tuple[Iterator[tuple[dict[str, Any], float, bool]], int]:
    """The window's posts the filter kept, best bound first: (row without `raw`, with `kept` and
    `matched`; bound; whether the stored verdict is current), and how many current ones were left
    out for not being public.

    `current_only`: a verdict counts as current only when it was judged after the post was last
    saved (the caller's rules judge the others again); otherwise every stored verdict is current.
    Only ids and bounds are sorted; the rows are read a chunk at a time as the caller goes on, the
    first `first_chunk` rows (a caller choosing N reads N+1 when the first N settle it), then a
    quarter more each time: N+1, then N + N//4 + 1, ..., for a caller that checks after N, N + N//4,
    ... (`best_posts`). `top FILTER`'s `keep: 50` is settled by 53 posts on the benchmark archive:
    it reads 63 rows, not 153 (the first chunk and then twice as many).
    """
    current = "verdicts.judged_at >= posts.last_seen" if current_only else "1"
    window: list[str] = ["verdicts.kept = 1"]
    params: list[Any] = []
    for condition, moment in (
        ("posts.created_at >= ?", since),
        ("posts.created_at < ?", until),
        ("posts.first_seen >= ?", seen_since),
    ):
        if moment is not None:
            window.append(condition)
            params.append(to_iso(moment))
    hidden = 0
    with db_errors(conn):
        source, source_params = _source(conn, filter_name, since, until)
        if public_only:
            hidden = conn.execute(
                f"SELECT count(*) FROM {source} WHERE {' AND '.join(window)} "  # noqa: S608
                f"AND ({current}) AND NOT ({PUBLIC_SQL})",
                [*source_params, *params],
            ).fetchone()[0]
            window.append(f"(NOT ({current}) OR ({PUBLIC_SQL}))")
        bound, bound_params = _bound_sql(terms, now, current)
        # Best bound first, equal bounds by id (the caller orders equal scores): the first `sorted_`
        # only, which SQLite sorts keeping just those; the rest, rarely wanted, by a second query.
        order_sql = (
            f"SELECT posts.id, {bound} AS bound, ({current}) FROM {source} "  # noqa: S608
            f"WHERE {' AND '.join(window)} ORDER BY bound DESC, posts.id LIMIT ? OFFSET ?"
        )
        order_params = [*bound_params, *source_params, *params]
        sorted_ = max(4 * first_chunk, _SORTED)

    def order() -> Iterator[tuple[int, float, int]]:
        with db_errors(conn):
            yield from conn.execute(order_sql, [*order_params, sorted_, 0])
            yield from conn.execute(order_sql, [*order_params, -1, sorted_])

    return _rows(conn, filter_name, order(), first_chunk), hidden


_CLUSTERED = 1.5
"""The window's posts count as stored together when their ids span at most this many times their number."""


def _source(
    conn: sqlite3.Connection, filter_name: str, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    """The join of the window's posts to the filter's verdicts, and its parameters.

    From the posts of the window (their time index) to each one's verdict, one look-up each; but
    when the window's posts sit together by id (an archive stores posts as it fetches them, so a
    day's posts are mostly neighbours), the filter's verdicts of that id range are read in one pass
    and each joined to its post by id: ~20% less CPU for the window query at 100k posts (7,180 posts
    in a day, ids spanning 8,700). The window's conditions apply in both, so the rows are the same."""
    by_time = 'posts CROSS JOIN verdicts ON verdicts.post_id = posts.id AND verdicts."filter" = ?'
    if since is None:
        return by_time, [filter_name]
    where, params = "created_at >= ?", [to_iso(since)]
    if until is not None:
        where, params = where + " AND created_at < ?", [*params, to_iso(until)]
    low, high, count = conn.execute(
        f"SELECT min(id), max(id), count(*) FROM posts WHERE {where}",  # noqa: S608
        params,
    ).fetchone()
    if not count or high - low + 1 > _CLUSTERED * count:
        return by_time, [filter_name]
    return (
        'verdicts CROSS JOIN posts ON posts.id = verdicts.post_id AND verdicts."filter" = ? '
        "AND verdicts.post_id BETWEEN ? AND ?",
        [filter_name, low, high],
    )


def _rows(
    conn: sqlite3.Connection, filter_name: str, order: Iterator[tuple[int, float, int]], first_chunk: int
) -> Iterator[tuple[dict[str, Any], float, bool]]:
    columns = ", ".join("posts." + c for c in SCAN_COLUMNS)
    sql = (
        f"SELECT posts.id, {columns}, verdicts.kept AS kept, verdicts.matched AS matched "  # noqa: S608
        'FROM posts JOIN verdicts ON verdicts.post_id = posts.id AND verdicts."filter" = ? '
        "WHERE posts.id IN (SELECT value FROM json_each(?))"
    )
    size = max(first_chunk, 1)
    fetched = 0
    while True:
        with db_errors(conn):
            chunk = list(islice(order, size))
            if not chunk:
                return
            cursor = conn.execute(sql, [filter_name, json.dumps([post_id for post_id, _, _ in chunk])])
            names = [d[0] for d in cursor.description][1:]
            rows = {values[0]: dict(zip(names, values[1:], strict=True)) for values in cursor}
        for post_id, bound, current in chunk:
            yield rows[post_id], float(bound), bool(current)
        fetched += len(chunk)
        size = max((fetched - 1) // 4, 1)  # a quarter more: up to the caller's next check, and its bound
