"""The Bluesky source against Bluesky's reference network (PLC + PDS + AppView) on 127.0.0.1.

The network starts once per session (tests/bluesky_net/fixture.py) and holds the PLN of
tests/bluesky_net/scenario.py. `plnfilter run` is driven through the CLI; the archive rows are
compared with what was seeded. Tests that add posts use their own hashtags, so order does not matter.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from bluesky_net.cli import rows, run_cli, write_filter
from bluesky_net.proxy import BreakingProxy
from bluesky_net.seed import wait_until

from plnfilter.errors import RateLimited, SourceError
from plnfilter.filterfile import parse
from plnfilter.sources import FetchContext, timelines
from plnfilter.times import now_utc, parse_iso


def found_by(db: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(db)
    try:
        result: dict[str, list[str]] = {}
        for uri, source in conn.execute("SELECT uri, source FROM post_sources"):
            result.setdefault(uri, []).append(source)
        return result
    finally:
        conn.close()


def pds_calls(net, method: str) -> int:
    return net.network.pds_counts().get(method, 0)


@pytest.mark.bluesky
def test_hashtag_search_archives_each_tagged_post_once_with_counts_tags_and_langs(bluesky_env, tmp_path):
    db = tmp_path / "a.db"
    result = run_cli(write_filter(tmp_path, ["bluesky: {hashtags: [EdTech]}"]), db)
    assert result.returncode == 0, result.stderr
    posts = bluesky_env.info["posts"]
    # The reference AppView's search is a case-sensitive substring match over the text; of what it
    # returns for "#EdTech", plnfilter keeps the posts that really carry the tag.
    returned = {key for key, post in posts.items() if "#EdTech" in post["text"]}
    expected = {posts[key]["uri"] for key in returned if "edtech" in posts[key]["tags"]}
    archived = rows(db)
    assert set(archived) == expected
    assert all(len(sources) == 1 for sources in found_by(db).values())

    assess = archived[posts["assess"]["uri"]]
    assert json.loads(assess["tags"]) == ["edtech"]
    assert assess["author"] == "adjoa.test" and assess["author_name"] == "Adjoa Mensah"
    assert assess["likes"] == 1 and assess["lang"] == "en"


@pytest.mark.bluesky
def test_search_keeps_facet_tagged_posts_in_every_language_and_drops_lookalikes(bluesky_env, tmp_path):
    db = tmp_path / "a.db"
    result = run_cli(write_filter(tmp_path, ["bluesky: {hashtags: [edtech]}"]), db)
    assert result.returncode == 0, result.stderr
    posts = bluesky_env.info["posts"]
    archived = rows(db)
    returned = {key for key, post in posts.items() if "#edtech" in post["text"]}
    expected = {posts[key]["uri"] for key in returned if "edtech" in posts[key]["tags"]}
    assert set(archived) == expected
    assert posts["not_a_tag"]["uri"] not in archived  # #edtechnology matched the substring only
    assert posts["no_facet"]["uri"] not in archived  # "#edtech" typed without a tag facet
    assert posts["assess"]["uri"] not in archived  # #EdTech: this server's search never returns it

    slides = archived[posts["slides"]["uri"]]
    assert (slides["likes"], slides["reposts"], slides["replies"], slides["quotes"]) == (4, 2, 1, 2)
    assert (
        slides["card_url"] == "https://example.org/slides"
        and slides["card_title"] == "Feedback loops that work"
    )
    assert "https://example.org/slides" in json.loads(slides["links"])
    assert slides["url"].startswith("https://bsky.app/profile/kate.test/post/")
    assert {archived[posts[k]["uri"]]["lang"] for k in ("es", "ja", "de", "bilingual")} == {"es", "ja", "de"}
    assert json.loads(archived[posts["es"]["uri"]]["tags"]) == ["edtech", "pln"]
    assert json.loads(archived[posts["stuffed"]["uri"]]["tags"])[:3] == ["edtech", "ai", "crypto"]
    podcast = archived[posts["podcast"]["uri"]]
    assert podcast["has_media"] and json.loads(podcast["media_alt"]) == [
        "Podcast cover: a microphone on a desk"
    ]
    assert archived[posts["quote"]["uri"]]["quote_of"] == posts["slides"]["uri"]
    assert archived[posts["quote_media"]["uri"]]["quote_of"] == posts["slides"]["uri"]
    assert archived[posts["reply"]["uri"]]["reply_to"] == posts["slides"]["uri"]
    assert json.loads(archived[posts["reply"]["uri"]]["mentions"]) == ["kate.test"]
    assert archived[posts["sensitive"]["uri"]]["sensitive"]


@pytest.mark.bluesky
def test_search_lang_option_keeps_only_that_language(bluesky_env, tmp_path):
    db = tmp_path / "a.db"
    result = run_cli(write_filter(tmp_path, ["bluesky: {hashtags: [edtech], lang: ja}"]), db)
    assert result.returncode == 0, result.stderr
    posts = bluesky_env.info["posts"]
    assert set(rows(db)) == {posts["ja"]["uri"], posts["bilingual"]["uri"]}


@pytest.mark.bluesky
def test_list_author_feed_and_timeline_sources(bluesky_env, tmp_path):
    info = bluesky_env.info
    posts = info["posts"]
    curator_did = info["accounts"]["curator.test"]
    list_rkey = info["list"].rsplit("/", 1)[1]
    list_url = f"https://bsky.app/profile/curator.test/lists/{list_rkey}"
    db = tmp_path / "a.db"
    sources = [
        f'bluesky: {{list: "{list_url}"}}',
        "bluesky: {author: curator.test}",
        f'bluesky: {{feed: "{info["feed"]}"}}',
        "bluesky: {timeline: true}",
    ]
    result = run_cli(write_filter(tmp_path, sources), db)
    assert result.returncode == 0, result.stderr
    archived = rows(db)
    by = found_by(db)

    member_dids = {info["accounts"][h] for h in info["list_members"]}
    from_list = {uri for uri, names in by.items() if any(n.startswith("bluesky:list/") for n in names)}
    expected_list = {p["uri"] for p in posts.values() if p["uri"].split("/")[2] in member_dids}
    assert expected_list <= from_list  # other tests may add posts by members later
    assert {uri.split("/")[2] for uri in from_list} <= member_dids
    # record tags only and a mixed-case facet tag both count as the hashtag
    assert json.loads(archived[posts["tags_only"]["uri"]]["tags"]) == ["edtech", "pln"]
    assert json.loads(archived[posts["assess"]["uri"]]["tags"]) == ["edtech"]
    assert json.loads(archived[posts["EDTECH_upper"]["uri"]]["tags"]) == ["edtech"]

    # the author feed holds only the curator's reposts: stored as the originals, with who reposted
    from_author = {uri for uri, names in by.items() if "bluesky:author/curator.test" in names}
    assert from_author == {posts["slides"]["uri"], posts["es"]["uri"]}
    assert "curator.test" in json.loads(archived[posts["slides"]["uri"]]["reposted_by"])
    assert archived[posts["slides"]["uri"]]["author"] == "kate.test"
    assert not any(uri.split("/")[2] == curator_did and "feed.post" in uri for uri in archived)

    from_feed = {uri for uri, names in by.items() if any(n.startswith("bluesky:feed/") for n in names)}
    assert from_feed == set(info["feed_posts"])

    followed = {info["accounts"][h] for h in info["timeline_follows"]}
    from_timeline = {uri for uri, names in by.items() if "bluesky:timeline" in names}
    assert {uri.split("/")[2] for uri in from_timeline} <= followed
    assert {p["uri"] for p in posts.values() if p["uri"].split("/")[2] in followed} <= from_timeline


@pytest.mark.bluesky
def test_second_run_archives_only_new_posts_and_updates_counts(bluesky_env, tmp_path):
    seeder = bluesky_env.seeder
    first = [
        seeder.post("kate.test", f"Cycle note {i} #plncycle", age=timedelta(minutes=30 - i)) for i in range(3)
    ]
    bluesky_env.seeder.settle()
    filter_path = write_filter(tmp_path, ["bluesky: {hashtags: [plncycle]}"])
    db = tmp_path / "a.db"
    result = run_cli(filter_path, db)
    assert result.returncode == 0, result.stderr
    assert set(rows(db)) == {ref.uri for ref in first}

    second = [seeder.post("adjoa.test", f"Later cycle note {i} #plncycle") for i in range(2)]
    seeder.like("maria.test", first[0])
    seeder.like("yuki.test", first[0])
    bluesky_env.seeder.settle()
    result = run_cli(filter_path, db)
    assert result.returncode == 0, result.stderr
    archived = rows(db)
    assert set(archived) == {ref.uri for ref in first + second}
    assert archived[first[0].uri]["likes"] == 2  # re-seen on the page that reached the cursor

    conn = sqlite3.connect(db)
    news = [row[0] for row in conn.execute("SELECT new FROM runs ORDER BY id")]
    conn.close()
    assert news == [3, 2]


@pytest.mark.bluesky
def test_cron_runs_reuse_the_saved_session(bluesky_env, tmp_path):
    filter_path = write_filter(tmp_path, ["bluesky: {hashtags: [edtech]}", "bluesky: {timeline: true}"])
    db = tmp_path / "a.db"
    before = pds_calls(bluesky_env, "com.atproto.server.createSession")
    for _ in range(5):
        result = run_cli(filter_path, db)
        assert result.returncode == 0, result.stderr
    assert pds_calls(bluesky_env, "com.atproto.server.createSession") - before == 1
    session_file = Path(os.environ["PLNFILTER_HOME"]) / "config" / "bluesky-session-pln-runner.test.json"
    assert session_file.stat().st_mode & 0o777 == 0o600
    assert bluesky_env.info["password"] not in session_file.read_text()


@pytest.mark.bluesky
def test_a_refreshed_session_is_written_back_and_used(bluesky_env, tmp_path, monkeypatch):
    from atproto_client.client.methods_mixin.time import TimeMethodsMixin

    from plnfilter.sources.bluesky import auth as auth_bluesky
    from plnfilter.sources.bluesky.session import forget_clients

    fetch_all(timelines(spec_of("bluesky: {timeline: true}", tmp_path))[0])
    saved = auth_bluesky.load_session("pln-runner.test", bluesky_env.pds)
    assert saved
    forget_clients()
    real_now = TimeMethodsMixin.get_current_time
    monkeypatch.setattr(
        TimeMethodsMixin, "get_current_time", lambda self: real_now(self) + timedelta(hours=3)
    )
    logins = pds_calls(bluesky_env, "com.atproto.server.createSession")
    refreshes = pds_calls(bluesky_env, "com.atproto.server.refreshSession")
    fetch_all(timelines(spec_of("bluesky: {timeline: true}", tmp_path))[0])
    assert pds_calls(bluesky_env, "com.atproto.server.refreshSession") == refreshes + 1
    assert pds_calls(bluesky_env, "com.atproto.server.createSession") == logins
    rotated = auth_bluesky.load_session("pln-runner.test", bluesky_env.pds)
    assert rotated and rotated != saved


def spec_of(source_line: str, tmp_path: Path):
    return parse(f"name: x\nsources:\n  - {source_line}\n", str(tmp_path / "x.yaml")).sources[0]


def fetch_all(timeline, cursor=None, **ctx_args):
    ctx = FetchContext(since=now_utc() - timedelta(hours=24), timeout=10, **ctx_args)
    return list(timeline.fetch(cursor, ctx))


@pytest.mark.bluesky
def test_wrong_password_and_unknown_list_fail_alone_with_exit_3(bluesky_env, tmp_path, monkeypatch):
    monkeypatch.setenv("PLNFILTER_BSKY_PASSWORD", "not-the-password")
    curator = bluesky_env.did("curator.test")
    sources = [
        "bluesky: {hashtags: [edtech]}",
        f'bluesky: {{list: "at://{curator}/app.bsky.graph.list/nosuchlist"}}',
        "bluesky: {author: kate.test}",
    ]
    db = tmp_path / "a.db"
    result = run_cli(write_filter(tmp_path, sources), db)
    assert result.returncode == 3, result.stderr
    assert "app password" in result.stderr and "plnfilter auth bluesky pln-runner.test" in result.stderr
    assert "nosuchlist" in result.stderr or "list" in result.stderr.lower()
    kate = bluesky_env.did("kate.test")
    assert rows(db) and all(uri.split("/")[2] == kate for uri in rows(db))
    conn = sqlite3.connect(db)
    errors = dict(conn.execute("SELECT name, last_error FROM sources"))
    conn.close()
    assert (
        errors["bluesky:search/edtech"]
        and errors[f"bluesky:list/at://{curator}/app.bsky.graph.list/nosuchlist"]
    )
    assert not errors["bluesky:author/kate.test"]


@pytest.mark.bluesky
def test_a_server_stopping_mid_run_fails_only_its_source(bluesky_env, tmp_path):
    list_url = f"https://bsky.app/profile/curator.test/lists/{bluesky_env.info['list'].rsplit('/', 1)[1]}"
    proxy = BreakingProxy(bluesky_env.appview, allow=1)  # answers resolveHandle, then is gone
    try:
        sources = [
            "bluesky: {hashtags: [edtech]}",
            f'bluesky: {{list: "{list_url}", service: "{proxy.url}"}}',
        ]
        db = tmp_path / "a.db"
        result = run_cli(write_filter(tmp_path, sources), db)
    finally:
        proxy.stop()
    assert result.returncode == 3, result.stderr
    assert proxy.url.removeprefix("http://") in result.stderr
    assert len(proxy.requests) == 2 and "resolveHandle" in proxy.requests[0]
    conn = sqlite3.connect(db)
    state = {
        name: (cursor, error)
        for name, cursor, error in conn.execute("SELECT name, cursor, last_error FROM sources")
    }
    conn.close()
    search_cursor, search_error = state["bluesky:search/edtech"]
    list_cursor, list_error = state[next(name for name in state if "/list/" in name)]
    assert search_cursor and not search_error and list_error and not list_cursor
    assert bluesky_env.post("slides")["uri"] in rows(db)


@pytest.mark.bluesky
def test_unknown_list_is_a_source_error_with_a_next_step(bluesky_env, tmp_path):
    curator = bluesky_env.did("curator.test")
    timeline = timelines(
        spec_of(f'bluesky: {{list: "at://{curator}/app.bsky.graph.list/nosuchlist"}}', tmp_path)
    )[0]
    with pytest.raises(SourceError) as caught:
        fetch_all(timeline)
    assert "list" in caught.value.hint


@pytest.mark.bluesky
def test_server_gone_mid_walk_keeps_the_old_cursor(bluesky_env, tmp_path, monkeypatch):
    from plnfilter.sources.bluesky import fetch as source

    monkeypatch.setattr(source, "PAGE_LIMIT", 2)
    proxy = BreakingProxy(bluesky_env.appview, allow=1)
    try:
        spec = spec_of(f'bluesky: {{author: kate.test, service: "{proxy.url}"}}', tmp_path)
        pages = []
        with pytest.raises(SourceError) as caught:
            for page in timelines(spec)[0].fetch(
                None, FetchContext(since=now_utc() - timedelta(hours=24), timeout=5)
            ):
                pages.append(page)
        assert len(pages) == 1 and len(pages[0].posts) == 2 and pages[0].cursor is None
        assert "127.0.0.1" in str(caught.value) and caught.value.hint
    finally:
        proxy.stop()


@pytest.mark.bluesky
def test_server_errors_twice_then_200_are_retried_and_counted(bluesky_env, tmp_path):
    proxy = BreakingProxy(bluesky_env.appview, fail=lambda n: {1: 503, 2: 502}.get(n))
    try:
        filter_path = write_filter(tmp_path, [f'bluesky: {{author: yuki.test, service: "{proxy.url}"}}'])
        db = tmp_path / "a.db"
        result = run_cli(filter_path, db)
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    assert "retry 2 of 3" in result.stderr
    yuki_posts = {p["uri"] for p in bluesky_env.info["posts"].values() if p["author"] == "yuki.test"}
    assert yuki_posts <= set(rows(db))
    conn = sqlite3.connect(db)
    try:
        (per_source,) = conn.execute("SELECT per_source FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    name = next(name for name in json.loads(per_source) if "author/yuki.test" in name)
    assert json.loads(per_source)[name]["retries"] == 2


@pytest.mark.bluesky
def test_a_malformed_post_view_is_reported_and_the_rest_kept(bluesky_env, tmp_path):
    def break_one(data: dict) -> dict:
        if data.get("feed"):
            del data["feed"][0]["post"]["author"]
        return data

    proxy = BreakingProxy(bluesky_env.appview, mutate=break_one)
    try:
        spec = spec_of(f'bluesky: {{author: yuki.test, service: "{proxy.url}"}}', tmp_path)
        pages = fetch_all(timelines(spec)[0])
    finally:
        proxy.stop()
    yuki_posts = [p for p in bluesky_env.info["posts"].values() if p["author"] == "yuki.test"]
    assert sum(len(page.posts) for page in pages) == len(yuki_posts) - 1
    problems = [problem for page in pages for problem in page.problems]
    assert len(problems) == 1 and "at://" in problems[0]
    assert pages[-1].cursor


@pytest.mark.bluesky
def test_rate_limit_near_reset_is_waited_out_and_far_reset_stops_after_saving(
    bluesky_env, tmp_path, monkeypatch
):
    from plnfilter.sources.bluesky import fetch as source

    monkeypatch.setattr(source, "PAGE_LIMIT", 2)
    near = BreakingProxy(
        bluesky_env.appview,
        rate_limit=lambda n: (
            {"RateLimit-Reset": int(time.time()) + 1, "RateLimit-Remaining": 0} if n == 2 else None
        ),
    )
    logged: list[str] = []
    try:
        spec = spec_of(f'bluesky: {{author: jonas.test, service: "{near.url}"}}', tmp_path)
        pages = fetch_all(timelines(spec)[0], log=logged.append)
    finally:
        near.stop()
    assert any("waiting" in line for line in logged)
    assert sum(len(p.posts) for p in pages) == sum(
        1 for p in bluesky_env.info["posts"].values() if p["author"] == "jonas.test"
    )

    far = BreakingProxy(
        bluesky_env.appview,
        rate_limit=lambda n: {"RateLimit-Reset": int(time.time()) + 3600} if n >= 2 else None,
    )
    pages = []
    try:
        spec = spec_of(f'bluesky: {{author: jonas.test, service: "{far.url}"}}', tmp_path)
        with pytest.raises(RateLimited):
            for page in timelines(spec)[0].fetch(
                None, FetchContext(since=now_utc() - timedelta(hours=24), timeout=5, max_wait=5)
            ):
                pages.append(page)
    finally:
        far.stop()
    assert len(pages) == 1 and pages[0].posts and pages[0].cursor is None


@pytest.mark.bluesky
def test_network_answers_on_loopback_only(bluesky_env):
    for url in (bluesky_env.pds, bluesky_env.appview):
        assert url.startswith("http://127.0.0.1:")
    assert wait_until(lambda: bluesky_env.network.process.poll() is None, timeout=1)


# --- without the network: the walk's stopping rules on captured pages ----------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "bluesky"


class ScriptedConnection:
    """Stands in for bluesky_session.Connection: answers `get` with captured pages, in order."""

    name = "bluesky:test"

    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages
        self.calls: list[dict] = []

    def get(self, nsid: str, params: dict, hint: str = "") -> dict:
        self.calls.append(params)
        return self.pages[len(self.calls) - 1]


def captured_pages(size: int) -> list[dict]:
    """The captured searchPosts response cut into pages of `size`, newest first, with cursors."""
    posts = json.loads((FIXTURES / "searchPosts.json").read_text())["posts"]
    chunks = [posts[i : i + size] for i in range(0, len(posts), size)]
    return [
        {"posts": chunk, **({"cursor": str(n + 1)} if n + 1 < len(chunks) else {})}
        for n, chunk in enumerate(chunks)
    ]


def run_walk(pages, cursor=None, since=None, max_pages=10, keep=lambda post, item: True):
    from plnfilter.sources.bluesky.fetch import walk

    conn = ScriptedConnection(pages)
    since = since or parse_iso("2000-01-01T00:00:00Z")
    return conn, list(
        walk(
            conn,
            "app.bsky.feed.searchPosts",
            {"q": "x"},
            "posts",
            cursor,
            since=since,
            max_pages=max_pages,
            keep=keep,
        )
    )


def test_first_walk_reads_every_page_and_only_the_last_carries_the_cursor():
    conn, pages = run_walk(captured_pages(5))
    assert len(conn.calls) == 3 and [p.cursor is None for p in pages] == [True, True, False]
    newest = json.loads((FIXTURES / "searchPosts.json").read_text())["posts"][0]
    assert pages[-1].cursor.endswith("|" + newest["uri"])
    assert sum(len(p.posts) for p in pages) == 14


def test_next_walk_stops_at_the_page_that_reaches_the_cursor():
    _, first = run_walk(captured_pages(5))
    conn, again = run_walk(captured_pages(5), cursor=first[-1].cursor)
    assert len(conn.calls) == 1  # the first page already holds the newest post seen
    assert again[-1].cursor == first[-1].cursor


def test_first_walk_stops_at_the_since_horizon_and_drops_older_posts():
    posts = json.loads((FIXTURES / "searchPosts.json").read_text())["posts"]
    horizon = parse_iso(posts[3]["indexedAt"])
    conn, pages = run_walk(captured_pages(2), since=horizon)
    assert len(conn.calls) == 3  # the third page holds the first post older than the horizon: stop
    assert [p.uri for page in pages for p in page.posts] == [p["uri"] for p in posts[:4]]


def test_max_pages_ends_the_walk_and_says_so_when_it_leaves_a_gap():
    _, first = run_walk(captured_pages(2)[-1:])  # an old cursor: only the oldest posts were seen
    conn, pages = run_walk(captured_pages(2), cursor=first[-1].cursor, max_pages=2)
    assert len(conn.calls) == 2 and pages[-1].cursor and "max_pages" in pages[-1].problems[0]


def test_a_malformed_item_is_reported_by_uri_and_the_page_kept():
    page = captured_pages(14)
    bad = page[0]["posts"][4]
    del bad["record"]
    _, pages = run_walk(page)
    assert len(pages[0].posts) == 13 and pages[0].problems == [
        f"skipped malformed post {bad['uri']}: {bad['uri']}: post view has no record"
    ]


def test_a_pinned_old_post_does_not_end_the_walk():
    feed = json.loads((FIXTURES / "getAuthorFeed.json").read_text())["feed"]
    pinned = copy.deepcopy(feed[-1])
    pinned["reason"] = {"$type": "app.bsky.feed.defs#reasonPin"}
    pinned["post"]["indexedAt"] = pinned["post"]["record"]["createdAt"] = "2001-01-01T00:00:00.000Z"
    from plnfilter.sources.bluesky.fetch import walk

    conn = ScriptedConnection([{"feed": [pinned, *feed[:2]], "cursor": "2"}, {"feed": feed[2:]}])
    since = parse_iso("2020-01-01T00:00:00Z")
    pages = list(
        walk(
            conn,
            "app.bsky.feed.getAuthorFeed",
            {},
            "feed",
            None,
            since=since,
            max_pages=10,
            keep=lambda p, i: True,
        )
    )
    assert len(conn.calls) == 2 and pages[-1].cursor


def test_reposts_of_one_post_on_a_page_become_one_post_with_both_reposters():
    feed = json.loads((FIXTURES / "getAuthorFeed-reposts.json").read_text())["feed"]
    second = copy.deepcopy(feed[0])
    second["reason"]["by"]["handle"] = "someone-else.test"
    from plnfilter.sources.bluesky.fetch import walk

    conn = ScriptedConnection([{"feed": [feed[0], second]}])
    since = parse_iso("2020-01-01T00:00:00Z")
    pages = list(
        walk(
            conn,
            "app.bsky.feed.getAuthorFeed",
            {},
            "feed",
            None,
            since=since,
            max_pages=10,
            keep=lambda p, i: True,
        )
    )
    assert [p.reposted_by for p in pages[0].posts] == [("curator.test", "someone-else.test")]


def test_timeline_names_are_stable_cursor_keys(tmp_path):
    names = [t.name for t in timelines(spec_of("bluesky: {hashtags: [EdTech, '#PLN'], lang: en}", tmp_path))]
    assert names == ["bluesky:search/edtech", "bluesky:search/pln"]
    named = timelines(spec_of("bluesky: {author: kate.bsky.social, name: kate}", tmp_path))
    assert [t.name for t in named] == ["bluesky:kate"]
    served = timelines(spec_of('bluesky: {author: kate.test, service: "http://127.0.0.1:2583"}', tmp_path))
    assert [t.name for t in served] == ["bluesky:127.0.0.1:2583/author/kate.test"]


def test_a_list_given_as_a_web_url_needs_a_resolvable_handle(tmp_path):
    from plnfilter.sources.bluesky.fetch import resolve_uri

    class Resolver(ScriptedConnection):
        def get(self, nsid, params, hint=""):
            assert nsid == "com.atproto.identity.resolveHandle" and params == {"handle": "kate.test"}
            return {"did": "did:plc:abc"}

    url = "https://bsky.app/profile/kate.test/lists/3kxyz"
    assert (
        resolve_uri(Resolver([]), url, "lists", "app.bsky.graph.list", "n")
        == "at://did:plc:abc/app.bsky.graph.list/3kxyz"
    )
    with pytest.raises(SourceError) as caught:
        resolve_uri(
            Resolver([]), "https://bsky.app/profile/kate.test/feed/3kxyz", "lists", "app.bsky.graph.list", "n"
        )
    assert "bsky.app/profile/HANDLE/lists/RKEY" in caught.value.hint


def test_importing_the_source_does_not_import_atproto():
    code = "import sys, plnfilter.sources.bluesky.fetch, plnfilter.sources.bluesky.normalize, plnfilter.sources.bluesky.auth; print('atproto' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_stored_app_password_is_private_and_the_environment_wins(monkeypatch):
    from plnfilter.errors import AuthError
    from plnfilter.sources.bluesky import auth as auth_bluesky

    path = auth_bluesky.store_app_password("@Kate.Test", "app-pass-1", "https://pds.example/")
    assert path.stat().st_mode & 0o777 == 0o600
    found = auth_bluesky.find_credentials()
    assert (found.handle, found.password, found.service) == ("kate.test", "app-pass-1", "https://pds.example")
    assert auth_bluesky.login_service(found) == "https://pds.example"
    monkeypatch.setenv("PLNFILTER_BSKY_SERVICE", "https://entryway.example")
    assert auth_bluesky.login_service(found) == "https://entryway.example"
    auth_bluesky.store_app_password("adjoa.test", "app-pass-2")
    with pytest.raises(AuthError) as caught:
        auth_bluesky.find_credentials()
    assert "PLNFILTER_BSKY_HANDLE" in caught.value.hint
    monkeypatch.setenv("PLNFILTER_BSKY_HANDLE", "adjoa.test")
    assert auth_bluesky.find_credentials().password == "app-pass-2"
    monkeypatch.setenv("PLNFILTER_BSKY_PASSWORD", "from-bluesky_env")
    assert auth_bluesky.find_credentials() == auth_bluesky.Credentials(
        "adjoa.test", "from-bluesky_env", "environment"
    )


def test_timeline_without_any_login_is_a_source_error_naming_the_command(tmp_path):
    with pytest.raises(SourceError) as caught:
        fetch_all(timelines(spec_of("bluesky: {timeline: true}", tmp_path))[0])
    assert "plnfilter auth bluesky" in caught.value.hint


@pytest.mark.bluesky
def test_a_post_liked_between_runs_has_its_count_updated_though_catch_up_never_sees_it(bluesky_env, tmp_path):
    seeder = bluesky_env.seeder
    seeder.account("counts-author.test")
    old = seeder.post("counts-author.test", "The first note #plnrefresh", age=timedelta(minutes=300))
    for i in range(100):  # a full page of newer posts: the next walk stops before reaching `old`
        seeder.post("counts-author.test", f"note {i} #plnrefresh", age=timedelta(minutes=200 - i))
    bluesky_env.seeder.settle()
    proxy = BreakingProxy(bluesky_env.appview)
    try:
        source = f'bluesky: {{author: counts-author.test, service: "{proxy.url}"}}'
        fresh = write_filter(tmp_path, [source], "fresh.yaml")
        frozen = tmp_path / "frozen.yaml"
        frozen.write_text(fresh.read_text().replace("name: bsky-test\n", "name: frozen\nrefresh: off\n"))
        fresh_db, frozen_db = tmp_path / "fresh.db", tmp_path / "frozen.db"
        for path, db in ((fresh, fresh_db), (frozen, frozen_db)):
            result = run_cli(path, db)
            assert result.returncode == 0, result.stderr
            assert len(rows(db)) == 101 and rows(db)[old.uri]["likes"] == 0
        seeder.like("maria.test", old)
        seeder.like("yuki.test", old)
        seeder.repost("adjoa.test", old)
        newest = seeder.post("counts-author.test", "after the first run #plnrefresh")
        bluesky_env.seeder.settle()
        proxy.requests.clear()
        results = {db: run_cli(path, db) for path, db in ((fresh, fresh_db), (frozen, frozen_db))}
    finally:
        proxy.stop()
    for result in results.values():
        assert result.returncode == 0, result.stderr
    get_posts = [path for path in proxy.requests if path.startswith("/xrpc/app.bsky.feed.getPosts")]
    assert len(get_posts) == 1  # only the fresh archive asks, and only about the posts not re-seen
    for db, counts in ((fresh_db, (2, 1)), (frozen_db, (0, 0))):
        archived = rows(db)
        assert newest.uri in archived and len(archived) == 102
        assert (archived[old.uri]["likes"], archived[old.uri]["reposts"]) == counts
    conn = sqlite3.connect(fresh_db)
    new, per_source = conn.execute("SELECT new, per_source FROM runs ORDER BY id DESC").fetchone()
    conn.close()
    job = json.loads(per_source)[f"refresh:bluesky:{proxy.url.removeprefix('http://')}"]
    assert new == 1 and job["requests"] == 1 and job["changed"] == 1 and job["asked"] == 2
