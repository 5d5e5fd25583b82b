"""Every filter file we ship loads, and the demo does what its comments promise on the sample data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plnfilter.filterfile import describe, load
from plnfilter.filterfile.rule_syntax import PREDICATE_KEYS
from plnfilter.rank import score, select_top
from plnfilter.rules import compile_rules
from plnfilter.sources import FetchContext, timelines

FILTERS = Path(__file__).resolve().parent.parent / "filters"
EXAMPLES = sorted(FILTERS.glob("*.yaml"))
NOW = datetime(2026, 11, 27, tzinfo=UTC)
PLNFILTER = Path(sys.executable).with_name("plnfilter")


def test_the_promised_examples_exist():
    names = {path.name for path in EXAMPLES}
    assert {"demo.yaml", "pln-digest.yaml", "like69-backchannel.yaml", "trusted-voices.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_loads_and_describes_itself(path):
    filter_file = load(path)
    assert filter_file.sources, "an example without sources teaches nothing"
    lines = describe(filter_file)
    assert lines[0].startswith(f"filter '{filter_file.name}'")


def test_readme_documents_every_key():
    readme = (FILTERS / "README.md").read_text()
    for key in (*PREDICATE_KEYS, "boost", "half_life", "weights", "interactions", "max_per_author",
                "max_per_instance", "mix", "voices", "outside_sector", "dissenting", "trusted", "keep"):  # fmt: skip
        assert f"`{key}" in readme, key


def test_demo_reads_only_bundled_sample_files():
    demo = load(FILTERS / "demo.yaml")
    assert {spec.kind for spec in demo.sources} == {"file"}
    for spec in demo.sources:
        assert Path(spec.target).parent == FILTERS / "samples"
        assert Path(spec.target).name.startswith(("mastodon-", "bluesky-"))


def demo_posts():
    demo = load(FILTERS / "demo.yaml")
    posts = {}
    for spec in demo.sources:
        assert Path(spec.target).exists(), f"{spec.target} is missing from filters/samples"
        for timeline in timelines(spec):
            for page in timeline.fetch(None, FetchContext(since=datetime(2000, 1, 1, tzinfo=UTC))):
                posts.update((post.uri, post) for post in page.posts)
    return demo, list(posts.values())


def test_demo_drops_spam_bots_and_stuffing_and_keeps_the_conversation():
    demo, posts = demo_posts()
    ruleset = compile_rules(demo)
    verdicts = {post.uri: ruleset.evaluate(post, NOW) for post in posts}
    kept = [post for post in posts if verdicts[post.uri].kept]
    dropped_by = {verdicts[post.uri].dropped_by for post in posts}
    assert {"giveaways", "hashtag-stuffing", "bots"} <= dropped_by
    for post in kept:
        text = post.text.lower()
        assert "giveaway" not in text and "airdrop" not in text, post.text
        assert len(post.tags) < 6, post.text
        assert not post.author_bot or post.author == "oer_feed@edu.social.example"
    assert len(kept) > len(posts) / 2
    assert any("conference" in verdicts[post.uri].matched for post in kept)


def test_demo_top_respects_caps_and_mixes_voices():
    demo, posts = demo_posts()
    ruleset = compile_rules(demo)
    items = []
    for post in posts:
        verdict = ruleset.evaluate(post, NOW)
        if verdict.kept:
            items.append({"post": post, "score": score(post, verdict, NOW, demo.rank)})
    top = select_top(items, demo.rank, demo.keep)
    authors = [item["post"].author for item in top]
    assert 10 < len(top) <= demo.keep
    assert max(authors.count(author) for author in authors) <= demo.rank.max_per_author
    assert set(authors) & set(demo.voices.outside_sector)
    assert set(authors) & set(demo.voices.dissenting)


def test_demo_archive_has_a_post_boosted_on_two_instances(tmp_path, isolated_home):
    """The samples' federated copy: one row found through both instances, with a booster on each."""
    db = tmp_path / "demo.db"
    env = {**os.environ, "PLNFILTER_HOME": str(isolated_home)}
    done = subprocess.run(
        [str(PLNFILTER), "run", str(FILTERS / "demo.yaml"), "--db", str(db), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.uri, p.author, p.reposted_by, p.likes, p.reposts, group_concat(s.source) FROM posts p "
            "JOIN post_sources s ON s.uri = p.uri GROUP BY p.uri"
        ).fetchall()
    both = [
        (uri, author, json.loads(reposters), (likes, reposts))
        for uri, author, reposters, likes, reposts, sources in rows
        if {"file:sample-mastodon-list", "file:sample-mastodon-instance2"} <= set(sources.split(","))
    ]
    assert len(both) == 1, both
    uri, author, reposters, counts = both[0]
    assert author == "tom@edu.social.example" and uri.startswith("https://edu.social.example/")
    assert sorted(reposters) == ["priya@edu.social.example", "ravi@fosstodon.example"]
    assert counts == (0, 1)  # both instances' copies say so: the row does not depend on which was saved last
