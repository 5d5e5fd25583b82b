"""A loopback proxy in front of mastodon-mock that answers as GoToSocial does (see docs peers/mastodon.md).

mastodon-mock behaves like Mastodon; GoToSocial, another server of the Mastodon client API, differs
in ways plnfilter must survive, and this proxy reproduces them on top of the mock's real data:
- it takes a page from its database, then removes what the reader may not see (here: statuses of
  the accounts in `muted`), and keeps the page's `Link` header, computed from the page it took, so
  an empty page can still link past the posts it hid (mastodon-mock alone sends no `Link` on an
  empty page, and hides nothing);
- `GET /api/v1/statuses?id[]=` (the multi-get) answers 405;
- `GET /api/v1/accounts/:id/statuses` ignores `tagged=` (the proxy strips it before forwarding);
- the hashtag timeline of a tag nobody used answers 404 (mastodon-mock: `[]`), and hashtag
  timelines need a token (401 without one);
- ids are ULID-like strings (26 characters of Crockford base-32, sorting as the mock's numbers do),
  in bodies, paths, query strings and `Link` headers alike, so nothing may treat them as numbers;
- `upgraded`: the multi-get answered after all (the server was upgraded);
- `repeat_link`: a misbehaving server that answers every later page of a path with the `Link` it
  sent first, so a client that trusts links blindly loops forever.
Started on 127.0.0.1 (a thread of the test process: it only forwards), ready when it answers,
stopped at the end of the module. Import the fixture: `from servers.gotosocial_proxy import gotosocial`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
import requests

STARTUP_SECONDS = 10.0
_TIMELINE = re.compile(r"^/api/v1/(timelines/(tag|list|home|public)(/.*)?|accounts/[^/]+/statuses)$")
_ACCOUNT_STATUSES = re.compile(r"^/api/v1/accounts/[^/]+/statuses$")
_TAG = "/api/v1/timelines/tag/"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PREFIX = "01J9ZC0000"  # + 16 base-32 digits: 80 bits, room for any of the mock's ids
_ULID = re.compile(rf"{ULID_PREFIX}[{CROCKFORD}]{{16}}")
_LINK_ID = re.compile(r"\b(max_id|min_id|since_id)=(\d+)")


def ulid(mock_id: str | int) -> str:
    """The id the proxy shows for the mock's numeric id (same order, as text)."""
    number, digits = int(mock_id), []
    for _ in range(16):
        number, rest = divmod(number, 32)
        digits.append(CROCKFORD[rest])
    return ULID_PREFIX + "".join(reversed(digits))


def mock_id(shown: str) -> str:
    """The mock's numeric id behind a ULID the proxy showed; anything else is passed on as it is."""
    if not _ULID.fullmatch(shown):
        return shown
    number = 0
    for char in shown[len(ULID_PREFIX) :]:
        number = number * 32 + CROCKFORD.index(char)
    return str(number)


def _shown_ids(value):
    """A JSON body with every `id` and `*_id` that is a number turned into a ULID."""
    if isinstance(value, list):
        return [_shown_ids(item) for item in value]
    if isinstance(value, dict):
        return {
            key: ulid(item)
            if (key == "id" or key.endswith("_id")) and isinstance(item, str) and item.isdigit()
            else _shown_ids(item)
            for key, item in value.items()
        }
    return value


class GoToSocialProxy:
    """`url` answers like GoToSocial, with mastodon-mock at `upstream` as its database."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.muted: set[str] = set()  # usernames whose statuses the reader does not see
        self.repeat_link = False
        self.upgraded = False  # True: the multi-get is forwarded, as after an upgrade that added it
        self.requests: list[str] = []  # path?query of every GET, in order
        self._first_links: dict[str, str] = {}
        self._lock = threading.Lock()
        self.session = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with proxy._lock:
                    proxy.requests.append(self.path)
                code, body, headers = proxy.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.host = self.url.removeprefix("http://")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/v1/instance", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)  # polling the condition, not waiting a fixed time
        self.stop()
        raise RuntimeError(f"the GoToSocial proxy did not answer within {STARTUP_SECONDS:g}s")

    def requests_to(self, prefix: str) -> list[str]:
        with self._lock:
            return [path for path in self.requests if path.startswith(prefix)]

    # --- answering ----------------------------------------------------------------------------
    def answer(self, raw_path: str, authorization: str | None) -> tuple[int, object, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = "/".join(mock_id(segment) for segment in parts.path.split("/"))
        query = [(key, mock_id(value)) for key, value in parse_qsl(parts.query, keep_blank_values=True)]
        if path == "/api/v1/statuses" and not self.upgraded:
            return 405, {"error": "Method Not Allowed"}, {"Allow": "POST"}
        if path.startswith(_TAG) and not authorization:
            return 401, {"error": "Unauthorized: token not supplied"}, {}
        if _ACCOUNT_STATUSES.match(path):
            query = [(key, value) for key, value in query if key != "tagged"]
        headers = {"Authorization": authorization} if authorization else {}
        upstream = self.session.get(
            f"{self.upstream}{path}", params=query, headers=headers, timeout=30, allow_redirects=False
        )
        try:
            body = upstream.json()
        except ValueError:
            return 502, {"error": "upstream sent no JSON"}, {}
        body = _shown_ids(body)
        if upstream.status_code != 200 or not _TIMELINE.match(path) or not isinstance(body, list):
            return upstream.status_code, body, {}
        if path.startswith(_TAG) and not body and not self._tag_used(path, headers):
            return 404, {"error": "Not Found"}, {}
        shown = [status for status in body if not self._hidden(status)]
        link = upstream.headers.get("Link", "").replace(self.upstream, self.url)
        link = _LINK_ID.sub(lambda match: f"{match.group(1)}={ulid(match.group(2))}", link)
        link = re.sub(
            r"/api/v1/accounts/(\d+)/", lambda match: f"/api/v1/accounts/{ulid(match.group(1))}/", link
        )
        if self.repeat_link:
            with self._lock:
                link = self._first_links.setdefault(path, link) or link
        return 200, shown, ({"Link": link} if link else {})

    def _hidden(self, status: dict) -> bool:
        for item in (status, status.get("reblog") or {}):
            account = item.get("account") or {}
            if str(account.get("username") or "") in self.muted:
                return True
        return False

    def _tag_used(self, path: str, headers: dict[str, str]) -> bool:
        tag = path[len(_TAG) :]
        probe = self.session.get(
            f"{self.upstream}{_TAG}{quote(tag, safe='%')}?{urlencode({'limit': 1})}",
            headers=headers,
            timeout=30,
        )
        return bool(probe.ok and probe.json())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.session.close()


@pytest.fixture(scope="module")
def gotosocial(mastodon_mock):
    """A GoToSocial-behaving server on 127.0.0.1, in front of the session's seeded mastodon-mock."""
    proxy = GoToSocialProxy(mastodon_mock.base_url)
    try:
        yield proxy
    finally:
        proxy.stop()
