"""`plnfilter explain` on a seeded archive: matched rules, score parts, verdict, rank and place in `top`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from seeded_archive import FILTER_YAML, NOW, build_archive, seed_posts, write_filter

from plnfilter.cli import PlnGroup
from plnfilter.cli.cmd_digest import COMMANDS
from plnfilter.errors import UsageError
from plnfilter.explain import explain, explanation_lines
from plnfilter.filterfile import parse
from plnfilter.store import open_readonly
from plnfilter.times import now_utc

DAY = NOW - timedelta(hours=24)
KATE_3 = "https://edu.example/users/kate/statuses/103"
GIVEAWAY = "https://spam.example/users/promo/statuses/401"
BO = "at://did:plc:bo/app.bsky.feed.post/3kb1"


@pytest.fixture
def conn(tmp_path):
    connection = open_readonly(build_archive(tmp_path / "archive.db"))
    yield connection
    connection.close()


@pytest.fixture
def filter_file():
    return parse(FILTER_YAML, "digest-test.yaml")


def test_kept_post_shows_rules_parts_and_why_top_left_it_out(conn, filter_file):
    result = explain(conn, KATE_3, filter_file, NOW, DAY, top_limit=5)
    assert result.verdict.kept and result.verdict.matched == ("topics", "kate")
    assert [(r.section, r.name, r.matched) for r in result.rules] == [
        ("exclude", "giveaways", False),
        ("include", "topics", True),
        ("include", "kate", True),
    ]
    parts = result.score.parts
    assert set(parts) == {"engagement", "recency", "boost", "trusted"}
    assert parts["boost"] == pytest.approx(1.5)  # topics 1 + kate 0.5
    assert parts["trusted"] == pytest.approx(1.0)
    assert parts["recency"] == pytest.approx(0.5 ** (3 / 12))  # three hours old, 12h half-life
    assert result.score.total == pytest.approx(sum(parts.values()))
    assert (result.rank, result.ranked_among) == (3, 8)
    assert result.top_position is None
    assert "max_per_author" in result.left_out_because
    text = "\n".join(explanation_lines(result))
    assert "KEPT: kept by 'topics', 'kate'" in text
    assert "Rank: 3 of 8 kept posts" in text
    assert "kate@edu.example already has 2 posts there (rank.max_per_author)" in text


def test_dropped_post_names_the_exclude_rule_and_has_no_rank(conn, filter_file):
    result = explain(conn, GIVEAWAY, filter_file, NOW, DAY)
    assert not result.verdict.kept
    assert result.verdict.dropped_by == "giveaways"
    assert result.rank is None and result.top_position is None
    lines = explanation_lines(result)
    assert "DROPPED: dropped by exclude rule 'giveaways'" in lines
    assert any("giveaways" in line and "dropped it" in line for line in lines)


def test_a_post_passed_over_for_reserved_voices_says_so(conn, filter_file):
    result = explain(conn, BO, filter_file, NOW, DAY, top_limit=5)
    assert result.rank == 5
    assert result.top_position is None
    assert "rank.mix" in result.left_out_because
    assert (
        "nurse.bsky.social" in result.left_out_because and "skeptic@other.example" in result.left_out_because
    )


def test_rank_and_top_place_agree_with_top(conn, filter_file):
    result = explain(
        conn, "https://other.example/users/skeptic/statuses/301", filter_file, NOW, DAY, top_limit=5
    )
    assert result.top_position == 4  # as test_digest's top --limit 5 lists it


def test_without_a_filter_the_stored_verdict_is_explained_with_default_settings(conn):
    result = explain(
        conn, "https://edu.example/@kate/103", None, NOW, DAY, top_limit=5
    )  # found by web URL too
    assert result.post.uri == KATE_3
    assert result.rules == []
    assert result.verdict.matched == ("topics", "kate")
    assert result.score.parts["boost"] == 0 and result.score.parts["trusted"] == 0
    assert result.top_position == 3  # no caps without the filter's rank settings
    assert "give the filter file" in "\n".join(explanation_lines(result))


def test_unknown_uri_is_a_usage_error_with_a_next_step(conn):
    with pytest.raises(UsageError) as error:
        explain(conn, "at://did:plc:nobody/app.bsky.feed.post/1", None, NOW, DAY)
    assert "plnfilter query" in error.value.hint


def test_explain_command_text_and_json(tmp_path):
    archive = build_archive(tmp_path / "live.db", seed_posts(now_utc()), now_utc())
    filter_path = str(write_filter(tmp_path))
    cli = PlnGroup(commands={command.name: command for command in COMMANDS})
    result = CliRunner().invoke(cli, ["explain", KATE_3, filter_path, "--db", str(archive)])
    assert result.exit_code == 0, result.output
    assert "KEPT: kept by 'topics', 'kate'" in result.stdout
    assert "engagement" in result.stdout and "recency" in result.stdout
    result = CliRunner().invoke(
        cli, ["explain", GIVEAWAY, filter_path, "--db", str(archive), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kept"] is False and data["dropped_by"] == "giveaways" and data["rank"] is None
    assert set(data["parts"]) == {"engagement", "recency", "boost", "trusted"}
    result = CliRunner().invoke(cli, ["explain", "at://nothing", "--db", str(archive)])
    assert result.exit_code == 2
    assert "no post" in result.stderr
