"""A plain web server on 127.0.0.1 serving feed documents the way blogs' servers do, for the feed tests.

Each document has an ETag and a Last-Modified and answers a matching If-None-Match (or, without
one, If-Modified-Since) with 304. Besides documents: redirects (`redirect(path, code, to)`), error
statuses (`fail(path, code)`), a slow path that answers only once released (never past
HOLD_LIMIT), and a huge path streamed without a Content-Length. Every request is logged with
whether it was conditional and what it was answered, so tests can count them.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
HOLD_LIMIT = 60.0
TRICKLE = 0.05
BOMB_BYTES = 50_000_000
FIRST_MODIFIED = 1_796_000_000  # a fixed epoch: Last-Modified moves one second per change


@dataclass
class Logged:
    path: str
    conditional: bool
    status: int


@dataclass
class Document:
    body: bytes
    content_type: str
    etag: str
    modified: str


@dataclass
class FeedServer:
    port: int = 0
    documents: dict[str, Document] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    huge: dict[str, int] = field(default_factory=dict)  # path -> bytes streamed
    slow: set[str] = field(default_factory=set)
    trickle: set[str] = field(default_factory=set)  # a byte every TRICKLE seconds until released
    bombs: dict[str, bytes] = field(default_factory=dict)  # path -> a small gzip inflating to BOMB_BYTES
    release: threading.Event = field(default_factory=threading.Event)
    log: list[Logged] = field(default_factory=list)
    changes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def put(
        self, path: str, body: bytes | str, content_type: str = "application/rss+xml; charset=utf-8"
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.changes += 1
            modified = formatdate(FIRST_MODIFIED + self.changes, usegmt=True)
            etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
            self.documents[path] = Document(data, content_type, etag, modified)

    def put_fixture(self, path: str, name: str, content_type: str) -> None:
        self.put(path, (FIXTURES / name).read_bytes(), content_type)

    def redirect(self, path: str, code: int, to: str) -> None:
        self.redirects[path] = (code, to)

    def bomb(self, path: str) -> None:
        """Serve at `path` a few kB of gzip that inflate to BOMB_BYTES of RSS (packed now, not while
        the client waits)."""
        self.bombs[path] = gzip.compress(
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
            + b" " * BOMB_BYTES
            + b"</title></channel></rss>",
            compresslevel=9,
        )

    def fail(self, path: str, code: int) -> None:
        self.failures[path] = code

    def requests_to(self, path: str) -> list[Logged]:
        with self.lock:
            return [entry for entry in self.log if entry.path == path]


def make_handler(state: FeedServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            path = self.path
            conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
            status = self._answer(path)
            with state.lock:
                state.log.append(Logged(path, conditional, status))

        def _answer(self, path: str) -> int:
            if path in state.redirects:
                code, target = state.redirects[path]
                return self._send(code, b"", "text/html", {"Location": target})
            if path in state.failures:
                code = state.failures[path]
                page = f"<!DOCTYPE html><html><body><h1>Error {code}</h1></body></html>".encode()
                return self._send(code, page, "text/html; charset=utf-8")
            if path in state.slow:
                state.release.wait(HOLD_LIMIT)
            if path in state.huge:
                return self._stream(state.huge[path])
            if path in state.trickle:
                return self._trickle()
            if path in state.bombs:
                return self._bomb()
            document = state.documents.get(path)
            if document is None:
                return self._send(404, b"<!DOCTYPE html><html><body>Not Found</body></html>", "text/html")
            match = self.headers.get("If-None-Match")
            since = self.headers.get("If-Modified-Since")
            if (match and match == document.etag) or (not match and since and since == document.modified):
                return self._send(304, b"", "", {"ETag": document.etag})
            headers = {"ETag": document.etag, "Last-Modified": document.modified}
            return self._send(200, document.body, document.content_type, headers)

        def _send(self, code: int, body: bytes, content_type: str, headers: dict | None = None) -> int:
            try:
                self.send_response(code)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if code != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True
            return code

        def _stream(self, size: int) -> int:
            """An RSS document of `size` bytes, sent without a Content-Length (the size is a surprise)."""
            item = b"<item><title>padding</title><description>" + b"x" * 4000 + b"</description></item>\n"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>\n')
                sent = 0
                while sent < size:
                    self.wfile.write(item)
                    sent += len(item)
                self.wfile.write(b"</channel></rss>")
            except OSError:
                self.close_connection = True  # the client stopped reading at its cap
            return 200

        def _trickle(self) -> int:
            """A feed whose bytes come one at a time: each read is quick, the whole never ends."""
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                self.wfile.flush()
                while not state.release.wait(TRICKLE):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:
                self.close_connection = True
            return 200

        def _bomb(self) -> int:
            return self._send(
                200, state.bombs[self.path], "application/rss+xml", {"Content-Encoding": "gzip"}
            )

        def log_message(self, *args):
            pass

    return Handler


def serving():
    """Body of a `server` fixture: `yield from serving()`; released and shut down afterwards."""
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True, name="feed-server").start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
