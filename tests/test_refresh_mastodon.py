"""Fresh counts on Mastodon: a status favourited and boosted between cron runs gets its counts updated,
even when catch-up never sees it again (more than a page behind the cursor), within a bounded
number of `GET /api/v1/statuses?id[]=` requests; servers without that method give a note, not an error.

Against mastodon-mock (and the scripted fault server for a server without the method), through the
CLI, checking the archive's rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bluesky_net.proxy import BreakingProxy
from servers.fault_server import archive_state, figure_reporter, run_plnfilter, serving, write_filter
from servers.mastodon_mock import MockInstance, mastodon_mock  # noqa: F401

from plnfilter.errors import FilterFileError
from plnfilter.filterfile import describe, parse

pytestmark = pytest.mark.mastodon
PLNFILTER = Path(sys.executable).with_name("plnfilter")


def run(filter_file: Path, db: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLNFILTER_HOME": str(home)}
    return subprocess.run(
        [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--timeout", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def write(tmp_path: Path, base_url: str, tag: str, extra: str = "") -> Path:
    path = tmp_path / f"{tag}.yaml"
    path.write_text(
        f"name: {tag}\n{extra}sources:\n  - mastodon: {base_url}\n    hashtags: [{tag}]\n", encoding="utf-8"
    )
    return path


def row(db: Path, uri: str) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return dict(  # the post's facts, with the verdict of the archive's one filter
            conn.execute(
                "SELECT posts.*, verdicts.kept, verdicts.score, verdicts.matched, post_raw.raw FROM posts "
                "LEFT JOIN verdicts ON verdicts.post_id = posts.id "
                "LEFT JOIN post_raw ON post_raw.post_id = posts.id WHERE uri = ?",
                (uri,),
            ).fetchone()
        )
    finally:
        conn.close()


def scalar(db: Path, sql: str, *params):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def last_run(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        status, per_source = conn.execute("SELECT status, per_source FROM runs ORDER BY id DESC").fetchone()
    finally:
        conn.close()
    return {"status": status, "per_source": json.loads(per_source)}


def old_status_behind_a_page(mock: MockInstance, tag: str) -> tuple[dict, list[dict]]:
    """A status with 45 newer ones after it: catch-up starting past them never pages back to it."""
    old = mock.post("kate", f"An early thought on feedback #{tag}")
    newer = [mock.post("lin", f"later note {n} #{tag}") for n in range(45)]
    return old, newer


@pytest.mark.parametrize("refresh", ["", "refresh: off\n"], ids=["default", "off"])
def test_a_status_favourited_and_boosted_between_runs_gets_its_counts(
    mastodon_mock,  # noqa: F811
    tmp_path,
    isolated_home,
    refresh,
):
    mock = mastodon_mock
    tag = "RefreshOld" + ("Off" if refresh else "On")
    old, newer = old_status_behind_a_page(mock, tag)
    filter_file, db = write(tmp_path, mock.base_url, tag, refresh), tmp_path / "a.db"
    first = run(filter_file, db, isolated_home)
    assert first.returncode == 0, first.stderr
    before = row(db, old["uri"])
    assert (before["likes"], before["reposts"]) == (0, 0)
    cursor = scalar(db, "SELECT cursor FROM sources")
    assert cursor == newer[-1]["id"]

    mock.favourite("omar", old["id"])
    mock.boost("aiko", old["id"])
    latest = [mock.post("omar", f"between runs {n} #{tag}") for n in range(3)]
    second = run(filter_file, db, isolated_home)
    assert second.returncode == 0, second.stderr

    after = row(db, old["uri"])
    # catch-up fetched only the three new statuses: the old one was not re-seen
    assert scalar(db, "SELECT new FROM runs ORDER BY id DESC") == 3
    assert scalar(db, "SELECT cursor FROM sources") == latest[-1]["id"]
    assert scalar(db, "SELECT count(*) FROM post_sources WHERE uri = ?", old["uri"]) == 1
    assert after["first_seen"] == before["first_seen"] and after["raw"] == before["raw"]
    if refresh:
        assert (after["likes"], after["reposts"]) == (0, 0)
        assert not [name for name in last_run(db)["per_source"] if name.startswith("refresh:")]
    else:
        assert (after["likes"], after["reposts"]) == (1, 1)
        assert after["score"] > before["score"] and after["last_seen"] >= before["last_seen"]
        job = last_run(db)["per_source"][f"refresh:mastodon:{mock.host}"]
        assert job["requests"] == 3 and job["asked"] == 46 and job["refreshed"] == 46 and job["changed"] == 1
        assert f"refresh:mastodon:{mock.host}: counts of 46 posts re-fetched in 3 requests" in second.stderr


def test_refresh_limit_bounds_the_requests_and_takes_the_newest_first(
    mastodon_mock,  # noqa: F811
    tmp_path,
    isolated_home,
    request,
):
    mock = mastodon_mock
    tag = "RefreshBound"
    # Archive times have second precision and refresh breaks ties by archive row, so the oldest and
    # the newest status each get a second of their own: "newest first" is then unambiguous.
    statuses = [mock.post("kate", f"bound 0 #{tag}")]
    time.sleep(1.1)
    statuses += [mock.post("kate", f"bound {n} #{tag}") for n in range(1, 99)]
    time.sleep(1.1)
    statuses.append(mock.post("kate", f"bound 99 #{tag}"))
    proxy = BreakingProxy(mock.base_url)  # counts what plnfilter asks
    try:
        db = tmp_path / "a.db"
        limited = write(tmp_path, proxy.url, tag, "refresh_limit: 2\n")
        assert run(limited, db, isolated_home).returncode == 0
        assert not [path for path in proxy.requests if path.startswith("/api/v1/statuses?")]
        mock.favourite("omar", statuses[-1]["id"])  # the newest
        mock.favourite("omar", statuses[0]["id"])  # the oldest
        second = run(limited, db, isolated_home)
        assert second.returncode == 0, second.stderr
        multi_gets = [path for path in proxy.requests if path.startswith("/api/v1/statuses?")]
        assert len(multi_gets) == 2 and all(path.count("id%5B%5D=") == 20 for path in multi_gets)
        assert row(db, statuses[-1]["uri"])["likes"] == 1
        assert row(db, statuses[0]["uri"])["likes"] == 0  # beyond the 40 newest: left for later

        proxy.requests.clear()
        default = write(tmp_path, proxy.url, tag)  # default refresh_limit 10: 100 posts take 5 requests
        assert run(default, db, isolated_home).returncode == 0
        multi_gets = [path for path in proxy.requests if path.startswith("/api/v1/statuses?")]
        assert len(multi_gets) == 5 and row(db, statuses[0]["uri"])["likes"] == 1
    finally:
        proxy.stop()
    figure_reporter(request)(
        "refresh: 100 young archived Mastodon statuses -> 5 GET /api/v1/statuses requests per run "
        "(2 with refresh_limit: 2, the 40 newest)"
    )


def test_a_deleted_status_is_noted_and_kept(mastodon_mock, tmp_path, isolated_home):  # noqa: F811
    mock = mastodon_mock
    tag = "RefreshDeleted"
    kept = mock.post("kate", f"staying #{tag}")
    gone = mock.post("kate", f"about to go #{tag}")
    filter_file, db = write(tmp_path, mock.base_url, tag), tmp_path / "a.db"
    assert run(filter_file, db, isolated_home).returncode == 0
    mock.call("DELETE", f"/api/v1/statuses/{gone['id']}", "kate")
    mock.favourite("lin", kept["id"])
    second = run(filter_file, db, isolated_home)
    assert second.returncode == 0, second.stderr
    assert row(db, gone["uri"])["text"] == f"about to go #{tag}"
    assert row(db, kept["uri"])["likes"] == 1
    assert "1 not returned (deleted or no longer visible: left as archived)" in second.stderr
    assert last_run(db)["per_source"][f"refresh:mastodon:{mock.host}"]["missing"] == 1


@pytest.fixture
def fault_server():
    yield from serving()


def test_a_server_without_multi_get_gives_a_note_and_exit_0(fault_server, tmp_path):
    server = fault_server
    server.add("edtech", 30, minutes_ago=30)
    filter_path, db = write_filter(tmp_path / "pln.yaml", server, ["edtech"]), tmp_path / "a.db"
    assert run_plnfilter("run", filter_path, "--db", db).returncode == 0
    server.add("edtech", 5)
    second = run_plnfilter("run", filter_path, "--db", db)
    assert second.returncode == 0, second.stderr
    assert "does not offer GET /api/v1/statuses (it answered 404" in second.stderr
    assert "Error" not in second.stderr and len(set(archive_state(db).uris)) == 35
    asked = [seen for seen in server.requests if seen.path == "/api/v1/statuses"]
    assert len(asked) == 1 and len(asked[0].query["id[]"]) == 20  # one probe, then one status at a time
    one_by_one = [seen for seen in server.requests if seen.path.startswith("/api/v1/statuses/")]
    assert len(one_by_one) == 9  # the rest of the refresh_limit budget (10 requests)
    outcome = last_run(tmp_path / "a.db")
    assert outcome["status"] == "ok"
    note = outcome["per_source"][f"refresh:mastodon:{server.host}"]
    assert note["requests"] == 10 and "Mastodon 4.3" in note["notes"][0] and not note["warning"]


def test_a_refresh_failure_is_a_warning_and_the_fetched_posts_are_saved(
    mastodon_mock,  # noqa: F811
    tmp_path,
    isolated_home,
):
    mock = mastodon_mock
    tag = "RefreshLimited"
    for n in range(10):
        mock.post("kate", f"early {n} #{tag}")
    proxy = BreakingProxy(mock.base_url)
    try:
        filter_file, db = write(tmp_path, proxy.url, tag), tmp_path / "a.db"
        assert run(filter_file, db, isolated_home).returncode == 0
        new = {mock.post("omar", f"new {n} #{tag}")["uri"] for n in range(4)}
        reset = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        spent = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        proxy.rate_limit = lambda n: spent if proxy.requests[n - 1].startswith("/api/v1/statuses?") else None
        second = run(filter_file, db, isolated_home)
    finally:
        proxy.stop()
    assert second.returncode == 0, second.stderr
    assert new <= {uri for (uri,) in sqlite3.connect(db).execute("SELECT uri FROM posts")}
    assert (
        "warning: source refresh:mastodon:" in second.stderr
        and "the fetched posts are saved" in second.stderr
    )
    outcome = last_run(db)
    assert outcome["status"] == "ok"
    assert "rate limit" in outcome["per_source"][f"refresh:mastodon:{proxy.url[7:]}"]["warning"]


def test_max_time_bounds_a_refresh_whose_server_never_answers(mastodon_mock, tmp_path, isolated_home):  # noqa: F811
    mock = mastodon_mock
    tag = "RefreshStalled"
    for n in range(5):
        mock.post("kate", f"early {n} #{tag}")
    proxy = BreakingProxy(mock.base_url)
    released = threading.Event()
    try:
        filter_file, db = write(tmp_path, proxy.url, tag), tmp_path / "a.db"
        assert run(filter_file, db, isolated_home).returncode == 0
        late = mock.post("omar", f"late #{tag}")
        stalled = lambda n: released.wait(60) and None  # noqa: E731
        proxy.rate_limit = lambda n: (
            stalled(n) if proxy.requests[n - 1].startswith("/api/v1/statuses?") else None
        )
        env = {**os.environ, "PLNFILTER_HOME": str(isolated_home)}
        second = subprocess.run(
            [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--timeout", "60", "--max-time", "3"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        released.set()
        proxy.stop()
    assert second.returncode == 0, second.stderr
    assert "stopped by --max-time" in second.stderr and "the fetched posts are saved" in second.stderr
    assert row(db, late["uri"])["text"] == f"late #{tag}"
    assert last_run(db)["status"] == "ok"


def test_refresh_options_are_checked_with_file_and_line(tmp_path):
    path = str(tmp_path / "f.yaml")
    base = "name: f\nsources:\n  - mastodon: mastodon.social\n    hashtags: [edtech]\n"
    assert parse(base, path).refresh.days == 2 and parse(base, path).refresh_limit == 10
    assert parse("refresh: off\n" + base, path).refresh is None
    assert describe(parse("refresh: off\n" + base, path))[-1].startswith("refresh: off")
    assert (
        "last 36h are re-fetched each run, newest first, at most 3 requests per server"
        in describe(parse("refresh: 36h\nrefresh_limit: 3\n" + base, path))[-1]
    )
    assert parse(base + "    refresh: 6h\n", path).sources[0].options["refresh"].total_seconds() == 6 * 3600
    for text, line, words in (
        ("refresh: soon\n" + base, 1, "'refresh' needs a duration or off"),
        ("refresh_limit: 0\n" + base, 1, "'refresh_limit' needs a whole number of at least 1"),
        (base + "    refresh: [2d]\n", 5, "'refresh' needs a duration or off"),
        (base + "    refresh_limit: 3\n", 5, "unknown key 'refresh_limit' for a mastodon source"),
    ):
        with pytest.raises(FilterFileError) as caught:
            parse(text, path)
        assert caught.value.line == line and words in str(caught.value)
