"""Bluesky sources whose `service:` is a PDS (a self-hosted one, or https://bsky.social), against the
reference network's PDS on 127.0.0.1: lists, authors and feeds are served there only with a session
(401 AuthMissing anonymously), so plnfilter logs in with the configured login, as search does.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CLI = Path(sys.executable).with_name("plnfilter")


@pytest.fixture
def env(bluesky_net, monkeypatch):
    """Log in as pln-runner.test through the environment; anonymous reads would go to the AppView."""
    monkeypatch.setenv("PLNFILTER_BSKY_SERVICE", bluesky_net.pds)
    monkeypatch.setenv("PLNFILTER_BSKY_APPVIEW", bluesky_net.appview)
    monkeypatch.setenv("PLNFILTER_BSKY_HANDLE", "pln-runner.test")
    monkeypatch.setenv("PLNFILTER_BSKY_PASSWORD", bluesky_net.info["password"])
    return bluesky_net


def run_cli(filter_path: Path, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), "run", str(filter_path), "--db", str(db), "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
    )


def found_by(db: Path) -> dict[str, set[str]]:
    conn = sqlite3.connect(db)
    try:
        result: dict[str, set[str]] = {}
        for uri, source in conn.execute("SELECT uri, source FROM post_sources"):
            result.setdefault(source, set()).add(uri)
        return result
    finally:
        conn.close()


@pytest.mark.bluesky
def test_list_author_and_feed_sources_with_a_pds_as_service(env, tmp_path):
    info, posts = env.info, env.info["posts"]
    service = f'service: "{env.pds}"'
    filter_path = tmp_path / "f.yaml"
    filter_path.write_text(
        "name: pds\nsources:\n"
        f'  - bluesky: {{list: "{info["list"]}", {service}}}\n'
        f"  - bluesky: {{author: curator.test, {service}}}\n"
        f'  - bluesky: {{feed: "{info["feed"]}", {service}}}\n',
        encoding="utf-8",
    )
    db = tmp_path / "a.db"
    result = run_cli(filter_path, db)
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr and "AuthMissing" not in result.stderr
    host = urlsplit(env.pds).netloc
    by = found_by(db)
    member_dids = {info["accounts"][handle] for handle in info["list_members"]}
    from_list = by[f"bluesky:{host}/list/{info['list']}"]
    assert {p["uri"] for p in posts.values() if p["uri"].split("/")[2] in member_dids} <= from_list
    assert {uri.split("/")[2] for uri in from_list} <= member_dids
    assert by[f"bluesky:{host}/author/curator.test"] == {posts["slides"]["uri"], posts["es"]["uri"]}
    assert by[f"bluesky:{host}/feed/{info['feed']}"] == set(info["feed_posts"])

    again = run_cli(filter_path, db)  # catch-up (and any count refresh) through the PDS as well
    assert again.returncode == 0, again.stderr
    assert "Error" not in again.stderr and "warning" not in again.stderr.lower()
