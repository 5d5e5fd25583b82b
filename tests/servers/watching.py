"""A `plnfilter watch` subprocess for the tests, and the polling they read it with (no fixed sleeps).

Used by tests/test_watch_mastodon.py and tests/test_watch_bluesky.py."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

PLNFILTER = Path(sys.executable).with_name("plnfilter")


class Watching:
    """A `plnfilter watch` subprocess whose stdout lines (JSONL with --format jsonl) are collected as they come."""

    def __init__(self, filter_file: Path, db: Path, env: dict[str, str], *extra: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(PLNFILTER), "watch", str(filter_file), "--db", str(db), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def printed(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines)]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.stderr = self.process.stderr.read()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for(condition, what: str, watching: Watching | None = None, limit: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what`, or with watch's stderr if it exited."""
    deadline = time.monotonic() + limit
    while not condition():
        if watching is not None and watching.process.poll() is not None:
            raise AssertionError(
                f"watch exited {watching.process.returncode}: {watching.process.stderr.read()}"
            )
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def archived(db: Path) -> list[str]:
    """The URIs of the archived posts; none while the archive is being created."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT uri FROM posts")]
        except sqlite3.OperationalError:  # the archive is being created
            return []
