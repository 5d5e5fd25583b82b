"""Bluesky sources whose `service:` is a PDS (a self-hosted one, or https://bsky.social), against the
reference network's PDS on 127.0.0.1: lists, authors and feeds are served there only with a session
(401 AuthMissing anonymously), so plnfilter logs in with the configured login, as search does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bluesky_net.cli import run_cli


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
def test_list_author_and_feed_sources_with_a_pds_as_service(bluesky_env, tmp_path):
    info, posts = bluesky_env.info, bluesky_env.info["posts"]
    service = f'service: "{bluesky_env.pds}"'
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
    host = urlsplit(bluesky_env.pds).netloc
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
