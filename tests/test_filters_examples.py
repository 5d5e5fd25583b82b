"""Every filter file we ship loads, and the demo does what its comments promise on the sample data."""

from __future__ import annotations

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
