"""Who may see a post: followers-only posts and authors who opted out stay out of what is published
(html, atom, markdown) unless asked; direct messages are never archived. Against mastodon-mock on
loopback, behind a small proxy of our own that says `noindex: true` for one account (mastodon-mock
always sends null)."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from servers.mastodon_mock import seed_config, start_mock

from plnfilter.cli import cli

pytestmark = pytest.mark.mastodon

NOINDEX = "aiko"  # the account whose JSON the proxy marks `noindex: true`


def _mark_noindex(value: Any) -> Any:
    """Every account object of NOINDEX in a JSON answer gets `noindex: true`."""
    if isinstance(value, list):
        return [_mark_noindex(item) for item in value]
    if isinstance(value, dict):
        out = {key: _mark_noindex(item) for key, item in value.items()}
        if "acct" in out and "username" in out and out.get("username") == NOINDEX:
            out["noindex"] = True
        return out
    return value


class NoindexProxy:
    """Forwards GETs to the mock; rewrites JSON answers with `_mark_noindex`."""

    def __init__(self, upstream: str) -> None:
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
                answer = session.get(upstream + self.path, headers=headers, timeout=10)
                body = answer.content
                if "json" in answer.headers.get("Content-Type", ""):
                    body = json.dumps(_mark_noindex(answer.json())).encode()
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                if "Link" in answer.headers:
                    self.send_header("Link", answer.headers["Link"].replace(upstream, self.server.base))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.server.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def community():
    """Kate lists lin and aiko; lin writes a followers-only post, a direct message to kate and a
    public one; aiko (noindex) a public one."""
    mock = start_mock(seed_config())
    proxy = NoindexProxy(mock.base_url)
    try:
        mock.follow("kate", "lin")
        mock.follow("kate", "aiko")
        mock.make_list("kate", "Watch", ["lin", "aiko"])
        posts = {
            "followers": mock.post("lin", "Only my followers should read this", visibility="private"),
            "direct": mock.post("lin", "@kate a private word between us", visibility="direct"),
            "public": mock.post("lin", "Open to everyone: a note on rubrics"),
            "noindex": mock.post("aiko", "Public, but please do not index me"),
        }
        yield mock, proxy, posts
    finally:
        proxy.stop()
        mock.stop()


@pytest.fixture
def archive(community, tmp_path, monkeypatch, isolated_home):
    mock, proxy, posts = community
    monkeypatch.setenv(f"PLNFILTER_MASTODON_TOKEN_127_0_0_1_{proxy.port}", "kate_token")
    filter_path = tmp_path / "watch.yaml"
    filter_path.write_text(
        "name: watch\nsources:\n"
        f"  - mastodon: http://127.0.0.1:{proxy.port}\n    list: Watch\n"
        f"  - mastodon: http://127.0.0.1:{proxy.port}\n    account: lin@127.0.0.1:{proxy.port}\n",
        encoding="utf-8",
    )
    db = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["run", str(filter_path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db, posts


def rows(db) -> dict[str, tuple]:
    conn = sqlite3.connect(db)
    try:
        found = conn.execute("SELECT uri, visibility, author_opt_out FROM posts").fetchall()
    finally:
        conn.close()
    return {uri: (visibility, opted_out) for uri, visibility, opted_out in found}


def test_visibility_and_opt_out_are_archived_and_direct_messages_never(archive):
    db, posts = archive
    stored = rows(db)
    assert stored[posts["followers"]["uri"]] == ("followers", 0)
    assert stored[posts["public"]["uri"]] == ("public", 0)
    assert stored[posts["noindex"]["uri"]] == ("public", 1)
    assert posts["direct"]["uri"] not in stored
    exported = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "jsonl"])
    by_uri = {row["uri"]: row for row in map(json.loads, exported.output.splitlines())}
    assert by_uri[posts["followers"]["uri"]]["visibility"] == "followers"
    assert by_uri[posts["noindex"]["uri"]]["author_opt_out"] is True
    csv_out = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "csv"])
    assert (
        "visibility" in csv_out.output.splitlines()[0] and "author_opt_out" in csv_out.output.splitlines()[0]
    )


@pytest.mark.parametrize("fmt", ["html", "atom", "markdown"])
@pytest.mark.parametrize("command", ["export", "top"])
def test_published_outputs_leave_them_out_unless_asked(archive, command, fmt):
    db, posts = archive
    args = [command, "--db", str(db), "--format", fmt] + (["--since", "3650d"] if command == "top" else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for key in ("followers", "noindex"):
        assert posts[key]["content"].removeprefix("<p>").removesuffix("</p>")[:20] not in result.stdout
    assert "rubrics" in result.stdout
    assert "left out 2 posts not everyone may see" in result.stderr
    quiet = CliRunner().invoke(cli, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    everything = CliRunner().invoke(cli, [*args, "--include-private"])
    assert everything.exit_code == 0
    assert "Only my followers" in everything.stdout and "please do not index" in everything.stdout
    assert "left out" not in everything.stderr


def test_rules_select_on_visibility(archive, tmp_path):
    db, posts = archive
    public = tmp_path / "public.yaml"
    public.write_text("name: public-only\ninclude:\n  - {name: open, visibility: [public, unlisted]}\n")
    assert CliRunner().invoke(cli, ["apply", str(public), "--db", str(db), "-q"]).exit_code == 0
    kept = CliRunner().invoke(cli, ["query", "--db", str(db), "--filter", "public-only", "--format", "jsonl"])
    uris = {row["uri"] for row in map(json.loads, kept.output.splitlines())}
    assert posts["public"]["uri"] in uris and posts["followers"]["uri"] not in uris
    bad = tmp_path / "bad.yaml"
    bad.write_text("include:\n  - {visibility: [private]}\n")
    checked = CliRunner().invoke(cli, ["check", str(bad)])
    assert checked.exit_code == 2 and "unknown visibility 'private'" in checked.output
    assert "followers" in checked.output


def test_a_bluesky_author_labelled_no_unauthenticated_is_opted_out():
    from plnfilter.sources.bluesky.normalize import to_post

    def view(labels: list) -> dict:
        return {
            "uri": "at://did:plc:quiet/app.bsky.feed.post/3kq1",
            "cid": "bafy",
            "author": {"did": "did:plc:quiet", "handle": "quiet.test", "labels": labels},
            "record": {"text": "hello", "createdAt": "2026-11-26T10:00:00Z"},
            "indexedAt": "2026-11-26T10:00:01Z",
        }

    label = {
        "src": "did:plc:quiet",
        "uri": "at://did:plc:quiet/app.bsky.actor.profile/self",
        "val": "!no-unauthenticated",
    }
    assert to_post(view([label])).author_opt_out is True
    assert to_post(view([label])).visibility == "public"
    assert to_post(view([])).author_opt_out is False
    assert to_post(view([{**label, "neg": True}])).author_opt_out is False


def test_lang_unknown_names_the_posts_that_declare_no_language(tmp_path):
    from plnfilter.filterfile import parse
    from plnfilter.post import Post
    from plnfilter.rules import compile_rules

    def kept(yaml: str, lang: str) -> bool:
        return compile_rules(parse(yaml)).evaluate(Post(uri="u", network="mastodon", lang=lang)).kept

    with_unknown = "include:\n  - {lang: [en, unknown]}\n"
    assert kept(with_unknown, "") and kept(with_unknown, "en-GB") and not kept(with_unknown, "de")
    assert not kept("include:\n  - {lang: [en]}\n", "")
    # the trap filters/README.md warns about: `not: {lang: [...]}` drops posts with no language
    assert not kept("exclude:\n  - {not: {lang: [en, de]}}\n", "")
    assert kept("exclude:\n  - {not: {lang: [en, de, unknown]}}\n", "")
    path = tmp_path / "langs.yaml"
    path.write_text(
        "include:\n  - {name: english, lang: [en]}\n  - {name: any-or-none, lang: [en, unknown]}\n"
    )
    checked = CliRunner().invoke(cli, ["check", str(path)])
    assert checked.exit_code == 0
    assert "a post that declares no language does not match it; `unknown` names those" in checked.output
    assert "(unknown: posts that declare no language)" in checked.output
