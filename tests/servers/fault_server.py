"""A Mastodon-style tag-timeline server on 127.0.0.1 whose faults, latency and gates the tests script.

Statuses are a real Mastodon 4.x status (tests/fixtures/mastodon, from the Mastodon.py 2.3.3
cassettes) with ids, uris, dates and tags swapped. Paging follows Mastodon: newest first, `limit`
(default 20, at most 40), `max_id` (older than), `since_id` (the newest above), `min_id` (the page
right after), and a `Link` header with `rel="next"` (max_id) and `rel="prev"` (min_id).
https://docs.joinmastodon.org/api/guidelines/#pagination

Faults (`server.fail(tag, kind, after=N)`), served after N good answers for that tag until healed:
429 (with X-RateLimit-* headers and a reset `reset_in` seconds away), 500/502/503, `reset`
(TCP RST, no answer), `stall` (no answer for `stall` seconds), `truncated` (JSON cut in half),
`short` (a Content-Length the body never reaches), `not_json` (an HTML login page).
Malformed statuses are data, not faults: `add(tag, n, malformed={index: how})`.

Used in-process (`serving()` behind each module's `server` fixture); `plnfilter` itself runs as a subprocess
(`run_plnfilter`), so a SIGKILL or a hang never takes pytest down with it.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mastodon"
TEMPLATE = json.loads((FIXTURES / "mastodon-4x-cassettes.json").read_text(encoding="utf-8"))["hashtag"]
FIRST_ID = 117440841601474392  # Mastodon snowflake ids: equal-length digit strings, so text order is id order
HOLD_LIMIT = 60.0  # a gated request never waits longer than this, so a forgotten gate cannot hang a test
FAULT_KINDS = ("429", "500", "502", "503", "reset", "stall", "truncated", "short", "not_json")
MALFORMED = {
    "no_uri": lambda s: s.pop("uri"),
    "account_not_object": lambda s: s.__setitem__("account", "mallory"),
    "bad_date": lambda s: s.__setitem__("created_at", "yesterday-ish"),
    "tags_not_list": lambda s: s.__setitem__("tags", {"name": 7}),
}


def make_status(status_id: str, tag: str, host: str, created: datetime, text: str = "") -> dict:
    """The captured status with a new id, uri, date, tag and text."""
    status = copy.deepcopy(TEMPLATE)
    base = f"http://{host}"
    status["id"] = status_id
    status["uri"] = f"{base}/ap/users/{TEMPLATE['account']['id']}/statuses/{status_id}"
    status["url"] = f"{base}/@{TEMPLATE['account']['username']}/{status_id}"
    status["created_at"] = created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"
    words = text or f"post {status_id} about"
    status["content"] = (
        f'<p>{words} <a href="{base}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a></p>'
    )
    status["tags"] = [{"name": tag, "url": f"{base}/tags/{tag}"}]
    status["language"] = "en"
    return status


@dataclass
class Fault:
    kind: str
    after: int = 0  # good answers still given for this tag before the fault starts
    times: int | None = None  # None: until healed
    reset_in: float = 3600.0  # 429: seconds until X-RateLimit-Reset
    stall: float = 5.0  # stall: seconds without an answer


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    body: bytes = b""


@dataclass
class FaultServer:
    """The scripted server's state; every handler thread reads it under `lock`."""

    latency: float = 0.0
    timelines: dict[str, list[dict]] = field(default_factory=dict)  # tag -> statuses, oldest first
    faults: dict[str, Fault] = field(default_factory=dict)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    on_request: Callable[[int, Seen], None] | None = None  # called before answering, request number from 1
    account: dict = field(default_factory=lambda: copy.deepcopy(TEMPLATE["account"]))
    reflect: bool = False  # answer errors with the request's credentials in the body (a hostile server)
    verify_code: int = 401  # what an echoing server answers to verify_credentials
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = FIRST_ID
    port: int = 0
    broken: set[str] = field(default_factory=set)  # ids of statuses made malformed on purpose

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    # --- scripting -------------------------------------------------------------------------
    def add(self, tag: str, count: int, *, minutes_ago: float = 1.0, malformed: dict[int, str] | None = None):
        """Append `count` new statuses to a tag (spread over the last `minutes_ago` minutes); return them."""
        tag = tag.lower()
        now = datetime.now(UTC)
        made = []
        with self.lock:
            for index in range(count):
                created = now - timedelta(minutes=minutes_ago * (count - index) / max(count, 1))
                status = make_status(str(self.next_id), tag, self.host, created)
                self.next_id += 1
                if malformed and index in malformed:
                    self.broken.add(status["id"])
                    MALFORMED[malformed[index]](status)
                made.append(status)
            self.timelines.setdefault(tag, []).extend(made)
        return made

    def uris(self, tag: str | None = None) -> set[str]:
        """Every well-formed status uri served (for one tag, or all)."""
        with self.lock:
            tags = [tag.lower()] if tag else list(self.timelines)
            return {s["uri"] for t in tags for s in self.timelines.get(t, []) if s["id"] not in self.broken}

    def ids_up_to(self, tag: str, cursor: str) -> set[str]:
        """Uris of a tag's statuses at or below `cursor`: what a saved cursor promises is archived."""
        with self.lock:
            return {
                s["uri"]
                for s in self.timelines.get(tag.lower(), [])
                if int(s["id"]) <= int(cursor) and s["id"] not in self.broken
            }

    def ids_between(self, tag: str, low: str, high: str) -> set[str]:
        """Uris of a tag's statuses from `low` up to `high`: what an interrupted first-run walk's
        cursor promises is archived (everything older than `low` is still to walk)."""
        return self.ids_up_to(tag, high) - self.ids_up_to(tag, str(int(low) - 1))

    def fail(self, tag: str, kind: str, **options) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind}")
        with self.lock:
            self.faults[tag.lower()] = Fault(kind, **options)

    def heal(self, tag: str | None = None) -> None:
        with self.lock:
            if tag is None:
                self.faults.clear()
            else:
                self.faults.pop(tag.lower(), None)

    def hold(self, tag: str) -> threading.Event:
        """Requests for this tag wait until the returned event is set (at most HOLD_LIMIT seconds)."""
        event = threading.Event()
        with self.lock:
            self.gates[tag.lower()] = event
        return event

    def timeline_requests(self, tag: str | None = None) -> list[Seen]:
        prefix = "/api/v1/timelines/tag/"
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(prefix)
                and (tag is None or unquote(r.path[len(prefix) :]).lower() == tag)
            ]

    # --- answering -------------------------------------------------------------------------
    def page(self, tag: str, query: dict[str, list[str]], path: str) -> tuple[list[dict], dict[str, str]]:
        """Mastodon's paging over this tag's statuses, and the Link header for the page."""
        limit = min(max(int((query.get("limit") or ["20"])[0]), 1), 40)
        ids_of = self.timelines.get(tag, [])
        if "min_id" in query:
            low = int(query["min_id"][0])
            chosen = [s for s in ids_of if int(s["id"]) > low][:limit]
        else:
            chosen = ids_of
            if "max_id" in query:
                high = int(query["max_id"][0])
                chosen = [s for s in chosen if int(s["id"]) < high]
            if "since_id" in query:
                low = int(query["since_id"][0])
                chosen = [s for s in chosen if int(s["id"]) > low]
            chosen = chosen[-limit:]
        page = list(reversed(chosen))
        headers = {}
        if page:
            keep = "".join(f"&{k}={quote(v[0])}" for k, v in query.items() if k in ("limit", "local"))
            base = f"{self.base_url}{path}"
            headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}{keep}>; rel="next", '
                f'<{base}?min_id={page[0]["id"]}{keep}>; rel="prev"'
            )
        return page, headers

    def take_fault(self, tag: str) -> Fault | None:
        fault = self.faults.get(tag)
        if fault is None:
            return None
        if fault.after > 0:
            fault.after -= 1
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[tag]
        return fault


def _rate_limit_headers(reset_in: float) -> dict[str, str]:
    reset = (datetime.now(UTC) + timedelta(seconds=reset_in)).isoformat().replace("+00:00", "Z")
    return {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset,
        "Date": formatdate(usegmt=True),
    }


def make_handler(state: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = self._record("POST", body)
            echo = body.decode("utf-8", "replace") if state.reflect else ""
            self._send(
                401, {"error": "AuthenticationRequired", "message": f"Invalid identifier or password {echo}"}
            )
            del seen

        def do_GET(self) -> None:  # noqa: N802
            seen = self._record("GET")
            if state.latency:
                time.sleep(state.latency)
            path = seen.path
            if path == "/api/v1/accounts/verify_credentials":
                if state.reflect:
                    self._send(
                        state.verify_code, {"error": f"The access token is invalid: {seen.authorization}"}
                    )
                else:
                    self._send(200, state.account)
                return
            prefix = "/api/v1/timelines/tag/"
            if not path.startswith(prefix):
                self._send(404, {"error": "Record not found"})
                return
            tag = unquote(path[len(prefix) :]).lower()
            with state.lock:
                gate = state.gates.get(tag)
            if gate is not None:
                gate.wait(HOLD_LIMIT)
            with state.lock:
                fault = state.take_fault(tag)
                page, headers = state.page(tag, seen.query, path)
            if fault is None:
                if state.reflect and seen.authorization:
                    self._send(
                        403, {"error": f"This action is outside the authorized scopes ({seen.authorization})"}
                    )
                    return
                self._send(200, page, headers)
                return
            self._fault(fault, page, headers)

        def _record(self, method: str, body: bytes = b"") -> Seen:
            parts = urlsplit(self.path)
            seen = Seen(
                method, parts.path, parse_qs(parts.query), self.headers.get("Authorization", ""), body
            )
            with state.lock:
                state.requests.append(seen)
                number = len(state.requests)
            if state.on_request is not None:
                state.on_request(number, seen)
            return seen

        def _fault(self, fault: Fault, page: list[dict], headers: dict[str, str]) -> None:
            kind = fault.kind
            if kind == "429":
                self._send(429, {"error": "Too many requests"}, _rate_limit_headers(fault.reset_in))
            elif kind in ("500", "502", "503"):
                self._send(
                    int(kind), b"<html><body><h1>We're sorry, but something went wrong</h1></body></html>"
                )
            elif kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
            elif kind == "stall":
                time.sleep(fault.stall)
                self.close_connection = True
            elif kind == "truncated":
                body = json.dumps(page or [TEMPLATE]).encode()
                self._send(200, body[: len(body) // 2], headers)
            elif kind == "short":
                body = json.dumps(page or [TEMPLATE]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "not_json":
                self._send(200, b"<html><form action='/auth/sign_in'>Log in</form></html>")

        def _send(self, code: int, body, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client gave up (a timeout or a kill)

    return Handler


def start(latency: float = 0.0) -> tuple[FaultServer, ThreadingHTTPServer]:
    state = FaultServer(latency=latency)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True, name="fault-server").start()
    return state, httpd


def serving(latency: float = 0.0):
    """Body of a test module's `server` fixture: `yield from serving()`; shut down afterwards."""
    state, httpd = start(latency)
    yield state
    for gate in list(state.gates.values()):
        gate.set()
    httpd.shutdown()
    httpd.server_close()


# --- running plnfilter as cron would ---------------------------------------------------------
def cli_env(**extra: str) -> dict[str, str]:
    """The test's environment (PLNFILTER_HOME from conftest) with loopback never proxied."""
    env = dict(os.environ)
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "COLUMNS": "200"})
    env.update(extra)
    return env


def plnfilter_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "plnfilter", *map(str, args)]


def run_plnfilter(*args, env: dict[str, str] | None = None, timeout: float = 120, **kwargs):
    """`plnfilter ARGS` in a subprocess: CompletedProcess with text stdout and stderr."""
    return subprocess.run(
        plnfilter_command(*args),
        env=env or cli_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
        check=False,
        **kwargs,
    )


def write_filter(path: Path, server: FaultServer, tags: list[str], extra: str = "") -> Path:
    """A filter file reading these tags from the server; keeps every post."""
    path.write_text(
        f"name: faults\nsources:\n  - mastodon: {server.base_url}\n    hashtags: [{', '.join(tags)}]\n"
        f"    max_pages: 50\n{extra}",
        encoding="utf-8",
    )
    return path


def figure_reporter(request):
    """`report(text)`: a figure for the issue's closing note, shown past pytest's capture and kept in
    the test report's `user_properties` as ("figure", text) for a `pytest_terminal_summary` hook."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def report(text: str) -> None:
        request.node.user_properties.append(("figure", text))
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n[figure] {text}\n")
            sys.stderr.flush()

    return report


# --- what the archive holds, read without plnfilter's code ------------------------------------
@dataclass
class ArchiveState:
    integrity: str
    uris: list[str]  # one entry per posts row
    cursors: dict[str, str | None]  # timeline name -> cursor
    findings: int  # post_sources rows
    duplicate_findings: int

    @property
    def duplicates(self) -> int:
        return len(self.uris) - len(set(self.uris))


def archive_state(db_path: Path) -> ArchiveState:
    """Integrity, posts and cursors straight from SQLite (recovering a WAL a killed run left behind)."""
    import sqlite3

    conn = sqlite3.connect(str(db_path), timeout=30)
    try:
        integrity = "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "posts" not in tables:
            return ArchiveState(integrity, [], {}, 0, 0)
        uris = [row[0] for row in conn.execute("SELECT uri FROM posts")]
        cursors = dict(conn.execute("SELECT name, cursor FROM sources").fetchall())
        findings = conn.execute("SELECT count(*) FROM post_sources").fetchone()[0]
        distinct = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT uri, source FROM post_sources)"
        ).fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM posts_fts").fetchone()[0]
        if fts != len(uris):
            integrity += f"; posts_fts has {fts} rows for {len(uris)} posts"
        return ArchiveState(integrity, uris, cursors, findings, findings - distinct)
    finally:
        conn.close()


def cursor_gaps(server: FaultServer, state: ArchiveState) -> dict[str, int]:
    """For each tag timeline: statuses at or below its saved cursor that the archive lacks (must be 0)."""
    saved = set(state.uris)
    gaps = {}
    for name, cursor in state.cursors.items():
        if cursor and "/tag/" in name:
            tag = name.rsplit("/tag/", 1)[1].split("/")[0]
            if cursor.startswith("{"):  # a first-run walk a failure interrupted (sources/mastodon/fetch.py)
                walk = json.loads(cursor)
                gaps[name] = len(server.ids_between(tag, walk["walk_below"], walk["walk_top"]) - saved)
                continue
            gaps[name] = len(server.ids_up_to(tag, cursor) - saved)
    return gaps


def timeline_name(server: FaultServer, tag: str) -> str:
    return f"mastodon:{server.host}/tag/{tag.lower()}"


# --- many runs, fast: forked from a process that already imported plnfilter --------------------
PRELOAD = [
    "plnfilter.cli",
    "plnfilter.pipeline",
    "plnfilter.filterfile",
    "plnfilter.rules",
    "plnfilter.rank",
    "plnfilter.store",
    "plnfilter.sources.mastodon.fetch",
    "plnfilter.sources.mastodon.client",
    "mastodon",
    "filelock",
    "atproto",
    "plnfilter.sources.bluesky.fetch",
    "plnfilter.sources.bluesky.session",
]


def _run_cli(args: list[str], env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: the same entry point as the `plnfilter` script, output to files."""
    os.environ.clear()
    os.environ.update(env)
    for fd, name in ((1, out), (2, err)):
        handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    from plnfilter.cli import cli

    cli.main(args=args, prog_name="plnfilter")


class Forked:
    """`plnfilter ARGS` as a child of a forkserver that preloaded plnfilter and Mastodon.py (~20 ms a start).

    Behaves like the subprocess for what these tests look at: a pid to SIGKILL, an exit code,
    stdout and stderr. The CLI code runs unchanged; only the interpreter start-up is shared.
    """

    def __init__(self, args, workdir: Path, env: dict[str, str] | None = None) -> None:
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        tag = uuid.uuid4().hex[:8]
        self.out = workdir / f"{tag}.out"
        self.err = workdir / f"{tag}.err"
        self.process = context.Process(
            target=_run_cli, args=([str(a) for a in args], env or cli_env(), str(self.out), str(self.err))
        )
        self.process.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def wait(self, timeout: float = 120) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise AssertionError(f"plnfilter did not finish within {timeout}s")
        return self.process.exitcode

    @property
    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="surrogateescape") if self.out.exists() else ""

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="surrogateescape") if self.err.exists() else ""


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


def run_forked(workdir: Path, *args, env: dict[str, str] | None = None, timeout: float = 120) -> Finished:
    """Like `run_plnfilter`, through the forkserver: for tests that run plnfilter many times."""
    child = Forked(args, workdir, env)
    code = child.wait(timeout)
    return Finished(code, child.stdout, child.stderr)
