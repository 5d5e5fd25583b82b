"""Mastodon timelines against mastodon-mock on 127.0.0.1: what was seeded is what comes back, once, gap-free."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from servers.mastodon_mock import MockInstance, mastodon_mock  # noqa: F401

from plnfilter.errors import SourceError
from plnfilter.filterfile.model import SourceSpec
from plnfilter.sources import FetchContext
from plnfilter.sources.mastodon.fetch import timelines
from plnfilter.times import now_utc

pytestmark = pytest.mark.mastodon
PLNFILTER = Path(sys.executable).with_name("plnfilter")


def spec(mock: MockInstance, **options) -> SourceSpec:
    return SourceSpec("mastodon", mock.base_url, options, 1, "test")


def ctx(**kwargs) -> FetchContext:
    return FetchContext(since=kwargs.pop("since", now_utc() - timedelta(hours=24)), timeout=10, **kwargs)


def fetch_all(timeline, cursor=None, **kwargs):
    return list(timeline.fetch(cursor, ctx(**kwargs)))


def posts_of(pages):
    return [post for page in pages for post in page.posts]


def login_as(monkeypatch, mock: MockInstance, user: str) -> None:
    monkeypatch.setenv("PLNFILTER_MASTODON_TOKEN_127_0_0_1_" + str(mock.port), f"{user}_token")


def test_tag_timeline_returns_every_public_tagged_status_once(mastodon_mock):  # noqa: F811
    (timeline,) = timelines(spec(mastodon_mock, hashtags=["EdTech"]))
    assert timeline.name == f"mastodon:{mastodon_mock.host}/tag/edtech"
    pages = fetch_all(timeline)
    uris = [post.uri for post in posts_of(pages)]
    assert len(uris) == len(set(uris))
    assert set(uris) == mastodon_mock.seeded["edtech_uris"]
    seeded = mastodon_mock.seeded
    assert seeded["kate_unlisted"]["uri"] not in uris and seeded["kate_private"]["uri"] not in uris
    assert pages[-1].cursor == seeded["stuffing"]["id"]  # the newest #edtech status


def test_tag_posts_carry_what_was_seeded(mastodon_mock):  # noqa: F811
    (timeline,) = timelines(spec(mastodon_mock, hashtags=["edtech"]))
    by_uri = {post.uri: post for post in posts_of(fetch_all(timeline))}
    s, host = mastodon_mock.seeded, mastodon_mock.host
    card = by_uri[s["kate_card"]["uri"]]
    assert card.author == f"kate@{host}"
    assert card.tags == ("edtech", "pln")
    assert (card.likes, card.reposts, card.replies) == (2, 1, 1)
    assert card.links == ("https://example.org/feedback-loops",) and card.card_url == card.links[0]
    assert card.lang == "en" and card.created_at.endswith("Z")
    assert by_uri[s["omar_de"]["uri"]].likes == 1 and by_uri[s["omar_de"]["uri"]].lang == "de"
    assert by_uri[s["aiko_ja"]["uri"]].likes == 3
    cw = by_uri[s["lin_cw"]["uri"]]
    assert cw.sensitive and cw.spoiler == "long post about workshops" and cw.tags == ("edtech", "oer")
    assert by_uri[s["bot"]["uri"]].author_bot
    image = by_uri[s["kate_image"]["uri"]]
    assert image.has_media and image.media_alt == (
        "A whiteboard sketch of a feedback loop with three arrows",
    )
    reply = by_uri[s["omar_reply"]["uri"]]
    assert reply.reply_to.endswith("/api/v1/statuses/" + s["kate_card"]["id"])
    assert reply.mentions == (f"kate@{host}",)
    assert len(by_uri[s["stuffing"]["uri"]].tags) == 8
    remote = [post for post in by_uri.values() if post.author == "zed@remote.example"]
    assert len(remote) == 1 and remote[0].tags == ("edtech", "pln")


def test_list_by_name_gives_boosts_as_the_original_with_the_booster(mastodon_mock, monkeypatch):  # noqa: F811
    login_as(monkeypatch, mastodon_mock, "kate")
    (timeline,) = timelines(spec(mastodon_mock, list="learning tech"))
    posts = posts_of(fetch_all(timeline))
    s = mastodon_mock.seeded
    boosted = [post for post in posts if post.reposted_by]
    assert [post.uri for post in boosted] == [s["kate_card"]["uri"]]
    assert boosted[0].reposted_by == (f"omar@{mastodon_mock.host}",)
    assert boosted[0].author == f"kate@{mastodon_mock.host}"
    assert s["omar_de"]["uri"] in {post.uri for post in posts}
    assert {post.author.split("@")[0] for post in posts} <= {"kate", "omar", "aiko"}


def test_unknown_list_name_lists_the_ones_there_are(mastodon_mock, monkeypatch):  # noqa: F811
    login_as(monkeypatch, mastodon_mock, "kate")
    (timeline,) = timelines(spec(mastodon_mock, list="Nope"))
    with pytest.raises(SourceError) as caught:
        fetch_all(timeline)
    assert "'Learning Tech'" in str(caught.value) and "'Family'" in str(caught.value)


def test_account_timeline_tagged_and_without_replies(mastodon_mock):  # noqa: F811
    acct = f"omar@{mastodon_mock.host}"
    (everything,) = timelines(spec(mastodon_mock, account=acct))
    (no_replies,) = timelines(spec(mastodon_mock, account=acct, exclude_replies=True))
    s = mastodon_mock.seeded
    all_uris = {post.uri for post in posts_of(fetch_all(everything))}
    assert {s["omar_de"]["uri"], s["omar_reply"]["uri"]} <= all_uris
    assert s["omar_reply"]["uri"] not in {post.uri for post in posts_of(fetch_all(no_replies))}


def test_home_timeline_needs_and_uses_the_token(mastodon_mock, monkeypatch):  # noqa: F811
    (timeline,) = timelines(spec(mastodon_mock, home=True))
    with pytest.raises(SourceError) as caught:
        fetch_all(timeline)
    assert "plnfilter auth mastodon" in str(caught.value)
    login_as(monkeypatch, mastodon_mock, "kate")
    assert posts_of(fetch_all(timeline))  # kate follows omar and aiko (the list needed it)


def test_catch_up_after_more_than_a_page_gets_exactly_the_new_statuses(mastodon_mock):  # noqa: F811
    for number in range(5):
        mastodon_mock.post("lin", f"before {number} #CatchUpTest")
    (timeline,) = timelines(spec(mastodon_mock, hashtags=["catchuptest"]))
    first = fetch_all(timeline)
    assert len(posts_of(first)) == 5
    cursor = first[-1].cursor
    new = [mastodon_mock.post("omar", f"after {number} #catchuptest")["uri"] for number in range(93)]
    pages = fetch_all(timeline, cursor)
    assert [post.uri for post in posts_of(pages)] != []
    assert sorted(post.uri for post in posts_of(pages)) == sorted(new)
    assert len(pages) == 3 and all(page.cursor for page in pages)
    assert fetch_all(timeline, pages[-1].cursor) == []


def test_first_run_stops_at_max_pages_and_since(mastodon_mock):  # noqa: F811
    uris = [mastodon_mock.post("kate", f"walk {number} #WalkTest")["uri"] for number in range(85)]
    (timeline,) = timelines(spec(mastodon_mock, hashtags=["walktest"], max_pages=2))
    pages = fetch_all(timeline)
    assert [post.uri for post in posts_of(pages)] == uris[::-1][:80]
    assert [page.cursor for page in pages[:-1]] == [None] * (len(pages) - 1)
    assert pages[-1].cursor is not None
    assert posts_of(fetch_all(timeline, since=now_utc() + timedelta(minutes=5))) == []


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(PLNFILTER), *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_run_archives_once_counts_updates_and_findings(mastodon_mock, tmp_path, isolated_home):  # noqa: F811
    mock = mastodon_mock
    for number in range(3):
        mock.post("kate", f"seed {number} #CliTest")
    shared = mock.post("omar", "both in the list and the tag #clitest")
    filter_file = tmp_path / "pln.yaml"
    filter_file.write_text(
        f"name: clitest\nsources:\n  - mastodon: {mock.base_url}\n    hashtags: [CliTest]\n"
        f"  - mastodon: {mock.base_url}\n    list: Learning Tech\n",
        encoding="utf-8",
    )
    db = tmp_path / "archive.db"
    env = {
        **os.environ,
        "PLNFILTER_HOME": str(isolated_home),
        f"PLNFILTER_MASTODON_TOKEN_127_0_0_1_{mock.port}": "kate_token",
    }
    first = run_cli("run", str(filter_file), "--db", str(db), "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(db) as conn:
        tagged = conn.execute("SELECT count(*) FROM posts WHERE tags LIKE '%\"clitest\"%'").fetchone()[0]
        assert tagged == 4
        sources = [
            row[0] for row in conn.execute("SELECT source FROM post_sources WHERE uri = ?", (shared["uri"],))
        ]
        assert len(sources) == 2
        assert conn.execute("SELECT count(*) FROM posts WHERE uri = ?", (shared["uri"],)).fetchone()[0] == 1
        boosters = conn.execute(
            "SELECT reposted_by FROM posts WHERE uri = ?", (mock.seeded["kate_card"]["uri"],)
        ).fetchone()
        assert boosters and f"omar@{mock.host}" in boosters[0]
        before = conn.execute("SELECT count(*) FROM posts").fetchone()[0]

    new = {mock.post("lin", f"between runs {number} #clitest")["uri"] for number in range(45)}
    mock.favourite("lin", shared["id"])
    mock.boost("aiko", shared["id"])  # brings it back into the list timeline with fresh counts
    second = run_cli("run", str(filter_file), "--db", str(db), "--quiet", env=env)
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(db) as conn:
        after = {row[0] for row in conn.execute("SELECT uri FROM posts")}
        assert len(after) == before + 45 and new <= after
        counts = conn.execute("SELECT likes, reposts FROM posts WHERE uri = ?", (shared["uri"],)).fetchone()
        assert tuple(counts) == (1, 1)
