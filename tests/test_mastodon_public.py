"""Mastodon's public timelines (the web UI's Local and Federated tabs) as sources, on mastodon-mock:
`timeline: local|federated` with `remote` and `only_media`, incremental like the tag timelines."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from servers.mastodon_mock import MockInstance, mastodon_mock  # noqa: F401

from plnfilter.filterfile.model import SourceSpec
from plnfilter.sources import FetchContext
from plnfilter.sources.mastodon.fetch import timelines
from plnfilter.times import now_utc

pytestmark = pytest.mark.mastodon
PLNFILTER = Path(sys.executable).with_name("plnfilter")


def spec(base_url: str, **options) -> SourceSpec:
    return SourceSpec("mastodon", base_url, options, 1, "test")


def fetch_all(timeline, cursor=None, **kwargs):
    ctx = FetchContext(since=kwargs.pop("since", now_utc() - timedelta(hours=24)), timeout=10, **kwargs)
    return list(timeline.fetch(cursor, ctx))


def uris_of(pages) -> list[str]:
    return [post.uri for page in pages for post in page.posts]


def test_local_federated_and_remote_timelines_pick_their_posts(mastodon_mock):  # noqa: F811
    mock = mastodon_mock
    (local,) = timelines(spec(mock.base_url, timeline="local", max_pages=50))
    (federated,) = timelines(spec(mock.base_url, timeline="federated", max_pages=50))
    (remote,) = timelines(spec(mock.base_url, timeline="federated", remote=True, max_pages=50))
    assert local.name == f"mastodon:{mock.host}/public/local"
    assert federated.name == f"mastodon:{mock.host}/public/federated"
    assert remote.name == f"mastodon:{mock.host}/public/federated/remote"
    local_posts = [post for page in fetch_all(local) for post in page.posts]
    federated_uris = uris_of(fetch_all(federated))
    remote_posts = [post for page in fetch_all(remote) for post in page.posts]
    assert local_posts and remote_posts
    assert all(post.author.endswith("@" + mock.host) for post in local_posts)
    assert all(post.author.endswith("@remote.example") for post in remote_posts)
    assert len(federated_uris) == len(set(federated_uris))
    assert set(federated_uris) == {post.uri for post in local_posts} | {post.uri for post in remote_posts}
    seeded = mock.seeded
    assert seeded["kate_unlisted"]["uri"] not in federated_uris
    assert seeded["kate_private"]["uri"] not in federated_uris


def test_the_public_timeline_catches_up_with_exactly_the_new_posts(mastodon_mock):  # noqa: F811
    mock = mastodon_mock
    (timeline,) = timelines(spec(mock.base_url, timeline="local", max_pages=50))
    first = fetch_all(timeline)
    cursor = first[-1].cursor
    assert cursor
    new = [mock.post("omar", f"public {number}")["uri"] for number in range(45)]
    pages = fetch_all(timeline, cursor)
    assert sorted(uris_of(pages)) == sorted(new)
    assert len(pages) == 2 and all(page.cursor for page in pages)
    assert fetch_all(timeline, pages[-1].cursor) == []


def test_only_media_and_remote_are_asked_of_the_server():
    """mastodon-mock ignores `only_media`, so a small server records what is asked."""
    asked: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            asked.append((parts.path, parse_qs(parts.query)))
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        for options in (
            {"timeline": "federated", "remote": True, "only_media": True},
            {"timeline": "local", "only_media": True},
        ):
            (timeline,) = timelines(spec(base, **options))
            assert fetch_all(timeline) == []
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [path for path, _ in asked] == ["/api/v1/timelines/public"] * 2
    federated, local = (query for _, query in asked)
    assert (
        federated["remote"] == ["true"] and federated["only_media"] == ["true"] and "local" not in federated
    )
    assert local["local"] == ["true"] and local["only_media"] == ["true"] and "remote" not in local


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("    timeline: everything\n", "timeline 'everything' is not one of the public timelines"),
        ("    timeline: local\n    remote: true\n", "'remote' asks for other servers' posts"),
        ("    hashtags: [edtech]\n    only_media: true\n", "'only_media' only works with 'timeline'"),
    ],
)
def test_public_timeline_mistakes_name_the_line(tmp_path, options, message):
    path = tmp_path / "pln.yaml"
    path.write_text(f"name: t\nsources:\n  - mastodon: mastodon.social\n{options}", encoding="utf-8")
    result = subprocess.run([str(PLNFILTER), "check", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "pln.yaml:4: " + message in result.stderr or "pln.yaml:5: " + message in result.stderr, (
        result.stderr
    )


def test_cli_run_of_the_local_timeline_with_rules_and_max_pages(mastodon_mock, tmp_path, isolated_home):  # noqa: F811
    mock = mastodon_mock
    filter_file = tmp_path / "pln.yaml"
    filter_file.write_text(
        f"name: local\nsources:\n  - mastodon: {mock.base_url}\n    timeline: local\n    max_pages: 2\n"
        "exclude:\n  - name: bots\n    bot: true\ninclude:\n  - name: topical\n    words: [learning, oer]\n",
        encoding="utf-8",
    )
    db = tmp_path / "archive.db"
    env = {**os.environ, "PLNFILTER_HOME": str(isolated_home), "NO_PROXY": "127.0.0.1"}
    run = [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--quiet"]
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    kept_uri = mock.post("kate", "Open learning circles start Monday")["uri"]
    dropped = mock.post("newsbot", "Daily learning digest")
    dropped_uri = dropped["uri"]
    second = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(db) as conn:
        uris = [row[0] for row in conn.execute("SELECT uri FROM posts")]
        kept = dict(
            conn.execute(
                "SELECT uri, kept FROM posts JOIN verdicts ON verdicts.post_id = posts.id WHERE uri IN (?, ?)",
                (kept_uri, dropped_uri),
            )
        )
        (cursor,) = conn.execute("SELECT cursor FROM sources WHERE name LIKE '%/public/local'").fetchone()
    assert len(uris) == len(set(uris))
    assert kept == {kept_uri: 1, dropped_uri: 0}
    assert cursor == dropped["id"]  # the newest local post: the next run starts after it
