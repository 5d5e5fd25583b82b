"""Scoring and the top of a digest: monotone in engagement and age, caps and mix as documented."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plnfilter.filterfile import parse
from plnfilter.post import Post
from plnfilter.rank import RankConfig, Score, instance_of, score, scorer, select_top
from plnfilter.rules import Verdict

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
KEPT = Verdict(kept=True)


def post(**fields) -> Post:
    fields.setdefault("uri", "https://m.example/1")
    fields.setdefault("network", "mastodon")
    fields.setdefault("created_at", "2026-11-26T12:00:00Z")
    return Post(**fields)


counts = st.integers(0, 10**6)


@given(likes=counts, reposts=counts, replies=counts, quotes=counts, extra=st.integers(1, 1000))
def test_more_engagement_scores_higher(likes, reposts, replies, quotes, extra):
    base = post(likes=likes, reposts=reposts, replies=replies, quotes=quotes)
    rank = RankConfig()
    before = score(base, KEPT, NOW, rank).total
    for field in ("likes", "reposts", "replies", "quotes"):
        more = replace(base, **{field: getattr(base, field) + extra})
        assert score(more, KEPT, NOW, rank).total > before


@given(hours=st.integers(0, 24 * 30), later=st.integers(1, 24 * 30))
def test_older_posts_score_lower(hours, later):
    rank = RankConfig()
    newer = post(created_at=(NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    older = post(created_at=(NOW - timedelta(hours=hours + later)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert score(older, KEPT, NOW, rank).total < score(newer, KEPT, NOW, rank).total


@pytest.mark.parametrize("half_life", [timedelta(hours=1), timedelta(hours=12), timedelta(days=3)])
def test_recency_halves_every_half_life(half_life):
    rank = RankConfig(half_life=half_life)
    fresh = score(post(), KEPT, NOW, rank).parts["recency"]
    aged = post(created_at=(NOW - half_life).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert fresh == pytest.approx(1.0)
    assert score(aged, KEPT, NOW, rank).parts["recency"] == pytest.approx(0.5)


def test_parts_are_weighted_and_sum_to_the_total():
    rank = RankConfig(
        weights={"engagement": 2, "recency": 0, "boost": 3, "trusted": 5}, trusted=("kate@example.social",)
    )
    result = score(post(author="Kate@Example.Social", likes=1), Verdict(True, ("x",), 1.5), NOW, rank)
    assert result.parts == pytest.approx(
        {"engagement": 2 * 0.6931471805599453, "recency": 0.0, "boost": 4.5, "trusted": 5.0}
    )
    assert result.total == pytest.approx(sum(result.parts.values()))


def test_unknown_or_future_time_does_not_break_scores():
    assert score(post(created_at=""), KEPT, NOW, RankConfig()).parts["recency"] == 0.0
    assert score(post(created_at="garbage"), KEPT, NOW, RankConfig()).parts["recency"] == 0.0
    assert score(post(created_at="2030-01-01T00:00:00Z"), KEPT, NOW, RankConfig()).parts["recency"] == 1.0


@given(
    network=st.sampled_from(["mastodon", "bluesky", "feed", "unknown-network"]),
    likes=st.integers(-5, 10**6),
    reposts=st.integers(-5, 10**4),
    replies=st.integers(-5, 10**4),
    quotes=st.integers(-5, 10**4),
    minutes=st.integers(-600, 60 * 24 * 60),
    weights=st.sampled_from([{}, {"engagement": 2.5, "recency": 0.3, "boost": -1, "trusted": 7}]),
    half_life=st.sampled_from([timedelta(hours=12), timedelta(hours=1), timedelta(0)]),
)
def test_scorer_gives_score_totals_exactly(
    network, likes, reposts, replies, quotes, minutes, weights, half_life
):
    # `links` scores a whole window with it: the best post and the order must be the ones score() gives
    rank = RankConfig(half_life=half_life, weights=weights, interactions={"likes": 1.5, "replies": 0.5})
    for created_at in ((NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"), "", "garbage"):
        item = post(
            network=network,
            likes=likes,
            reposts=reposts,
            replies=replies,
            quotes=quotes,
            created_at=created_at,
        )
        expected = score(item, KEPT, NOW, rank).total
        assert scorer(NOW, rank)(network, likes, reposts, replies, quotes, created_at) == expected


def test_scorer_refuses_trusted_voices():
    with pytest.raises(ValueError, match="trusted"):
        scorer(NOW, RankConfig(trusted=("kate@example.social",)))


def test_rank_config_comes_from_the_filter_file():
    ff = parse("rank:\n  half_life: 2h\n  weights: {recency: 3}\n  interactions: {likes: 0}\n", "f.yaml")
    result = score(post(likes=100, created_at="2026-11-26T10:00:00Z"), KEPT, NOW, ff.rank)
    assert result.parts["recency"] == pytest.approx(1.5) and result.parts["engagement"] == 0.0


def item(author: str, total: float, **extra) -> dict:
    return {"author": author, "score": total, **extra}


def test_select_top_takes_by_score():
    items = [item("a@x.y", 1), item("b@x.y", 3), item("c@z.w", 2)]
    assert [i["author"] for i in select_top(items, RankConfig(), 2)] == ["b@x.y", "c@z.w"]
    assert len(select_top(items, RankConfig(), None)) == 3


def test_select_top_caps_per_author_and_per_instance():
    items = [
        item("a@big.social", 9),
        item("a@big.social", 8),
        item("b@big.social", 7),
        item("c@big.social", 6),
    ]
    items += [
        item("d@small.town", 1),
        item("alice.bsky.social", 5, network="bluesky"),
        item("bob.bsky.social", 4, network="bluesky"),
    ]
    chosen = select_top(items, RankConfig(max_per_author=1, max_per_instance=2), 10)
    assert [(i["author"], i["score"]) for i in chosen] == [
        ("a@big.social", 9),
        ("b@big.social", 7),
        ("alice.bsky.social", 5),
        ("bob.bsky.social", 4),  # Bluesky handles are not one instance
        ("d@small.town", 1),
    ]


def test_mix_reserves_places_for_outside_and_dissenting_voices():
    rank = RankConfig(
        mix={"outside_sector": 1, "dissenting": 1},
        outside_sector=("nurse@health.social",),
        dissenting=("critic.bsky.social",),
    )
    items = [item(f"p{n}@edu.social", 10 - n) for n in range(6)]
    items += [
        item("nurse@health.social", 0.5),
        item("nurse@health.social", 0.4),
        item("critic.bsky.social", 0.1, network="bluesky"),
    ]
    chosen = select_top(items, rank, 4)
    assert [i["author"] for i in chosen] == [
        "p0@edu.social",
        "p1@edu.social",
        "nurse@health.social",
        "critic.bsky.social",
    ]


def test_mix_never_takes_every_place_from_the_best_post():
    rank = RankConfig(
        mix={"outside_sector": 2, "dissenting": 1},
        outside_sector=("nurse@health.social", "vet@farm.social"),
        dissenting=("critic.bsky.social",),
    )
    items = [item("best@edu.social", 9), item("next@edu.social", 8)]
    items += [item("nurse@health.social", 0.5), item("vet@farm.social", 0.4)]
    items += [item("critic.bsky.social", 0.1, network="bluesky")]
    assert [i["author"] for i in select_top(items, rank, 1)] == ["best@edu.social"]
    assert [i["author"] for i in select_top(items, rank, 3)] == [
        "best@edu.social",
        "nurse@health.social",
        "vet@farm.social",
    ]


def test_mix_without_such_posts_fills_by_score():
    rank = RankConfig(mix={"dissenting": 2}, dissenting=("critic.bsky.social",))
    chosen = select_top([item("a@x.y", 2), item("b@x.y", 1)], rank, 2)
    assert [i["author"] for i in chosen] == ["a@x.y", "b@x.y"]


def test_select_top_reads_objects_scores_and_posts():
    class Judged:
        def __init__(self, post, score):
            self.post, self.score = post, score

    rows = [Judged(post(author="a@x.y"), Score(1.0)), Judged(post(author="b@x.y"), Score(2.0))]
    assert [j.post.author for j in select_top(rows, RankConfig(max_per_instance=1), 5)] == ["b@x.y"]


def test_instance_of():
    assert instance_of({"author": "kate@Example.Social"}) == "example.social"
    assert instance_of({"author": "alice.bsky.social", "network": "bluesky"}) == ""
    assert instance_of({"author": "x", "instance": "Host.Example"}) == "host.example"


def test_a_score_is_a_frozen_value_hashed_by_its_total():
    """Written out instead of `@dataclass` (issue 14's start-up), with the dataclass's behaviour."""
    from plnfilter.rank import Score

    assert Score(1.5, {"recency": 1.5}) == Score(1.5, {"recency": 1.5}) != Score(1.5)
    assert Score(2.0).parts == {} and Score(2.0).parts is not Score(2.0).parts
    assert hash(Score(1.5, {"a": 1.0})) == hash(Score(1.5)) == hash((1.5,))
    assert repr(Score(1.5, {"a": 1.5})) == "Score(total=1.5, parts={'a': 1.5})"
    with pytest.raises(AttributeError):
        Score(1.0).total = 2.0
