"""`plnfilter watch` against mastodon-mock's streaming API, run from a database file so it can be
restarted: posts made while watch runs are archived and printed; a cut connection and a server
restart lose nothing and duplicate nothing; SIGTERM saves the last batch and exits 0."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from servers.cut_proxy import CutProxy
from servers.mastodon_mock import seed_config, start_mock
from servers.watching import PLNFILTER, Watching, archived, wait_for

pytestmark = pytest.mark.mastodon


@pytest.fixture(scope="module")
def mock():
    instance = start_mock('[database]\npath = "DBPATH"\n' + seed_config(), in_memory=False)
    instance.make_list("kate", "Live Panel", ["omar", "aiko"])
    yield instance
    instance.stop()


@pytest.fixture
def proxy(mock):
    cut = CutProxy(mock.port)
    yield cut
    cut.close()


def write_filter(path: Path, base_url: str, tag: str, extra: str = "") -> Path:
    path.write_text(
        f"name: live\nsources:\n  - mastodon: {base_url}\n    hashtags: [{tag}]\n{extra}"
        "exclude:\n  - name: dropped\n    words: [dropme]\n",
        encoding="utf-8",
    )
    return path


def env_for(host: str, home: Path) -> dict[str, str]:
    token_name = "PLNFILTER_MASTODON_TOKEN_" + host.replace(".", "_").replace(":", "_").upper()
    return {**os.environ, "PLNFILTER_HOME": str(home), token_name: "kate_token", "NO_PROXY": "127.0.0.1"}


def test_posts_made_while_watching_are_archived_and_printed_once(mock, tmp_path, isolated_home):
    before = mock.post("kate", "Before the panel #LiveOne")["uri"]
    filter_file = write_filter(
        tmp_path / "live.yaml",
        mock.base_url,
        "LiveOne",
        f"  - mastodon: {mock.base_url}\n    list: Live Panel\n",
    )
    db = tmp_path / "archive.db"
    watching = Watching(filter_file, db, env_for(mock.host, isolated_home), "--format", "jsonl")
    try:
        wait_for(lambda: before in archived(db), "the catch-up to save the earlier post", watching)
        made = [mock.post("omar", f"Live note {n} #liveone")["uri"] for n in range(5)]
        dropped = mock.post("omar", "Live dropme #liveone")["uri"]
        unlisted = mock.post("lin", "Live unlisted #liveone", visibility="unlisted")["uri"]
        in_list = mock.post("aiko", "Only in the list, live")["uri"]
        wanted = {*made, dropped, in_list}
        wait_for(lambda: wanted <= set(archived(db)), "the live posts in the archive", watching)
        wait_for(lambda: len(watching.printed()) >= 7, "the kept posts on stdout", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    printed = [row["uri"] for row in watching.printed()]
    assert sorted(printed) == sorted({before, *made, in_list})  # each kept post once, dropped ones not
    uris = archived(db)
    assert len(uris) == len(set(uris))
    assert unlisted not in uris  # the tag's REST timeline does not show it, so the stream does not either
    with sqlite3.connect(db) as conn:
        kept = dict(conn.execute("SELECT uri, kept FROM posts JOIN verdicts ON verdicts.post_id = posts.id"))
        status, per_source = conn.execute("SELECT status, per_source FROM runs ORDER BY id DESC").fetchone()
    assert kept[dropped] == 0 and kept[made[0]] == 1
    assert status == "ok" and json.loads(per_source)["watch"]["stopped_by"] == "signal"


def test_a_cut_connection_and_a_restart_lose_nothing_and_duplicate_nothing(
    mock, proxy, tmp_path, isolated_home
):
    filter_file = write_filter(tmp_path / "live.yaml", proxy.base_url, "LiveCut")
    db = tmp_path / "archive.db"
    first = mock.post("kate", "Opening #LiveCut")["uri"]
    watching = Watching(filter_file, db, env_for(proxy.host, isolated_home), "--format", "jsonl")
    try:
        wait_for(lambda: first in archived(db), "the first post", watching)
        streamed = mock.post("kate", "Streamed #livecut")["uri"]
        wait_for(lambda: streamed in archived(db), "a streamed post", watching)

        proxy.cut()  # the stream drops; posts made now reach neither the stream nor REST yet
        while_cut = [mock.post("lin", f"While cut {n} #livecut")["uri"] for n in range(12)]
        proxy.reopen()
        wait_for(lambda: set(while_cut) <= set(archived(db)), "the posts made while cut", watching)

        proxy.cut()
        mock.restart()  # same port, same database file: the server forgot every subscriber
        while_down = [mock.post("aiko", f"While restarting {n} #livecut")["uri"] for n in range(12)]
        proxy.reopen()
        wait_for(lambda: set(while_down) <= set(archived(db)), "the posts made during the restart", watching)
        after = mock.post("omar", "After the restart #livecut")["uri"]
        wait_for(lambda: after in archived(db), "a post streamed after the reconnect", watching)
        wanted = {first, streamed, *while_cut, *while_down, after}
        wait_for(lambda: len(watching.printed()) >= len(wanted), "every post printed", watching)
        assert watching.stop(signal.SIGINT) == 0, watching.stderr
    finally:
        watching.kill()
    uris = archived(db)
    assert sorted(uris) == sorted(wanted)  # no gap, no duplicate, nothing else
    printed = [row["uri"] for row in watching.printed()]
    assert sorted(printed) == sorted(wanted)  # each printed once, re-fetched ones not again
    with sqlite3.connect(db) as conn:
        per_source = json.loads(conn.execute("SELECT per_source FROM runs ORDER BY id DESC").fetchone()[0])
    assert per_source["watch"]["reconnects"] >= 2


def test_sigterm_saves_the_last_batch_and_exits_0_and_run_continues_from_there(mock, tmp_path, isolated_home):
    filter_file = write_filter(tmp_path / "live.yaml", mock.base_url, "LiveTerm")
    db = tmp_path / "archive.db"
    watching = Watching(filter_file, db, env_for(mock.host, isolated_home), "--format", "jsonl")
    try:
        opening = mock.post("kate", "Opening #LiveTerm")["uri"]
        wait_for(lambda: opening in archived(db), "the first post", watching)
        burst = [mock.post("kate", f"Burst {n} #liveterm")["uri"] for n in range(30)]
        code = watching.stop()
    finally:
        watching.kill()
    assert code == 0, watching.stderr
    saved = archived(db)
    assert set(saved) <= {opening, *burst}
    assert {row["uri"] for row in watching.printed()} <= set(saved)  # printed only once saved
    with sqlite3.connect(db) as conn:
        status = conn.execute("SELECT status FROM runs ORDER BY id DESC").fetchone()[0]
    assert status == "ok"
    rerun = subprocess.run(
        [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--quiet"],
        capture_output=True,
        text=True,
        env=env_for(mock.host, isolated_home),
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(archived(db)) == sorted([opening, *burst])  # the cron run fills in, once each


def test_watch_and_cron_runs_share_one_archive_without_gap_duplicate_or_exit_75(
    mock, tmp_path, isolated_home
):
    filter_file = write_filter(tmp_path / "live.yaml", mock.base_url, "LiveCron")
    db = tmp_path / "archive.db"
    env = env_for(mock.host, isolated_home)
    posted = [mock.post("kate", "Opening #LiveCron")["uri"]]
    watching = Watching(filter_file, db, env, "--format", "jsonl")
    codes = []
    try:
        wait_for(lambda: posted[0] in archived(db), "the first post", watching)
        for round_ in range(4):
            posted += [mock.post("kate", f"Round {round_} before {n} #livecron")["uri"] for n in range(10)]
            cron = subprocess.Popen(
                [str(PLNFILTER), "run", str(filter_file), "--db", str(db), "--quiet", "--wait", "5"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            posted += [mock.post("omar", f"Round {round_} during {n} #livecron")["uri"] for n in range(10)]
            _, err = cron.communicate(timeout=120)
            codes.append((cron.returncode, err))
        wait_for(lambda: set(posted) <= set(archived(db)), "every post in the archive", watching)
        wait_for(lambda: len(watching.printed()) >= len(posted), "every post printed", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    assert codes == [(0, "")] * 4
    uris = archived(db)
    assert sorted(uris) == sorted(posted)  # 0 gaps, 0 duplicates
    assert sorted(row["uri"] for row in watching.printed()) == sorted(posted)
    with sqlite3.connect(db) as conn:
        statuses = [row[0] for row in conn.execute("SELECT status FROM runs ORDER BY id")]
    assert statuses == ["ok"] * 5  # the session and the four runs, none interrupted


def test_a_short_soak_at_a_steady_rate_archives_everything_once_with_flat_memory(
    mock, tmp_path, isolated_home, request
):
    from servers.fault_server import figure_reporter
    from servers.soak import soak, token_env

    result = soak(
        mock, tmp_path, token_env(mock.host, isolated_home), seconds=15, per_second=20, tag="SoakShort"
    )
    assert result.exit_code == 0, result.stderr
    assert result.archived == result.distinct == result.posted  # no gap, no duplicate
    assert result.printed == result.posted
    grown = result.rss_end_kb - result.rss_start_kb
    figure_reporter(request)(
        f"watch soak: {result.posted} posts in {result.seconds:.0f}s at a steady rate, "
        f"RSS {result.rss_start_kb / 1024:.1f} MB after the first post, {result.rss_end_kb / 1024:.1f} MB at the end"
    )
    assert grown < 30 * 1024, f"watch grew by {grown / 1024:.1f} MB over {result.posted} posts"


def test_runs_shows_a_killed_session_as_interrupted_once_the_next_one_starts(mock, tmp_path, isolated_home):
    filter_file = write_filter(tmp_path / "live.yaml", mock.base_url, "LiveKill")
    db = tmp_path / "archive.db"
    env = env_for(mock.host, isolated_home)
    first = mock.post("kate", "Killed session #LiveKill")["uri"]
    killed = Watching(filter_file, db, env, "--format", "jsonl")
    try:
        wait_for(lambda: first in archived(db), "the first session's catch-up", killed)
    finally:
        killed.kill()  # SIGKILL: no chance to record its end
    second = Watching(filter_file, db, env, "--format", "jsonl")
    try:
        later = mock.post("kate", "Second session #livekill")["uri"]
        wait_for(lambda: later in archived(db), "the second session", second)
        shown = subprocess.run(
            [str(PLNFILTER), "runs", "--db", str(db), "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert [row["status"] for row in json.loads(shown.stdout)] == ["watching", "interrupted"]
        assert second.stop() == 0, second.stderr
    finally:
        second.kill()
    with sqlite3.connect(db) as conn:
        assert [row[0] for row in conn.execute("SELECT status FROM runs ORDER BY id")] == [
            "interrupted",
            "ok",
        ]


def test_a_stream_that_silently_stops_delivering_is_made_up_for_by_the_resync(
    mock, proxy, tmp_path, isolated_home
):
    filter_file = write_filter(tmp_path / "live.yaml", proxy.base_url, "LiveMute")
    db = tmp_path / "archive.db"
    first = mock.post("kate", "Opening #LiveMute")["uri"]
    watching = Watching(
        filter_file, db, env_for(proxy.host, isolated_home), "--format", "jsonl", "--resync", "2"
    )
    try:
        wait_for(lambda: first in archived(db), "the first post", watching)
        streamed = mock.post("kate", "Streamed #livemute")["uri"]
        wait_for(lambda: streamed in archived(db), "a streamed post", watching)
        proxy.mute()  # the stream stays connected and says nothing more: no reconnect comes
        unheard = [mock.post("lin", f"Unheard {n} #livemute")["uri"] for n in range(5)]
        # Only a catch-up can bring them: the stream would notice nothing for 90 s (its read timeout).
        wait_for(lambda: set(unheard) <= set(archived(db)), "the unheard posts", watching, limit=60)
        wanted = {first, streamed, *unheard}
        wait_for(lambda: len(watching.printed()) >= len(wanted), "every post printed", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    assert sorted(archived(db)) == sorted(wanted)
    assert sorted(row["uri"] for row in watching.printed()) == sorted(wanted)
    with sqlite3.connect(db) as conn:
        per_source = json.loads(conn.execute("SELECT per_source FROM runs ORDER BY id DESC").fetchone()[0])
    assert per_source["watch"]["reconnects"] == 0


def test_max_time_ends_the_session_and_a_terminal_line_is_clean_of_hostile_text(
    mock, tmp_path, isolated_home
):
    filter_file = write_filter(tmp_path / "live.yaml", mock.base_url, "LiveLine")
    db = tmp_path / "archive.db"
    hostile = mock.post("kate", "Evil \x1b[31mred\x1b[0m \u202eesrever\u202c\x07 text #LiveLine")["uri"]
    result = subprocess.run(
        [str(PLNFILTER), "watch", str(filter_file), "--db", str(db), "--format", "line", "--max-time", "3"],
        capture_output=True,
        text=True,
        env=env_for(mock.host, isolated_home),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert hostile in archived(db)
    (line,) = result.stdout.splitlines()
    assert "kate@" in line and "Evil" in line and "#LiveLine" in line and hostile in line
    assert not any(char in line for char in "\x1b\u202e\u202c\x07")
    assert "watched 1 timelines" in result.stderr
    with sqlite3.connect(db) as conn:
        status, per_source = conn.execute("SELECT status, per_source FROM runs").fetchone()
    assert status == "ok" and json.loads(per_source)["watch"]["stopped_by"] == "max-time"


def test_a_stream_refused_with_429_and_503_is_retried_with_backoff(mock, tmp_path, isolated_home):
    filter_file = write_filter(tmp_path / "live.yaml", mock.base_url, "LiveRefused")
    db = tmp_path / "archive.db"
    for effect, count in (({"type": "ratelimit", "status": 429}, 1), ({"type": "status", "status": 503}, 2)):
        mock.call(
            "POST",
            "/api/v1/_mock/faults",
            json={"match": {"path": "/api/v1/streaming/hashtag"}, "effect": effect, "count": count},
        )
    watching = Watching(filter_file, db, env_for(mock.host, isolated_home), "--format", "jsonl")
    try:
        wait_for(lambda: not mock.call("GET", "/api/v1/_mock/faults"), "the faults to be spent", watching)
        live = mock.post("kate", "Once the stream opened #LiveRefused")["uri"]
        wait_for(lambda: live in archived(db), "a post after the refusals", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    assert "429" in watching.stderr and "503" in watching.stderr  # said on stderr, then retried
    with sqlite3.connect(db) as conn:
        status, per_source = conn.execute("SELECT status, per_source FROM runs").fetchone()
    assert status == "ok" and json.loads(per_source)["watch"]["reconnects"] >= 3


def test_the_local_timeline_is_followed_live_with_public_posts_only(mock, tmp_path, isolated_home):
    filter_file = tmp_path / "local.yaml"
    filter_file.write_text(
        f"name: local\nsources:\n  - mastodon: {mock.base_url}\n    timeline: local\n", encoding="utf-8"
    )
    db = tmp_path / "archive.db"
    opening = mock.post("kate", "Local opening, nothing tagged")["uri"]
    watching = Watching(filter_file, db, env_for(mock.host, isolated_home), "--format", "jsonl")
    try:
        wait_for(lambda: opening in archived(db), "the catch-up", watching)
        quiet = mock.post("lin", "Local but unlisted", visibility="unlisted")["uri"]
        live = mock.post("aiko", "Local and public, live")["uri"]
        wait_for(lambda: live in archived(db), "a post streamed from the local timeline", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    assert quiet not in archived(db)  # posted before `live`: the stream had it first, and left it out


def test_a_reader_that_leaves_ends_the_session_quietly_with_what_it_read_saved(mock, tmp_path, isolated_home):
    filter_file = write_filter(tmp_path / "live.yaml", mock.base_url, "LiveHead")
    db = tmp_path / "archive.db"
    made = [mock.post("kate", f"Before head {n} #LiveHead")["uri"] for n in range(3)]
    watch = subprocess.Popen(
        [str(PLNFILTER), "watch", str(filter_file), "--db", str(db), "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(mock.host, isolated_home),
    )
    try:
        first = watch.stdout.readline()  # like `| head -1`: read one line, then leave
        watch.stdout.close()
        mock.post("kate", "After the reader left #livehead")  # the next kept post finds no reader
        code = watch.wait(timeout=60)
        stderr = watch.stderr.read().decode()
    finally:
        if watch.poll() is None:
            watch.kill()
    assert json.loads(first)["uri"] in made
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert set(made) <= set(archived(db))
