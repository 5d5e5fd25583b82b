"""Failure paths of the Mastodon source against a small HTTP server the test scripts (127.0.0.1 only).

Statuses are a real Mastodon 4.x status (tests/fixtures/mastodon) with ids swapped; the server
pages like Mastodon (`max_id`/`min_id`, `Link` headers) over ids compared as strings, so
ULID-style ids work as on GoToSocial.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from plnfilter.errors import AuthError, RateLimited, SourceError
from plnfilter.filterfile.model import SourceSpec
from plnfilter.sources import FetchContext
from plnfilter.sources.mastodon.auth import env_name, store_token, token_for, verify
from plnfilter.sources.mastodon.fetch import timelines
from plnfilter.times import now_utc

TEMPLATE = json.loads((Path(__file__).parent / "fixtures/mastodon/mastodon-4x-cassettes.json").read_text())[
    "hashtag"
]
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(number: int) -> str:
    """A ULID-shaped id (26 Crockford base-32 characters) that sorts as text in creation order."""
    digits = []
    for _ in range(16):
        number, rest = divmod(number, 32)
        digits.append(CROCKFORD[rest])
    return "01J9ZC0000" + "".join(reversed(digits))


def status(status_id: str, minutes_ago: float = 1) -> dict:
    item = copy.deepcopy(TEMPLATE)
    item["id"] = status_id
    item["uri"] = f"https://gts.example/users/a/statuses/{status_id}"
    item["url"] = f"https://gts.example/@a/statuses/{status_id}"
    item["created_at"] = (
        (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    )
    return item


class Scripted:
    """What the server answers: `answer(path, query, headers)` -> (status, headers, body bytes, delay seconds)."""

    def __init__(self) -> None:
        self.statuses: list[dict] = []  # oldest first
        self.requests: list[tuple[str, dict, str]] = []
        self.answer = self.timeline

    def timeline(self, path, query, headers):
        limit = int(query.get("limit", ["40"])[0])
        ids = [item["id"] for item in self.statuses]
        if "min_id" in query:
            chosen = [i for i in ids if i > query["min_id"][0]][:limit]
        else:
            chosen = [i for i in ids if "max_id" not in query or i < query["max_id"][0]][-limit:]
        page = [item for item in self.statuses if item["id"] in chosen][::-1]
        extra = {}
        if page:
            base = f"http://127.0.0.1{path}"
            extra["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}&limit={limit}>; rel="next", <{base}?min_id={page[0]["id"]}&limit={limit}>; rel="prev"'
            )
        return 200, extra, json.dumps(page).encode(), 0


@pytest.fixture
def server():
    scripted = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            scripted.requests.append((parts.path, query, self.headers.get("Authorization", "")))
            code, headers, body, delay = scripted.answer(parts.path, query, self.headers)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    scripted.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    scripted.host = f"127.0.0.1:{httpd.server_address[1]}"
    yield scripted
    httpd.shutdown()
    httpd.server_close()


def tag_timeline(server, tag="edtech", **options):
    (timeline,) = timelines(SourceSpec("mastodon", server.base_url, {"hashtags": [tag], **options}, 1, "t"))
    return timeline


def context(messages=None, **kwargs) -> FetchContext:
    log = messages.append if messages is not None else (lambda message: None)
    return FetchContext(
        since=now_utc() - timedelta(hours=24), timeout=kwargs.pop("timeout", 5), log=log, **kwargs
    )


def collect(timeline, cursor, ctx):
    """Pages yielded before the failure, and the failure."""
    pages = []
    try:
        for page in timeline.fetch(cursor, ctx):
            pages.append(page)
    except SourceError as exc:
        return pages, exc
    return pages, None


def fixed(code, body, headers=None, delay=0):
    return lambda path, query, headers_in: (code, headers or {}, body, delay)


def test_anonymous_tag_feed_refused_says_how_to_log_in(server):
    server.answer = fixed(401, b'{"error":"token not supplied"}')
    with pytest.raises(SourceError) as caught:
        list(tag_timeline(server).fetch(None, context()))
    assert "requires login" in str(caught.value)
    # an http instance keeps its scheme: `auth` given a bare host would try https
    assert f"plnfilter auth mastodon {server.base_url}`" in str(caught.value)


def test_stored_token_is_sent_and_a_rejected_one_is_named(server):
    store_token(server.base_url, "stored-token")
    server.answer = fixed(401, b'{"error":"invalid token"}')
    with pytest.raises(SourceError, match="rejected the access token"):
        list(tag_timeline(server).fetch(None, context()))
    assert server.requests[0][2] == "Bearer stored-token"


def test_unknown_tag_404_is_an_empty_timeline_and_a_404_elsewhere_an_error(server):
    # GoToSocial answers 404 for a hashtag nobody has used yet (Mastodon: []): nothing to fetch yet
    server.answer = fixed(404, b'{"error":"Record not found"}')
    messages: list[str] = []
    assert list(tag_timeline(server, "nosuchtag").fetch(None, context(messages))) == []
    assert list(tag_timeline(server, "nosuchtag").fetch("01J9ZC0000", context(messages))) == []
    assert messages and "no posts tagged #nosuchtag" in messages[0]
    (account,) = timelines(SourceSpec("mastodon", server.base_url, {"account": "a@gts.example"}, 1, "t"))
    with pytest.raises(SourceError, match=r"account a@gts.example was not found .*404"):
        list(account.fetch(None, context()))


def test_server_error_503(server):
    server.answer = fixed(503, b"<html>down</html>")
    with pytest.raises(SourceError, match="503") as caught:
        list(tag_timeline(server).fetch(None, context()))
    assert "next run retries" in caught.value.hint


def test_stalled_response_times_out(server):
    server.answer = fixed(200, b"[]", delay=3)
    with pytest.raises(SourceError, match=r"no answer from .* within 0.5s"):
        list(tag_timeline(server).fetch(None, context(timeout=0.5)))


def test_not_json(server):
    server.answer = fixed(200, b"<html>a login page</html>")
    with pytest.raises(SourceError, match="not JSON"):
        list(tag_timeline(server).fetch(None, context()))


def test_nothing_listening():
    class Gone:
        base_url = "http://127.0.0.1:9"

    with pytest.raises(SourceError, match="could not connect"):
        list(tag_timeline(Gone).fetch(None, context(timeout=2)))


def test_ulid_ids_page_back_on_first_run_and_forward_on_catch_up(server):
    server.statuses = [status(ulid(n), minutes_ago=200 - n) for n in range(100)]
    timeline = tag_timeline(server)
    pages = list(timeline.fetch(None, context()))
    assert [post.uri for page in pages for post in page.posts] == [s["uri"] for s in server.statuses[::-1]]
    assert [page.cursor for page in pages] == [None, None, ulid(99)]
    server.statuses += [status(ulid(n), minutes_ago=0.5) for n in range(100, 150)]
    caught_up = list(timeline.fetch(ulid(99), context()))
    assert sorted(post.uri for page in caught_up for post in page.posts) == sorted(
        s["uri"] for s in server.statuses[100:]
    )
    assert [page.cursor for page in caught_up] == [ulid(139), ulid(149)]
    assert server.requests[-1][1]["min_id"] == [ulid(149)]


def test_near_rate_limit_reset_is_waited_out(server):
    server.statuses = [status(ulid(n)) for n in range(60)]
    spent = {"done": False}

    def answer(path, query, headers):
        if "max_id" in query and not spent["done"]:
            spent["done"] = True
            reset = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
            headers_out = {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
                "Date": formatdate(usegmt=True),
            }
            return 429, headers_out, b'{"error":"Too many requests"}', 0
        return server.timeline(path, query, headers)

    server.answer = answer
    messages: list[str] = []
    pages = list(tag_timeline(server).fetch(None, context(messages, max_wait=10)))
    assert sum(len(page.posts) for page in pages) == 60
    assert any("waiting" in message for message in messages)


def test_far_rate_limit_reset_stops_with_the_cursor_saved(server):
    server.statuses = [status(ulid(n)) for n in range(100)]

    def answer(path, query, headers):
        code, headers_out, body, delay = server.timeline(path, query, headers)
        reset = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        return code, {**headers_out, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, body, delay

    server.answer = answer
    pages, error = collect(tag_timeline(server), ulid(9), context(max_wait=30))
    assert isinstance(error, RateLimited)
    assert "resets in" in str(error) and "cursor is saved" in str(error)
    assert [page.cursor for page in pages] == [ulid(49)]  # the page fetched before the limit, with its cursor
    assert len(server.requests) == 1  # no request after the limit was spent


def test_malformed_status_is_reported_and_the_rest_kept(server):
    broken = status(ulid(2))
    del broken["uri"]
    server.statuses = [status(ulid(1)), broken, status(ulid(3))]
    (page,) = list(tag_timeline(server).fetch(None, context()))
    assert len(page.posts) == 2
    assert page.problems and ulid(2) in page.problems[0]


def test_error_mid_walk_yields_fetched_pages_and_the_next_fetch_resumes_the_walk(server):
    server.statuses = [status(ulid(n)) for n in range(60)]

    def answer(path, query, headers):
        if "max_id" in query:
            return 502, {}, b"bad gateway", 0
        return server.timeline(path, query, headers)

    server.answer = answer
    pages, error = collect(tag_timeline(server), None, context())
    assert "502" in str(error)
    assert len(pages) == 1 and len(pages[0].posts) == 40 and pages[0].cursor  # where the walk stopped

    server.statuses += [status(ulid(n)) for n in range(60, 65)]  # new posts above the walk's top
    server.answer = server.timeline
    asked_before = len(server.requests)
    resumed = list(tag_timeline(server).fetch(pages[0].cursor, context()))
    assert server.requests[asked_before][1]["max_id"] == [ulid(20)]  # on from the oldest saved, not the top
    assert sorted(post.uri for page in resumed for post in page.posts) == sorted(
        s["uri"] for s in server.statuses[:20] + server.statuses[60:]
    )
    assert resumed[-1].cursor == ulid(64)


def test_local_option_asks_for_the_local_timeline_under_its_own_cursor_key(server):
    timeline = tag_timeline(server, "EdTech", local=True)
    assert timeline.name == f"mastodon:{server.host}/tag/edtech/local"
    list(timeline.fetch(None, context()))
    assert server.requests[0][0] == "/api/v1/timelines/tag/EdTech"
    assert server.requests[0][1]["local"] == ["true"] and server.requests[0][2] == ""


def test_token_lookup_order_env_instance_then_env_generic_then_file(monkeypatch):
    assert token_for("mastodon.social") is None
    path = store_token("https://Mastodon.Social/", "from-file")
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
    assert token_for("mastodon.social") == "from-file"
    monkeypatch.setenv("PLNFILTER_MASTODON_TOKEN", "generic")
    assert token_for("mastodon.social") == "generic"
    monkeypatch.setenv(env_name("mastodon.social"), "specific")
    assert env_name("http://127.0.0.1:8123") == "PLNFILTER_MASTODON_TOKEN_127_0_0_1_8123"
    assert token_for("mastodon.social") == "specific"


def test_verify_reports_a_rejected_token_with_a_next_step(server):
    server.answer = fixed(401, b'{"error":"The access token is invalid"}')
    with pytest.raises(AuthError, match="rejected the token") as caught:
        verify(server.base_url, "bad", timeout=5)
    assert caught.value.hint.endswith(f"plnfilter auth mastodon {server.base_url}")


def test_verify_names_the_account(server):
    account = dict(TEMPLATE["account"])
    server.answer = fixed(200, json.dumps(account).encode())
    assert verify(server.base_url, "good", timeout=5)["acct"] == f"{account['acct']}@{server.host}"
    assert server.requests[0][0] == "/api/v1/accounts/verify_credentials"
