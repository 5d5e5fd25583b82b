"""A stand-in Jetstream on 127.0.0.1: the reference network's PDS firehose, translated into
Jetstream's JSON wire format and served over a websocket.

There is no Jetstream server here, so this one reads `com.atproto.sync.subscribeRepos` of the PDS
with atproto's client, turns each commit operation into a `network.bsky.jetstream.subscribeEvents`
frame of the `xrpc.v1.json` subprotocol (`{"$type": "message", "payload": {"$type": "...#commit",
"did", "seq", "time", "collection", "operation", "rev", "rkey", "cid", "record"}}`, its own `seq`
from 1), keeps them all, and serves them to `GET /xrpc/network.bsky.jetstream.subscribeEvents`
(from `?cursor=` inclusive, then live). `pause()` drops every connection and refuses new ones
while the frames go on accumulating; `resume()` lets clients back in.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

PATH = "/xrpc/network.bsky.jetstream.subscribeEvents"


class JetstreamRelay:
    def __init__(self, pds_url: str) -> None:
        from atproto_firehose import FirehoseSubscribeReposClient
        from websockets.sync.server import serve

        self.frames: list[str] = []
        self.changed = threading.Condition()
        self.open = True
        self.connections: set = set()
        self.served = 0
        parts = urlsplit(pds_url)
        self.firehose = FirehoseSubscribeReposClient(base_uri=f"ws://{parts.netloc}/xrpc")
        threading.Thread(target=self.firehose.start, args=(self._on_firehose,), daemon=True).start()
        self.server = serve(
            self._serve,
            "127.0.0.1",
            0,
            subprotocols=["xrpc.v1.json"],
            process_request=self._check_request,
            compression=None,
        )
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _on_firehose(self, message) -> None:
        from atproto_core.car import CAR
        from atproto_firehose import parse_subscribe_repos_message

        from plnfilter.sources.bluesky.events import jsonable

        commit = parse_subscribe_repos_message(message)
        if type(commit).__name__ != "Commit":
            return
        blocks = CAR.from_bytes(commit.blocks).blocks if commit.blocks else {}
        with self.changed:
            for op in commit.ops:
                collection, _, rkey = op.path.partition("/")
                payload = {
                    "$type": "network.bsky.jetstream.subscribeEvents#commit",
                    "did": commit.repo,
                    "seq": len(self.frames) + 1,
                    "time": commit.time,
                    "collection": collection,
                    "operation": op.action,
                    "rev": commit.rev,
                    "rkey": rkey,
                }
                if op.action != "delete" and op.cid is not None:
                    payload["cid"] = str(op.cid)
                    payload["record"] = jsonable(blocks.get(op.cid))
                self.frames.append(json.dumps({"$type": "message", "payload": payload}))
            self.changed.notify_all()

    def _check_request(self, connection, request):
        if not self.open:
            return connection.respond(503, "paused\n")
        if urlsplit(request.path).path != PATH:
            return connection.respond(404, "not found\n")  # getZstdDictionary too: no compression here
        return None

    def _serve(self, connection) -> None:
        query = parse_qs(urlsplit(connection.request.path).query)
        cursor = int(query.get("cursor", ["0"])[0] or 0)
        position = max(cursor - 1, 0)  # inclusive, as Jetstream replays
        self.connections.add(connection)
        self.served += 1
        try:
            while self.open:
                with self.changed:
                    if position >= len(self.frames):
                        self.changed.wait(0.2)
                    waiting = self.frames[position:]
                for frame in waiting:
                    connection.send(frame)
                position += len(waiting)
        except Exception:  # noqa: S110 - the client went away or the relay paused
            pass
        finally:
            self.connections.discard(connection)

    def pause(self) -> None:
        self.open = False
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                connection.close()
        deadline = time.monotonic() + 10
        while self.connections and time.monotonic() < deadline:
            time.sleep(0.05)

    def resume(self) -> None:
        self.open = True

    def wait_for_frames(self, count: int, limit: float = 30.0) -> list[str]:
        deadline = time.monotonic() + limit
        with self.changed:
            while len(self.frames) < count:
                assert time.monotonic() < deadline, f"the firehose sent {len(self.frames)} of {count} events"
                self.changed.wait(0.2)
            return list(self.frames)

    def close(self) -> None:
        self.pause()
        self.firehose.stop()
        self.server.shutdown()
