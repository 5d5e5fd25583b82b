"""A soak of `plnfilter watch`: posts made at a steady rate on a mastodon-mock hashtag for a while,
the watch process's memory (VmRSS) read once the first post is in and again at the end.

Used by tests/test_watch_mastodon.py (a short one) and `make bench` (figure 12, longer).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PLNFILTER = Path(sys.executable).with_name("plnfilter")


@dataclass
class SoakResult:
    posted: int
    archived: int
    distinct: int
    printed: int
    rss_start_kb: int
    rss_end_kb: int
    exit_code: int
    seconds: float
    stderr: str


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _uris(db: Path, like: str) -> list[str]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT uri FROM posts WHERE text LIKE ?", [like])]
    except sqlite3.OperationalError:
        return []


def _wait(condition, what: str, process: subprocess.Popen, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"watch exited {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def soak(
    mock, workdir: Path, env: dict[str, str], seconds: float, per_second: float, tag: str = "Soak"
) -> SoakResult:
    """Post `per_second` statuses a second for `seconds` while `watch` follows #`tag`."""
    filter_file = workdir / "soak.yaml"
    filter_file.write_text(
        f"name: soak\nsources:\n  - mastodon: {mock.base_url}\n    hashtags: [{tag}]\n", encoding="utf-8"
    )
    db = workdir / "soak.db"
    printed: list[str] = []
    process = subprocess.Popen(
        [str(PLNFILTER), "watch", str(filter_file), "--db", str(db), "--format", "jsonl", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )

    def read() -> None:
        for line in process.stdout:
            printed.append(json.loads(line)["uri"])

    threading.Thread(target=read, daemon=True).start()
    like = f"%#{tag}%"
    try:
        first = mock.post("kate", f"Soak opening #{tag}")["uri"]
        _wait(lambda: first in _uris(db, like), "the first post", process, 60)
        rss_start = rss_kb(process.pid)
        stop = threading.Event()
        made = [first]
        began = time.monotonic()

        def post() -> None:
            number = 0
            while not stop.is_set() and time.monotonic() - began < seconds:
                made.append(mock.post("omar", f"Soak {number} at a steady rate #{tag}")["uri"])
                number += 1
                stop.wait(max(0.0, began + number / per_second - time.monotonic()))  # pacing, not syncing

        poster = threading.Thread(target=post, daemon=True)
        poster.start()
        poster.join(seconds + 60)
        stop.set()
        _wait(lambda: set(made) <= set(_uris(db, like)), "every soak post in the archive", process, 120)
        _wait(lambda: len(printed) >= len(made), "every soak post printed", process, 60)
        rss_end = rss_kb(process.pid)
        elapsed = time.monotonic() - began
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        uris = _uris(db, like)
        return SoakResult(
            len(made),
            len(uris),
            len(set(uris)),
            len(printed),
            rss_start,
            rss_end,
            code,
            elapsed,
            process.stderr.read(),
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def token_env(host: str, home: Path) -> dict[str, str]:
    token_name = "PLNFILTER_MASTODON_TOKEN_" + host.replace(".", "_").replace(":", "_").upper()
    return {**os.environ, "PLNFILTER_HOME": str(home), token_name: "kate_token", "NO_PROXY": "127.0.0.1"}
