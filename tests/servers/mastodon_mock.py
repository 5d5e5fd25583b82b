"""A mastodon-mock server (PyPI `mastodon-mock`) on 127.0.0.1 for the test session, seeded through its API.

Started once per session as `mastodon_mock serve --in-memory` on a free port (a subprocess, so a
hang in the server never hangs pytest), stopped at exit. Accounts come from its TOML seed
config (tokens, bot flag, a remote account with its statuses); everything else (languages,
content warnings, media with alt text, replies, boosts, favourites, lists, unlisted and private
posts) is posted through the Mastodon REST API like any client would.
Import the fixtures into a test module: `from servers.mastodon_mock import mastodon_mock  # noqa: F401`.

`mastodon_pair` adds two more instances, one holding a federated copy of a status written on
the other (see `federate_copy` for the one thing done behind the mock's API, and why).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    command: list[str] = field(default_factory=list)

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

    def follow(self, user: str, acct: str) -> None:
        """`user` follows `acct`, so its posts and boosts reach `user`'s home timeline."""
        self.call("POST", f"/api/v1/accounts/{self.account_id(acct)}/follow", user)

    def statuses_of(self, acct: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/api/v1/accounts/{self.account_id(acct)}/statuses", params={"limit": 40})

    @property
    def database(self) -> Path:
        """The SQLite file of a mock started with `in_memory=False`."""
        return Path(self.workdir) / "mock.sqlite"

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

    def restart(self) -> None:
        """Stop the server and start it again on the same port, from its database file (a mock
        started with `in_memory=False`: what was posted survives)."""
        self.terminate()
        log = open(Path(self.workdir) / "server.log", "ab")  # noqa: SIM115 - the server owns it until stop
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env={**os.environ}
        )
        _wait_until_answering(self, self.port)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_mock(config_text: str | None = None, in_memory: bool = True) -> MockInstance:
    """Start `mastodon_mock serve` on a free loopback port and wait until it answers.

    Its public URLs name the config's `domain`, or else `127.0.0.1:PORT` (the address clients
    use). With `in_memory=False` the database is `mock.sqlite` in its work directory (`DBPATH` in
    the config), so a test can stand in for what the API cannot do (see `federate_copy`).
    """
    workdir = tempfile.mkdtemp(prefix="plnfilter-mastodon-mock-")
    config = Path(workdir) / "mock.toml"
    text = config_text or seed_config()
    config.write_text(text.replace("DBPATH", str(Path(workdir) / "mock.sqlite")), encoding="utf-8")
    port = free_port()
    command = [str(MOCK_BIN), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    if in_memory:
        command.append("--in-memory")
    if "domain" not in tomllib.loads(text):  # left to itself the mock would say `localhost:PORT`
        command += ["--domain", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning"]
    log = open(Path(workdir) / "server.log", "wb")  # noqa: SIM115 - the server owns it until stop
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env={**os.environ})
    instance = MockInstance(port, process, workdir, command=command)
    _wait_until_answering(instance, port)
    return instance


def _wait_until_answering(instance: MockInstance, port: int) -> None:
    workdir, process = instance.workdir, instance.process
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mastodon_mock exited: {(Path(workdir) / 'server.log').read_text()[-2000:]}")
        try:
            if instance.session.get(f"{instance.base_url}/api/v1/instance", timeout=1).ok:
                return
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


def federate_copy(remote: MockInstance, copy_id: str, original: dict[str, Any]) -> None:
    """Make `remote`'s seeded copy of `original` (a status of another instance) what federation makes.

    In Mastodon a status fetched from another server gets a local id but keeps its `uri`, `url`,
    HTML, language and creation time. mastodon-mock 0.6.1 does not federate, and neither its API
    nor its seed config can give a status a `uri`: its serializer sends `Status.url` as both
    `uri` and `url` when set, and no route or seed field sets that column. So these columns are
    written into the running mock's SQLite file (WAL, so its next request sees them): a stand-in
    for federation, nothing more. The author `user@origin` (a seeded remote account), the tags,
    boosts, favourites and timelines all come from the mock's own code.
    """
    created = datetime.fromisoformat(original["created_at"]).astimezone(UTC).replace(tzinfo=None)
    with sqlite3.connect(remote.database) as conn:
        changed = conn.execute(
            "UPDATE statuses SET url = ?, content = ?, language = ?, created_at = ? WHERE id = ?",
            (
                original["uri"],
                original["content"],
                original["language"],
                created.isoformat(" "),
                int(copy_id),
            ),
        ).rowcount
    if changed != 1:
        raise RuntimeError(f"status {copy_id} is not in {remote.database}")


def start_with_federated_copy(
    original: dict[str, Any],
    text: str,
    origin_host: str,
    accounts: list[tuple[str, str, bool, str | None]],
    config_head: str = "",
) -> tuple[MockInstance, str]:
    """A second instance that holds a federated copy of `original` (a status on `origin_host`).

    `text` is the status as its author typed it (the mock derives the copy's tags from it);
    `accounts` are the second instance's own. Returns the instance and the copy's local id.
    """
    author = original["account"]
    if any(name == author["username"] for name, *_ in accounts):
        raise ValueError(f"{author['username']} would be both local and remote: pick another name")
    remote_author = (author["username"], author["display_name"], bool(author["bot"]), origin_host)
    config = config_head + '[database]\npath = "DBPATH"\n'
    config += seed_config([*accounts, remote_author], [(author["username"], text)])
    remote = start_mock(config, in_memory=False)
    try:
        (copy,) = remote.statuses_of(f"{author['username']}@{origin_host}")
        federate_copy(remote, copy["id"], original)
    except BaseException:
        remote.stop()
        raise
    return remote, copy["id"]


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


# The second instance's own accounts in `mastodon_pair` (each with a token "<name>_token").
PAIR_REMOTE_ACCOUNTS: list[tuple[str, str, bool, str | None]] = [
    ("ravi", "Ravi K", False, None),
    ("mei", "Mei Chen", False, None),
    ("sol", "Sol Ortega", False, None),
]
PAIR_TEXT = "Rubrics students actually read: what we changed after a term of feedback #Rubrics #EdTech"


@dataclass
class MockPair:
    """`origin` (where kate wrote `original`) and `remote`, which holds its copy under `copy_id`."""

    origin: MockInstance
    remote: MockInstance
    original: dict[str, Any]
    copy_id: str


@pytest.fixture(scope="module")
def mastodon_pair():
    """Two fresh mocks on 127.0.0.1: kate's #Rubrics status on `origin`, federated to `remote` as `kate@origin`."""
    origin = start_mock()
    try:
        original = origin.post("kate", PAIR_TEXT, language="en")
        remote, copy_id = start_with_federated_copy(original, PAIR_TEXT, origin.host, PAIR_REMOTE_ACCOUNTS)
    except BaseException:
        origin.stop()
        raise
    try:
        yield MockPair(origin, remote, original, copy_id)
    finally:
        remote.stop()
        origin.stop()
