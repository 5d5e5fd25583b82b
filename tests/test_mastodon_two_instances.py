"""One status reached through two Mastodon instances is one archive row, with every finding and booster.

Two mastodon-mock instances on 127.0.0.1: kate writes a #Rubrics status on `origin`; `remote`
holds its federated copy (its own local id, author `kate@origin`, origin's `uri`). On each
instance a local user boosts it and a reader follows that booster, so the boost reaches the
reader's home timeline; one filter file reads #Rubrics and home on both instances.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from servers.mastodon_mock import MockPair, mastodon_pair  # noqa: F401

pytestmark = pytest.mark.mastodon
PLNFILTER = Path(sys.executable).with_name("plnfilter")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(PLNFILTER), *args], capture_output=True, text=True, env=env, timeout=120)


def counts_on(instance, status_id: str) -> tuple[int, int]:
    status = instance.call("GET", f"/api/v1/statuses/{status_id}")
    return status["favourites_count"], status["reblogs_count"]


def newest_id(instance, path: str, user: str) -> str:
    return instance.call("GET", path, user, params={"limit": 1})[0]["id"]


@pytest.fixture(scope="module")
def scene(mastodon_pair):  # noqa: F811
    """Boosts on both instances (lin reads omar on origin, mei reads ravi and sol on remote) and one remote post."""
    pair: MockPair = mastodon_pair
    origin, remote = pair.origin, pair.remote
    origin.follow("lin", "omar")
    origin.follow("lin", "aiko")
    origin.favourite("lin", pair.original["id"])
    origin.favourite("aiko", pair.original["id"])
    origin.boost("omar", pair.original["id"])
    remote.follow("mei", "ravi")
    remote.follow("mei", "sol")
    remote.boost("ravi", pair.copy_id)
    own = remote.post("ravi", "Our shared rubric bank, CC BY, pull requests welcome #Rubrics", language="en")
    return pair, own


def filter_file(tmp_path: Path, pair: MockPair) -> Path:
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two-instances\nsources:\n"
        f"  - mastodon: {pair.origin.base_url}\n    hashtags: [Rubrics]\n    home: true\n"
        f"  - mastodon: {pair.remote.base_url}\n    hashtags: [Rubrics]\n    home: true\n",
        encoding="utf-8",
    )
    return path


def archive_state(db: Path, uri: str) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT uri FROM posts ORDER BY uri").fetchall()
        post = conn.execute("SELECT * FROM posts WHERE uri = ?", (uri,)).fetchone()
        findings = {r[0] for r in conn.execute("SELECT source FROM post_sources WHERE uri = ?", (uri,))}
        cursors = {r["name"]: r["cursor"] for r in conn.execute("SELECT name, cursor FROM sources")}
        all_findings = conn.execute("SELECT count(*) FROM post_sources").fetchone()[0]
    # what a run adds or changes; not `last_seen` and `score`, which move with the clock
    kept = {k: post[k] for k in post.keys() if k not in ("last_seen", "score")} if post else None
    return {
        "uris": [r[0] for r in rows],
        "post": kept,
        "findings": findings,
        "cursors": cursors,
        "all_findings": all_findings,
    }


def test_a_status_from_two_instances_is_one_row_with_both_findings_and_boosters(
    scene, tmp_path, isolated_home
):
    pair, own = scene
    origin, remote, uri = pair.origin, pair.remote, pair.original["uri"]
    # what the servers say: the copy on remote is the same status under another id
    copy = remote.call("GET", f"/api/v1/statuses/{pair.copy_id}")
    assert copy["uri"] == uri and copy["account"]["acct"] == f"kate@{origin.host}"
    assert pair.copy_id != pair.original["id"]
    assert counts_on(origin, pair.original["id"]) == (2, 1)
    assert counts_on(remote, pair.copy_id) == (0, 1)

    db = tmp_path / "archive.db"
    env = {
        **os.environ,
        "PLNFILTER_HOME": str(isolated_home),
        f"PLNFILTER_MASTODON_TOKEN_127_0_0_1_{origin.port}": "lin_token",
        f"PLNFILTER_MASTODON_TOKEN_127_0_0_1_{remote.port}": "mei_token",
    }
    path = filter_file(tmp_path, pair)
    first = run_cli("run", str(path), "--db", str(db), "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    state = archive_state(db, uri)

    # one row for the status (no row for either boost wrapper), one for ravi's own post
    assert state["uris"] == sorted([uri, own["uri"]])
    a, b = f"mastodon:{origin.host}", f"mastodon:{remote.host}"
    assert state["findings"] == {f"{a}/tag/rubrics", f"{a}/home", f"{b}/tag/rubrics", f"{b}/home"}
    post = state["post"]
    assert post["author"] == f"kate@{origin.host}"
    assert sorted(json.loads(post["reposted_by"])) == sorted([f"omar@{origin.host}", f"ravi@{remote.host}"])
    assert json.loads(post["tags"]) == ["rubrics", "edtech"]
    # the counts of one instance's copy, whichever page was saved last, never a mix of the two
    assert (post["likes"], post["reposts"]) in {(2, 1), (0, 1)}

    # each timeline's cursor is an id of its own instance: ids are never carried across
    assert state["cursors"] == {
        f"{a}/tag/rubrics": pair.original["id"],
        f"{a}/home": newest_id(origin, "/api/v1/timelines/home", "lin"),
        f"{b}/tag/rubrics": own["id"],
        f"{b}/home": newest_id(remote, "/api/v1/timelines/home", "mei"),
    }

    second = run_cli("run", str(path), "--db", str(db), "--quiet", env=env)
    assert second.returncode == 0, second.stderr
    assert archive_state(db, uri) == state

    # news on one instance only: its page is the latest saved, so its counts are the row's
    remote.favourite("sol", pair.copy_id)
    remote.boost("sol", pair.copy_id)
    third = run_cli("run", str(path), "--db", str(db), "--quiet", env=env)
    assert third.returncode == 0, third.stderr
    state = archive_state(db, uri)
    assert state["uris"] == sorted([uri, own["uri"]])
    assert (state["post"]["likes"], state["post"]["reposts"]) == counts_on(remote, pair.copy_id) == (1, 2)
    assert f"sol@{remote.host}" in json.loads(state["post"]["reposted_by"])

    origin.boost("aiko", pair.original["id"])
    fourth = run_cli("run", str(path), "--db", str(db), "--quiet", env=env)
    assert fourth.returncode == 0, fourth.stderr
    state = archive_state(db, uri)
    assert state["uris"] == sorted([uri, own["uri"]])
    assert (
        (state["post"]["likes"], state["post"]["reposts"]) == counts_on(origin, pair.original["id"]) == (2, 2)
    )
    assert sorted(json.loads(state["post"]["reposted_by"])) == sorted(
        [f"omar@{origin.host}", f"aiko@{origin.host}", f"ravi@{remote.host}", f"sol@{remote.host}"]
    )
    assert len(state["findings"]) == 4
