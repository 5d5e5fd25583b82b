"""`plnfilter top` and `plnfilter links` on a seeded archive: which posts, in what order, grouped how."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from seeded_archive import FILTER_YAML, NOW, build_archive, captured_bluesky_posts, seed_posts, write_filter

from plnfilter.cli import PlnGroup
from plnfilter.cli.cmd_digest import COMMANDS, links, top
from plnfilter.digest import Ranking, build_digest, rescore
from plnfilter.filterfile import parse
from plnfilter.links import top_links
from plnfilter.store import open_readonly
from plnfilter.times import now_utc

DAY = NOW - timedelta(hours=24)


@pytest.fixture
def conn(tmp_path):
    connection = open_readonly(build_archive(tmp_path / "archive.db"))
    yield connection
    connection.close()


@pytest.fixture
def filter_file():
    return parse(FILTER_YAML, "digest-test.yaml")


def who(rows):
    return [(row["rank"], row["author"], row["uri"].rsplit("/", 1)[-1]) for row in rows]


def test_top_caps_each_author_and_keeps_places_for_other_voices(conn, filter_file):
    rows = build_digest(conn, filter_file, NOW, DAY, limit=5)
    assert who(rows) == [
        (1, "kate@edu.example", "101"),
        (2, "kate@edu.example", "102"),  # max_per_author: 2 leaves out her third post
        (3, "ana@edu.example", "201"),
        (4, "skeptic@other.example", "301"),  # mix: dissenting 1 ...
        (5, "nurse.bsky.social", "3kn1"),  # ... and outside_sector 1 go ahead of bo's higher score
    ]
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_top_leaves_out_dropped_and_old_posts(conn, filter_file):
    authors = {row["author"] for row in build_digest(conn, filter_file, NOW, DAY, limit=50)}
    assert "promo@spam.example" not in authors  # the giveaway rule dropped it
    assert "old@edu.example" not in authors  # outside the 24h window, though it has the most likes
    assert "cat@misc.example" not in authors  # matched no include rule
    assert authors == {
        "kate@edu.example",
        "ana@edu.example",
        "bo.bsky.social",
        "nurse.bsky.social",
        "skeptic@other.example",
        "dana.example",
    }


def test_top_without_a_filter_uses_the_archive_verdicts_and_default_settings(conn):
    rows = build_digest(conn, None, NOW, DAY, limit=4)
    # no caps, no reserved places: all three of Kate's posts make it
    assert who(rows) == [
        (1, "kate@edu.example", "101"),
        (2, "kate@edu.example", "102"),
        (3, "kate@edu.example", "103"),
        (4, "ana@edu.example", "201"),
    ]


def test_top_rescores_at_now_so_recency_fades(conn, filter_file):
    week = timedelta(days=7)
    assert build_digest(conn, filter_file, NOW, NOW - week, limit=10)[0]["author"] == "kate@edu.example"
    # thirty hours later Kate's posts have lost their freshness; the much-shared old post leads
    later = NOW + timedelta(hours=30)
    assert build_digest(conn, filter_file, later, later - week, limit=10)[0]["author"] == "old@edu.example"


def test_top_grouped_by_rule_and_by_tag(conn, filter_file):
    by_rule = build_digest(conn, filter_file, NOW, DAY, limit=20, by="rule")
    assert {row["group"] for row in by_rule} == {"topics"}
    by_tag = build_digest(conn, filter_file, NOW, DAY, limit=20, by="tag")
    groups = [row["group"] for row in by_tag]
    assert groups == sorted(groups, key=groups.index)  # each group is contiguous
    assert groups[0] == "edtech"
    pln = [row for row in by_tag if row["group"] == "pln"]
    assert [row["author"] for row in pln] == ["dana.example"]  # ana's post carries edtech too
    # the rank is the place the post earned, not its place in the grouped list
    assert [row["rank"] for row in by_tag if row["group"] == "edtech"] == [1, 2, 3, 4, 5, 6]


def test_links_count_people_across_networks_with_card_title_and_best_post(conn):
    ranked = rescore(conn, Ranking.from_filter(None), NOW, NOW - timedelta(days=7))
    found = top_links(((item.post, item.score.total) for item in ranked), limit=20)
    [article] = found
    assert article.url == "https://blog.example.org/2026/11/open-pedagogy"
    # kate (mastodon), ana (mastodon, www. and #fragment), bo (bluesky card), skeptic (http, fbclid),
    # dana.example (bluesky): five people, one article
    assert article.count == 5
    assert sorted(article.sharers) == sorted(
        ["kate@edu.example", "ana@edu.example", "bo.bsky.social", "skeptic@other.example", "dana.example"]
    )
    assert article.networks == ["mastodon", "bluesky"]
    assert article.title == "Open pedagogy in practice"
    assert article.best_author == "kate@edu.example"  # her post about it scores highest
    assert article.best_url == "https://edu.example/@kate/102"


def test_links_from_a_captured_bluesky_page(tmp_path):
    captured = captured_bluesky_posts()
    assert captured, "tests/fixtures/bluesky/getListFeed.json holds no posts"
    recent = [post for post in captured]
    newest = max(post.created_at for post in recent)
    conn = open_readonly(build_archive(tmp_path / "captured.db", seed_posts() + recent))
    from plnfilter.times import parse_iso

    now = parse_iso(newest) + timedelta(hours=1)
    ranked = rescore(conn, Ranking.from_filter(None), now, now - timedelta(days=30))
    found = {link.url: link for link in top_links(((i.post, i.score.total) for i in ranked), limit=None)}
    with_cards = [post for post in recent if post.card_url and post.card_title]
    for post in with_cards:
        from plnfilter.links import canonical_url

        assert found[canonical_url(post.card_url)].title == post.card_title


# --- the commands -------------------------------------------------------------------------------


@pytest.fixture
def live_archive(tmp_path):
    """The same posts, dated relative to the real clock (the commands score at the current time)."""
    return build_archive(tmp_path / "live.db", seed_posts(now_utc()), now_utc())


def test_top_command_prints_markdown_when_piped(live_archive, tmp_path):
    result = CliRunner().invoke(top, [str(write_filter(tmp_path)), "--db", str(live_archive), "--limit", "5"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("# plnfilter top posts\n")
    assert out.count("\n## ") == 5
    order = [
        "Peer feedback that works",
        "Slides are up",
        "Open pedagogy, a reading list",
        "I doubt most",
        "nursing education",
    ]
    assert [out.index(text) for text in order] == sorted(out.index(text) for text in order)


def test_top_command_html_and_json(live_archive, tmp_path):
    filter_path = str(write_filter(tmp_path))
    page = tmp_path / "digest.html"
    result = CliRunner().invoke(
        top, [filter_path, "--db", str(live_archive), "--format", "html", "-o", str(page)]
    )
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<!DOCTYPE html>" in html and "Peer feedback that works" in html
    result = CliRunner().invoke(
        top, [filter_path, "--db", str(live_archive), "--format", "json", "--by", "tag"]
    )
    rows = json.loads(result.stdout)
    assert [row["rank"] for row in rows][:2] == [1, 2]
    assert {"rank", "group", "score", "uri", "author", "text"} <= set(rows[0])


def pln_cli():
    """The commands under the CLI's own group, which turns library errors into messages and exit codes."""
    return PlnGroup(commands={command.name: command for command in COMMANDS})


def test_top_command_without_archive_says_what_to_do(tmp_path):
    cli = pln_cli()
    result = CliRunner().invoke(cli, ["top", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "no archive" in result.stderr and "plnfilter run" in result.stderr


def test_top_command_rejects_a_bad_since(live_archive):
    cli = pln_cli()
    result = CliRunner().invoke(cli, ["top", "--db", str(live_archive), "--since", "yesterday-ish"])
    assert result.exit_code == 2
    assert "--since" in result.stderr


def test_links_command_markdown_and_csv(live_archive):
    result = CliRunner().invoke(links, ["--db", str(live_archive)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Links shared in your PLN\n")
    assert "1. [Open pedagogy in practice](https://blog.example.org/2026/11/open-pedagogy)" in result.stdout
    assert "shared by 5:" in result.stdout
    result = CliRunner().invoke(links, ["--db", str(live_archive), "--format", "json"])
    [row] = json.loads(result.stdout)
    assert row["count"] == 5 and row["best_author"] == "kate@edu.example"


def test_the_mixed_voices_example_keeps_places_and_sections(tmp_path):
    """filters/mixed-voices.yaml: one post per author, places for other fields and critics, sections by rule."""
    from seeded_archive import ago

    from plnfilter.filterfile import load
    from plnfilter.post import Post

    example = Path(__file__).resolve().parent.parent / "filters" / "mixed-voices.yaml"
    filter_file = load(example)

    def post(author, hours, tags, likes, network="mastodon", text="a post"):
        uri = (
            f"https://{author.split('@')[-1]}/{author}/{hours}"
            if network == "mastodon"
            else f"at://{author}/{hours}"
        )
        return Post(
            uri=uri, network=network, author=author, created_at=ago(hours), tags=tags, likes=likes, text=text
        )

    posts = [post(f"teacher{n}@mastodon.social", 1 + n, ("edtech",), 100 - n) for n in range(6)] + [
        post("teacher0@mastodon.social", 0.5, ("edtech",), 500),  # a second post by a capped author
        post("archivist@glammr.us", 3, ("libraries",), 2),  # outside_sector, low engagement
        post("critical-edtech.bsky.social", 5, ("criticaledtech",), 1, network="bluesky"),  # dissenting
        post("someone.bsky.social", 2, ("nursing",), 3, network="bluesky"),
        post("promo@mastodon.social", 1, ("edtech",), 900, text="Join our webinar"),  # excluded
    ]
    archive = build_archive(tmp_path / "mixed.db", posts, NOW, example.read_text())
    conn = open_readonly(archive)
    rows = build_digest(conn, filter_file, NOW, DAY, limit=6)
    authors = [row["author"] for row in rows]
    assert authors.count("teacher0@mastodon.social") == 1  # max_per_author: 1
    assert sum(author.endswith("@mastodon.social") for author in authors) == 4  # max_per_instance: 4
    assert "archivist@glammr.us" in authors and "critical-edtech.bsky.social" in authors  # mix
    assert "promo@mastodon.social" not in authors
    sections = build_digest(conn, filter_file, NOW, DAY, limit=25, by="rule")
    assert list(dict.fromkeys(row["group"] for row in sections)) == ["education", "other-fields", "critique"]
    assert {row["author"] for row in sections if row["group"] == "other-fields"} == {
        "archivist@glammr.us",
        "someone.bsky.social",
    }


def test_top_html_shows_images_only_when_asked(tmp_path):
    from dataclasses import replace

    now = now_utc()
    posts = seed_posts(now)
    media = {
        "media_attachments": [
            {"type": "image", "preview_url": "https://files.example/cat.png", "description": "a cat"}
        ]
    }
    posts[0] = replace(posts[0], has_media=True, media_alt=("a cat",), raw=media)
    archive = build_archive(tmp_path / "media.db", posts, now)
    filter_path = str(write_filter(tmp_path))
    for flags, shown in (([], False), (["--images"], True)):
        page = tmp_path / f"digest{len(flags)}.html"
        result = CliRunner().invoke(
            top, [filter_path, "--db", str(archive), "--format", "html", "-o", str(page), *flags]
        )
        assert result.exit_code == 0, result.output
        html = page.read_text()
        assert "Image: a cat" in html
        assert ('src="https://files.example/cat.png"' in html) is shown
