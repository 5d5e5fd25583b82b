"""plnfilter against a server that answers as GoToSocial does (tests/servers/gotosocial_proxy.py in
front of mastodon-mock), through the CLI: exit codes, stderr and the archive's rows.

What differs from Mastodon and must not cost posts: pages emptied by the server's own filtering
(muted accounts) that still link onwards, no multi-get for count refresh (405), `tagged=` ignored,
404 for a hashtag nobody used, hashtag timelines only with a token, ULID ids.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from servers.gotosocial_proxy import GoToSocialProxy, gotosocial, ulid  # noqa: F401
from servers.mastodon_mock import MockInstance, mastodon_mock  # noqa: F401

pytestmark = pytest.mark.mastodon
PLNFILTER = Path(sys.executable).with_name("plnfilter")
MUTED = "newsbot"  # the reader muted this account: the server hides its posts from every page


def run(filter_file: Path, db: Path, home: Path, *extra: str) -> subprocess.CompletedProcess:
    # GoToSocial serves hashtag timelines only with a token (mastodon-mock accepts any)
    env = {**os.environ, "PLNFILTER_HOME": str(home), "PLNFILTER_MASTODON_TOKEN": "kate_token"}
    return subprocess.run(
        [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--timeout", "10", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def write(tmp_path: Path, server: str, body: str, head: str = "") -> Path:
    path = tmp_path / "gts.yaml"
    path.write_text(f"name: gts\n{head}sources:\n  - mastodon: {server}\n{body}", encoding="utf-8")
    return path


def rows(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def archived(db: Path) -> set[str]:
    return {uri for (uri,) in rows(db, "SELECT uri FROM posts")}


@pytest.fixture
def muting(gotosocial):  # noqa: F811
    gotosocial.muted.add(MUTED)
    try:
        yield gotosocial
    finally:
        gotosocial.muted.discard(MUTED)
        gotosocial.repeat_link = False


def test_catch_up_follows_the_link_past_a_page_the_server_emptied(
    mastodon_mock: MockInstance,  # noqa: F811
    muting: GoToSocialProxy,
    tmp_path,
    isolated_home,
):
    mock, tag = mastodon_mock, "GtsMutedCatchUp"
    first_post = mock.post("kate", f"where it starts #{tag}")
    filter_file, db = write(tmp_path, muting.url, f"    hashtags: [{tag}]\n"), tmp_path / "a.db"
    first = run(filter_file, db, isolated_home)
    assert first.returncode == 0, first.stderr
    assert archived(db) == {first_post["uri"]}

    hidden = [mock.post(MUTED, f"muted noise {n} #{tag}") for n in range(41)]
    wanted = mock.post("lin", f"the post that must not be lost #{tag}")
    second = run(filter_file, db, isolated_home)
    assert second.returncode == 0, second.stderr
    assert "Error" not in second.stderr
    assert archived(db) == {first_post["uri"], wanted["uri"]}  # none of the hidden ones
    pages = [path for path in muting.requests_to(f"/api/v1/timelines/tag/{tag}") if "min_id=" in path]
    assert f"min_id={ulid(hidden[39]['id'])}" in pages[-2]  # the emptied page's Link was followed
    assert rows(db, "SELECT cursor FROM sources") == [(ulid(wanted["id"]),)]

    third = run(filter_file, db, isolated_home)  # caught up: nothing new, cursor stays
    assert third.returncode == 0 and archived(db) == {first_post["uri"], wanted["uri"]}
    assert rows(db, "SELECT cursor FROM sources") == [(ulid(wanted["id"]),)]


def test_first_run_walks_across_an_empty_page(
    mastodon_mock: MockInstance,  # noqa: F811
    muting: GoToSocialProxy,
    tmp_path,
    isolated_home,
):
    mock, tag = mastodon_mock, "GtsMutedFirstRun"
    older = mock.post("kate", f"older than the noise #{tag}")
    hidden = [mock.post(MUTED, f"muted noise {n} #{tag}") for n in range(45)]  # the newest page: all hidden
    filter_file, db = write(tmp_path, muting.url, f"    hashtags: [{tag}]\n"), tmp_path / "a.db"
    first = run(filter_file, db, isolated_home)
    assert first.returncode == 0, first.stderr
    assert archived(db) == {older["uri"]}
    assert rows(db, "SELECT cursor FROM sources") == [(ulid(hidden[-1]["id"]),)]  # the top of the walk

    later = mock.post("lin", f"after the walk #{tag}")
    second = run(filter_file, db, isolated_home)
    assert second.returncode == 0, second.stderr
    assert archived(db) == {older["uri"], later["uri"]}


def test_a_server_that_repeats_its_link_ends_the_walk(
    mastodon_mock: MockInstance,  # noqa: F811
    muting: GoToSocialProxy,
    tmp_path,
    isolated_home,
):
    mock, tag = mastodon_mock, "GtsRepeatedLink"
    statuses = [mock.post("kate", f"note {n} #{tag}") for n in range(45)]
    muting.repeat_link = True  # every page of this timeline links where the first one did
    filter_file, db = write(tmp_path, muting.url, f"    hashtags: [{tag}]\n"), tmp_path / "a.db"
    first = run(filter_file, db, isolated_home)
    assert first.returncode == 0, first.stderr
    asked = muting.requests_to(f"/api/v1/timelines/tag/{tag}")
    # page 1, then the page its Link names, whose Link names the same place again: the walk ends
    assert len(asked) == 2 and archived(db) == {status["uri"] for status in statuses}

    newer = [mock.post("kate", f"newer {n} #{tag}") for n in range(3)]
    second = run(filter_file, db, isolated_home)
    assert second.returncode == 0, second.stderr
    assert len(muting.requests_to(f"/api/v1/timelines/tag/{tag}")) == 3  # one catch-up page, no loop
    assert {status["uri"] for status in newer} <= archived(db)
    assert rows(db, "SELECT cursor FROM sources") == [(ulid(newer[-1]["id"]),)]


def test_counts_are_refreshed_one_status_at_a_time_and_the_fallback_said_once(
    mastodon_mock: MockInstance,  # noqa: F811
    gotosocial: GoToSocialProxy,  # noqa: F811
    tmp_path,
    isolated_home,
):
    mock, tag = mastodon_mock, "GtsRefresh"
    statuses = [mock.post("kate", f"count me {n} #{tag}") for n in range(5)]
    filter_file = write(tmp_path, gotosocial.url, f"    hashtags: [{tag}]\n", "refresh_limit: 3\n")
    db = tmp_path / "a.db"
    assert run(filter_file, db, isolated_home).returncode == 0

    def likes() -> list[int]:
        return sorted(likes for (likes,) in rows(db, "SELECT likes FROM posts"))

    for status in statuses:  # favourites made between runs; catch-up never sees these posts again
        mock.favourite("lin", status["id"])
    gotosocial.requests.clear()
    second = run(filter_file, db, isolated_home)
    assert second.returncode == 0, second.stderr
    assert likes() == [0, 0, 0, 1, 1]  # the probe and 2 single-status requests: refresh_limit 3
    name = f"refresh:mastodon:{gotosocial.host}"
    notes = [line for line in second.stderr.splitlines() if "does not offer" in line]
    assert notes == [
        f"{name}: {gotosocial.host} does not offer GET /api/v1/statuses (it answered 405 Method Not Allowed), "
        "the request for many statuses at once (Mastodon 4.3 and later have it): counts are fetched one status "
        "at a time there, at most 3 a run (refresh_limit); asked again in 7 days"
    ]
    assert "warning" not in second.stderr.lower()
    assert len(gotosocial.requests_to("/api/v1/statuses?")) == 1  # the probe
    assert len(gotosocial.requests_to("/api/v1/statuses/")) == 2  # the rest of refresh_limit: 3
    assert rows(db, "SELECT server, quirk FROM server_quirks") == [
        (f"mastodon:{gotosocial.host}", "no-multi-get")
    ]

    for status in statuses:
        mock.favourite("kate", status["id"])
    gotosocial.requests.clear()
    third = run(filter_file, db, isolated_home)
    assert third.returncode == 0, third.stderr
    assert "does not offer" not in third.stderr and "warning" not in third.stderr.lower()
    assert likes() == [0, 0, 2, 2, 2]  # 3 single-status requests, newest first as before
    assert gotosocial.requests_to("/api/v1/statuses?") == []  # remembered: not asked in vain
    assert len(gotosocial.requests_to("/api/v1/statuses/")) == 3
    assert f"{name}: counts of 3 posts re-fetched in 3 requests" in third.stderr

    # a week later the multi-get is asked again (the server may have been upgraded); quietly
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE server_quirks SET noted_at = '2020-01-01T00:00:00Z'")
    conn.close()
    gotosocial.requests.clear()
    fourth = run(filter_file, db, isolated_home)
    assert fourth.returncode == 0, fourth.stderr
    assert "does not offer" not in fourth.stderr
    assert len(gotosocial.requests_to("/api/v1/statuses?")) == 1
    assert rows(db, "SELECT noted_at > '2020-01-01T00:00:00Z' FROM server_quirks") == [(1,)]

    # upgraded meanwhile: a week on, the multi-get answers, and the archive forgets it lacked one
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE server_quirks SET noted_at = '2020-01-01T00:00:00Z'")
    conn.close()
    gotosocial.requests.clear()
    gotosocial.upgraded = True
    try:
        fifth = run(filter_file, db, isolated_home)
    finally:
        gotosocial.upgraded = False
    assert fifth.returncode == 0, fifth.stderr
    assert len(gotosocial.requests_to("/api/v1/statuses?")) == 1
    assert gotosocial.requests_to("/api/v1/statuses/") == []
    assert rows(db, "SELECT * FROM server_quirks") == []
    assert likes() == [2, 2, 2, 2, 2]  # one request for all five, not three at most


def test_tagged_is_filtered_on_our_side(
    mastodon_mock: MockInstance,  # noqa: F811
    gotosocial: GoToSocialProxy,  # noqa: F811
    tmp_path,
    isolated_home,
):
    mock = mastodon_mock
    tagged = [mock.post("kate", f"on topic {n} #GtsTagged") for n in range(2)]
    untagged = [mock.post("kate", f"off topic {n} #SomethingElse") for n in range(3)]
    body = f"    account: kate@{gotosocial.host}\n    tagged: GtsTagged\n"
    filter_file, db = write(tmp_path, gotosocial.url, body), tmp_path / "a.db"
    result = run(filter_file, db, isolated_home)
    assert result.returncode == 0, result.stderr
    asked = gotosocial.requests_to("/api/v1/accounts/")
    assert asked and all("tagged=GtsTagged" in path for path in asked if "/statuses" in path)
    found = archived(db)
    assert {status["uri"] for status in tagged} <= found
    assert not {status["uri"] for status in untagged} & found
    assert all("gtstagged" in tags for (tags,) in rows(db, "SELECT tags FROM posts"))
    assert {source for (source,) in rows(db, "SELECT DISTINCT source FROM post_sources")} == {
        f"mastodon:{gotosocial.host}/account/kate@{gotosocial.host}/tagged/gtstagged"
    }


def test_a_hashtag_nobody_used_is_empty_not_a_failure(
    gotosocial: GoToSocialProxy,  # noqa: F811
    tmp_path,
    isolated_home,
):
    filter_file, db = (
        write(tmp_path, gotosocial.url, "    hashtags: [GtsNobodyUsedThis]\n"),
        tmp_path / "a.db",
    )
    for _ in range(2):  # first run and catch-up alike
        result = run(filter_file, db, isolated_home)
        assert result.returncode == 0, result.stderr
        assert "Error" not in result.stderr and "no posts tagged #GtsNobodyUsedThis" in result.stderr
        assert archived(db) == set()
    assert rows(db, "SELECT status FROM runs") == [("ok",), ("ok",)]

    # a 404 elsewhere (an account that does not exist) stays an error
    missing = write(tmp_path, gotosocial.url, f"    account: nobody@{gotosocial.host}\n")
    failed = run(missing, db, isolated_home)
    assert failed.returncode == 1
    assert f"account nobody@{gotosocial.host} was not found" in failed.stderr


def test_the_auth_hint_keeps_the_http_scheme(gotosocial: GoToSocialProxy, tmp_path, isolated_home):  # noqa: F811
    filter_file, db = write(tmp_path, gotosocial.url, "    hashtags: [edtech]\n"), tmp_path / "a.db"
    env = {**os.environ, "PLNFILTER_HOME": str(isolated_home)}  # no token: 401 from the server
    result = subprocess.run(
        [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--timeout", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert f"run `plnfilter auth mastodon {gotosocial.url}`" in result.stderr
    # and that command is one that works: it stores the token for this very instance
    auth = subprocess.run(
        [str(PLNFILTER), "auth", "mastodon", gotosocial.url, "--token-file", "-"],
        input="kate_token\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert auth.returncode == 0, auth.stderr
    again = subprocess.run(
        [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--timeout", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert archived(db)
