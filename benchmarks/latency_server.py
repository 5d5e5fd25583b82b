"""A Mastodon-style hashtag timeline server on 127.0.0.1 that answers every request after a delay.

Each listening port is one instance. Tag `t` holds `pages[t] * 40` statuses from the benchmark
corpus; requests page with `max_id` / `min_id` and get the `Link` header Mastodon sends.
Responses are serialised when the server starts, so the server's own CPU is not what is measured.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE = 40


class Timelines:
    """Statuses per tag, newest first, with integer ids for paging."""

    def __init__(self, corpus, pages: dict[str, int]) -> None:
        self.by_tag: dict[str, list[tuple[int, str]]] = {}
        index = 0
        for tag, count in pages.items():
            entries = []
            for _ in range(count * PAGE):
                status = corpus.mastodon_status(index)
                status_id = 200_000_000 + index
                status = dict(status, id=str(status_id))
                entries.append((status_id, json.dumps(status)))
                index += 1
            entries.sort(reverse=True)
            self.by_tag[tag] = entries

    def page(self, tag: str, max_id: int | None, min_id: int | None) -> list[tuple[int, str]]:
        entries = self.by_tag.get(tag, [])
        if min_id is not None:
            newer = [e for e in entries if e[0] > min_id]
            return newer[-PAGE:]  # the page right after min_id, newest first
        if max_id is not None:
            return [e for e in entries if e[0] < max_id][:PAGE]
        return entries[:PAGE]


def _handler(timelines: Timelines, latency: float, counter: list[int]):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            time.sleep(latency)
            counter[0] += 1
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            prefix = "/api/v1/timelines/tag/"
            if not parts.path.startswith(prefix):
                self.send_error(404)
                return
            tag = parts.path[len(prefix) :]
            entries = timelines.page(
                tag,
                int(query["max_id"]) if "max_id" in query else None,
                int(query["min_id"]) if "min_id" in query else None,
            )
            body = ("[" + ",".join(text for _, text in entries) + "]").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if entries:
                base = f"http://{self.headers.get('Host')}{parts.path}"
                self.send_header(
                    "Link",
                    f'<{base}?max_id={entries[-1][0]}>; rel="next", <{base}?min_id={entries[0][0]}>; rel="prev"',
                )
            self.end_headers()
            self.wfile.write(body)

    return Handler


class LatencyServers:
    """`ports` listening threads sharing one set of timelines; use as a context manager."""

    def __init__(self, timelines: Timelines, ports: int, latency: float) -> None:
        self.requests = [0]
        handler = _handler(timelines, latency, self.requests)
        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(ports)]
        for server in self.servers:
            server.daemon_threads = True
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in self.servers]

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{s.server_address[1]}" for s in self.servers]

    def __enter__(self) -> LatencyServers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
