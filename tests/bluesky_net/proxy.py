"""A loopback HTTP proxy in front of the AppView that can break on purpose: stop after N requests,
answer 429 with RateLimit headers, answer a server error (502/503/504) to chosen requests, or
damage one post view in a JSON page."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class BreakingProxy:
    """`url` forwards GETs to `upstream`; `allow` requests are served, then the proxy shuts down."""

    def __init__(
        self,
        upstream: str,
        allow: int | None = None,
        rate_limit: Callable[[int], dict | None] | None = None,
        mutate: Callable[[dict], dict] | None = None,
        fail: Callable[[int], int | None] | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.allow = allow
        self.rate_limit = rate_limit
        self.mutate = mutate
        self.fail = fail  # request number -> an HTTP status to answer instead of forwarding
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                proxy.requests.append(self.path)
                number = len(proxy.requests)
                if proxy.allow is not None and number > proxy.allow:
                    self.close_connection = True
                    threading.Thread(target=proxy.stop, daemon=True).start()
                    return
                failure = proxy.fail(number) if proxy.fail else None
                if failure is not None:
                    self._send(failure, b"<html><body>Bad Gateway</body></html>", {})
                    return
                limited = proxy.rate_limit(number) if proxy.rate_limit else None
                if limited is not None:
                    self._send(
                        429,
                        json.dumps({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}).encode(),
                        limited,
                    )
                    return
                upstream = httpx.get(proxy.upstream + self.path, timeout=30)
                body = upstream.content
                if proxy.mutate and "json" in upstream.headers.get("content-type", ""):
                    body = json.dumps(proxy.mutate(upstream.json())).encode()
                self._send(upstream.status_code, body, {})

            def _send(self, status: int, body: bytes, headers: dict) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, str(value))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._stopped = False

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.server.shutdown()
            self.server.server_close()
