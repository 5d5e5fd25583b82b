"""A mastodon-mock server (PyPI `mastodon-mock`) on 127.0.0.1 for the test session, seeded through its API.

Started once per session as `mastodon_mock serve --in-memory` on a free port (a subprocess, so a
hang in the server never hangs pytest), stopped at exit. Accounts come from its TOML seed
config (tokens, bot flag, a remote account with its statuses); everything else (languages,
content warnings, media with alt text, replies, boosts, favourites, lists, unlisted and private
posts) is posted through the Mastodon REST API like any client would.
Import the fixtures into a test module: `from servers.mastodon_mock import mastodon_mock  # noqa: F401`.
"""

from __future__ import annotations

import atexit
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

MOCK_BIN = Path(sys.executable).with_name("mastodon_mock")
STARTUP_SECONDS = 30.0

# name, display name, bot, remote domain (None: local, with a token "<name>_token")
ACCOUNTS: list[tuple[str, str, bool, str | None]] = [
    ("kate", "Kate Teaches", False, None),
    ("omar", "Omar Lernt", False, None),
    ("lin", "Lin Bibliothèque", False, None),
    ("newsbot", "EdTech News Bot", True, None),
    ("aiko", "Aiko 先生", False, None),
    ("zed", "Zed Remote", False, "remote.example"),
]
REMOTE_STATUSES = [("zed", "A remote voice on #EdTech and #PLN from another server")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tiny_png() -> bytes:
    """A valid 1x1 PNG, so the mock files the attachment as an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def seed_config(accounts=ACCOUNTS, remote_statuses=REMOTE_STATUSES) -> str:
    lines = ["[seed]"]
    for name, display, bot, domain in accounts:
        lines += ["[[seed.accounts]]", f'username = "{name}"', f'display_name = "{display}"']
        lines.append(f"bot = {'true' if bot else 'false'}")
        if domain:
            lines.append(f'domain = "{domain}"')
        else:
            lines.append(f'access_token = "{name}_token"')
    for name, text in remote_statuses:
        lines += ["[[seed.statuses]]", f'account = "{name}"', f'text = "{text}"']
    return "\n".join(lines) + "\n"


@dataclass
class MockInstance:
    """A running mock and the client calls the tests seed it with."""

    port: int
    process: subprocess.Popen
    workdir: str
    session: requests.Session = field(default_factory=requests.Session)
    seeded: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def call(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {user}_token"} if user else {}
        response = self.session.request(method, self.base_url + path, headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def post(self, user: str, text: str, **fields: Any) -> dict[str, Any]:
        """POST /api/v1/statuses; fields like language, spoiler_text, sensitive, visibility, in_reply_to_id."""
        data = {"status": text, "visibility": "public", **fields}
        media_ids = data.pop("media_ids", None)
        if media_ids:
            data["media_ids[]"] = media_ids
        return self.call("POST", "/api/v1/statuses", user, data=data)

    def image(self, user: str, description: str) -> str:
        files = {"file": ("sketch.png", tiny_png(), "image/png")}
        return self.call("POST", "/api/v2/media", user, files=files, data={"description": description})["id"]

    def favourite(self, user: str, status_id: str) -> None:
        self.call("POST", f"/api/v1/statuses/{status_id}/favourite", user)

    def boost(self, user: str, status_id: str) -> dict[str, Any]:
        return self.call("POST", f"/api/v1/statuses/{status_id}/reblog", user)

    def account_id(self, acct: str) -> str:
        return self.call("GET", "/api/v1/accounts/lookup", params={"acct": acct})["id"]

    def make_list(self, user: str, title: str, members: list[str]) -> str:
        list_id = self.call("POST", "/api/v1/lists", user, data={"title": title})["id"]
        ids = [self.account_id(member) for member in members]
        for account_id in ids:
            self.call("POST", f"/api/v1/accounts/{account_id}/follow", user)
        self.call("POST", f"/api/v1/lists/{list_id}/accounts", user, data={"account_ids[]": ids})
        return list_id

    def tag_timeline(self, tag: str) -> list[dict[str, Any]]:
        """Every status of a tag timeline, newest first, paged through the Link header."""
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.base_url}/api/v1/timelines/tag/{tag}?limit=40"
        while url:
            response = self.session.get(url, timeout=10)
            response.raise_for_status()
            page = response.json()
            if not page:
                break
            found.extend(page)
            url = response.links.get("next", {}).get("url")
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_mock(config_text: str | None = None, in_memory: bool = True) -> MockInstance:
    """Start `mastodon_mock serve` on a free loopback port and wait until it answers.

    In memory, its public URLs name `127.0.0.1:PORT`; with `in_memory=False` the database is
    `mock.sqlite` in its work directory (`DBPATH` in the config) and the config's domain is used.
    """
    workdir = tempfile.mkdtemp(prefix="plnfilter-mastodon-mock-")
    config = Path(workdir) / "mock.toml"
    text = config_text or seed_config()
    config.write_text(text.replace("DBPATH", str(Path(workdir) / "mock.sqlite")), encoding="utf-8")
    port = free_port()
    command = [str(MOCK_BIN), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    if in_memory:
        command += ["--in-memory", "--domain", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning"]
    log = open(Path(workdir) / "server.log", "wb")  # noqa: SIM115 - the server owns it until stop
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env={**os.environ})
    instance = MockInstance(port, process, workdir)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mastodon_mock exited: {(Path(workdir) / 'server.log').read_text()[-2000:]}")
        try:
            if instance.session.get(f"{instance.base_url}/api/v1/instance", timeout=1).ok:
                return instance
        except requests.RequestException:
            pass
        time.sleep(0.1)
    instance.stop()
    raise RuntimeError(f"mastodon_mock did not answer on port {port} within {STARTUP_SECONDS:g}s")


def seed_community(mock: MockInstance) -> dict[str, Any]:
    """The test community: every kind of status the normaliser and the sources must handle.

    Returns named statuses (as the API returned them) plus the expected membership of #edtech.
    """
    s: dict[str, Any] = {}
    s["kate_card"] = mock.post(
        "kate",
        "Great thread on feedback loops in class #EdTech #PLN https://example.org/feedback-loops",
        language="en",
    )
    s["omar_de"] = mock.post(
        "omar", "Wie wir #edtech im Unterricht nutzen, ein Erfahrungsbericht", language="de"
    )
    s["lin_cw"] = mock.post(
        "lin",
        "Notre atelier sur les ressources libres #EDTECH #OER",
        language="fr",
        spoiler_text="long post about workshops",
        sensitive="true",
    )
    s["bot"] = mock.post(
        "newsbot", "Daily digest of #edtech links https://news.example/digest", language="en"
    )
    media_id = mock.image("kate", "A whiteboard sketch of a feedback loop with three arrows")
    s["kate_image"] = mock.post("kate", "Today's whiteboard #edtech", language="en", media_ids=[media_id])
    s["omar_reply"] = mock.post(
        "omar", "@kate agreed, we tried this too #edtech", language="en", in_reply_to_id=s["kate_card"]["id"]
    )
    s["aiko_ja"] = mock.post("aiko", "教育テクノロジーの勉強会 #edtech #PLN", language="ja")
    s["stuffing"] = mock.post(
        "lin", "Reading list #edtech #oer #pln #like69 #librarytwitter #k12 #highered #ai", language="en"
    )
    s["kate_unlisted"] = mock.post("kate", "Quiet note #edtech", visibility="unlisted", language="en")
    s["kate_private"] = mock.post("kate", "Followers only #edtech", visibility="private", language="en")
    s["kate_untagged"] = mock.post("kate", "No tags here, just a thought about learning", language="en")
    # Counts that differ: kate_card 2 likes 1 boost, omar_de 1 like, aiko_ja 3 likes
    for user in ("omar", "lin"):
        mock.favourite(user, s["kate_card"]["id"])
    mock.favourite("kate", s["omar_de"]["id"])
    for user in ("kate", "omar", "lin"):
        mock.favourite(user, s["aiko_ja"]["id"])
    s["omar_boost"] = mock.boost("omar", s["kate_card"]["id"])
    s["list_id"] = mock.make_list("kate", "Learning Tech", ["omar", "aiko"])
    mock.make_list("kate", "Family", ["lin"])
    public_tagged = [
        "kate_card",
        "omar_de",
        "lin_cw",
        "bot",
        "kate_image",
        "omar_reply",
        "aiko_ja",
        "stuffing",
    ]
    s["edtech_uris"] = {s[key]["uri"] for key in public_tagged} | {
        status["uri"]
        for status in mock.tag_timeline("edtech")
        if status["account"]["acct"].startswith("zed@")
    }
    return s


_RUNNING: MockInstance | None = None


def seeded_mock() -> MockInstance:
    """The session's one seeded mock, started on first use and stopped at interpreter exit."""
    global _RUNNING
    if _RUNNING is None:
        mock = start_mock()
        atexit.register(mock.stop)
        try:
            mock.seeded = seed_community(mock)
        except BaseException:
            mock.stop()
            raise
        _RUNNING = mock
    return _RUNNING


@pytest.fixture(scope="session")
def mastodon_mock() -> MockInstance:
    """A seeded mastodon-mock on 127.0.0.1 shared by the whole session (tests add their own tags)."""
    return seeded_mock()
