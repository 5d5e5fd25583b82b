"""Helpers the Bluesky test modules share to drive `plnfilter run` and read the archive it wrote.

Plain functions, no fixtures (those live in fixture.py, registered once by the root conftest)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("plnfilter")


def run_cli(filter_path: Path, db: Path, *extra: str) -> subprocess.CompletedProcess:
    """`plnfilter run FILTER --db DB --timeout 20 [extra]`, as a user would type it."""
    return subprocess.run(
        [str(CLI), "run", str(filter_path), "--db", str(db), "--timeout", "20", *extra],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
    )


def write_filter(tmp_path: Path, sources: list[str], name: str = "f.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        "name: bsky-test\nsources:\n" + "".join(f"  - {line}\n" for line in sources), encoding="utf-8"
    )
    return path


def rows(db: Path) -> dict[str, dict]:
    """The archive's Bluesky posts by URI, every column."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {
            row["uri"]: dict(row) for row in conn.execute("SELECT * FROM posts WHERE network = 'bluesky'")
        }
    finally:
        conn.close()
