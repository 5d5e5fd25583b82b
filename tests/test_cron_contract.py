"""The cron contract of `plnfilter run`: exit codes, --quiet, one stderr line per failed source,
`plnfilter runs` history and --max-time, against the scripted loopback server.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess

import pytest
from filelock import FileLock
from servers.fault_server import (
    archive_state,
    cli_env,
    cursor_gaps,
    plnfilter_command,
    run_forked,
    run_plnfilter,
    timeline_name,
    write_filter,
)


@pytest.fixture
def setup(tmp_path, fault_server):
    fault_server.add("edtech", 30)
    fault_server.add("pln", 30)
    return write_filter(tmp_path / "pln.yaml", fault_server, ["edtech", "pln"]), tmp_path / "archive.db"


def test_quiet_success_prints_nothing_first_run_and_catch_up(fault_server, setup):
    filter_path, db = setup
    for _ in range(2):  # the installed entry point, as cron runs it
        result = run_plnfilter("run", filter_path, "--db", db, "--quiet")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        fault_server.add("edtech", 5)
    assert len(archive_state(db).uris) == 65


def test_without_quiet_a_summary_goes_to_stderr_and_stdout_stays_empty(tmp_path, setup):
    filter_path, db = setup
    result = run_forked(tmp_path, "run", filter_path, "--db", db)
    assert result.returncode == 0
    assert result.stdout == ""
    assert "60 posts fetched (60 new to the archive)" in result.stderr
    assert "\x1b[" not in result.stderr  # no progress display or colour when stderr is not a terminal


def test_on_a_terminal_progress_is_shown_then_cleared(tmp_path, setup):
    """stderr on a pseudo-terminal: the live display runs, and the summary is what stays."""
    filter_path, db = setup
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        plnfilter_command("run", filter_path, "--db", db),
        stdout=subprocess.PIPE,
        stderr=follower,
        env=cli_env(COLUMNS="100", TERM="xterm"),
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=60)
    os.close(leader)
    assert process.returncode == 0
    assert stdout == b""
    text = seen.decode("utf-8", "replace")
    assert "posts" in text and "\x1b[" in text  # the live display drew and cleared itself
    assert "60 posts fetched (60 new to the archive)" in text


def test_exit_codes_0_1_2_3_75(tmp_path, fault_server, setup, report):
    filter_path, db = setup
    seen = {}

    seen[0] = run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet").returncode

    fault_server.add("edtech", 5)
    fault_server.fail("edtech", "503")
    partial = run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet")
    seen[3] = partial.returncode

    fault_server.fail("pln", "503")
    failed = run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet")
    seen[1] = failed.returncode
    assert failed.stderr.count("Error: ") == 2

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"sources:\n  - mastodon: {fault_server.base_url}\n    hashtag: [edtech]\n", encoding="utf-8"
    )
    usage = run_forked(tmp_path, "run", bad, "--db", db)
    seen[2] = usage.returncode
    assert "bad.yaml:3" in usage.stderr and "hashtags" in usage.stderr
    assert run_forked(tmp_path, "run", filter_path, "--no-such-flag").returncode == 2
    assert run_forked(tmp_path, "run", tmp_path / "missing.yaml", "--db", db).returncode == 2

    fault_server.heal()
    with FileLock(str(db) + ".lock"):
        locked = run_forked(tmp_path, "run", filter_path, "--db", db, "--wait", "0", "--quiet")
    seen[75] = locked.returncode
    assert "another plnfilter run holds" in locked.stderr  # --quiet never hides a failure
    assert "--wait" in locked.stderr  # the next step

    assert seen == {0: 0, 3: 3, 1: 1, 2: 2, 75: 75}
    for result in (partial, failed, usage, locked):
        assert result.stdout == "" and "Traceback" not in result.stderr
    report("cron exit codes: 0 ok, 1 all sources failed, 2 bad usage/filter, 3 partial, 75 locked")


def test_one_stderr_line_per_failed_source_with_reason_and_next_step(tmp_path, fault_server):
    tags = ["fine", "down", "slow", "limited", "garbled"]
    for tag in tags:
        fault_server.add(tag, 10)
    fault_server.fail("down", "503")
    fault_server.fail("slow", "stall", stall=3)
    fault_server.fail("limited", "429")
    fault_server.fail("garbled", "truncated")
    filter_path = write_filter(tmp_path / "pln.yaml", fault_server, tags)
    db = tmp_path / "archive.db"

    result = run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet", "--timeout", "1")

    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 4, result.stderr
    named = sorted(line.split("Error: source ", 1)[1].split(": ", 1)[0] for line in lines)
    assert named == sorted(timeline_name(fault_server, tag) for tag in ("down", "slow", "limited", "garbled"))
    for line in lines:
        reason, _, next_step = line.partition("; ")
        assert reason and len(next_step) > 10, line
    assert fault_server.uris("fine") <= set(archive_state(db).uris)


def test_runs_shows_started_finished_per_source_counts_and_errors(tmp_path, fault_server, setup):
    filter_path, db = setup
    assert run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet").returncode == 0
    fault_server.add("edtech", 7)
    fault_server.add("pln", 3)
    fault_server.fail("pln", "502")
    assert run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet").returncode == 3

    result = run_forked(tmp_path, "runs", "--db", db, "--format", "json")

    assert result.returncode == 0, result.stderr
    newest, first = json.loads(result.stdout)
    assert (newest["status"], first["status"]) == ("partial", "ok")
    for row in (newest, first):
        assert row["started"] and row["finished"] and row["started"] <= row["finished"]
    assert first["fetched"] == 60 and first["errors"] == []
    per_source = newest["per_source"]
    assert per_source[timeline_name(fault_server, "edtech")]["new"] == 7
    assert "502" in per_source[timeline_name(fault_server, "pln")]["error"]
    assert len(newest["errors"]) == 1 and "502" in newest["errors"][0]
    table = run_forked(tmp_path, "runs", "--db", db, "--format", "table")
    assert table.returncode == 0 and "partial" in table.stdout and "ok" in table.stdout


def test_max_time_stops_a_run_whose_server_never_answers(tmp_path, fault_server, report):
    fault_server.add("fine", 20)
    fault_server.add("hung", 20)
    gate = fault_server.hold("hung")
    filter_path = write_filter(tmp_path / "pln.yaml", fault_server, ["fine", "hung"])
    db = tmp_path / "archive.db"

    result = run_forked(
        tmp_path, "run", filter_path, "--db", db, "--quiet", "--timeout", "50", "--max-time", "1", timeout=40
    )
    gate.set()

    assert result.returncode == 3, result.stderr
    assert "--max-time" in result.stderr
    state = archive_state(db)
    assert fault_server.uris("fine") <= set(state.uris)
    runs = json.loads(run_forked(tmp_path, "runs", "--db", db, "--format", "json").stdout)
    assert runs[0]["finished"] and runs[0]["status"] == "partial"
    report("--max-time 1 against a server that never answers (--timeout 50): run stopped, exit 3")


def test_max_time_between_pages_keeps_cursors_honest(tmp_path, fault_server):
    fault_server.latency = 0.25
    fault_server.add("big", 30)
    filter_path = write_filter(tmp_path / "pln.yaml", fault_server, ["big"])
    db = tmp_path / "archive.db"
    assert run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet").returncode == 0
    fault_server.add("big", 400)  # ten pages of catch-up at a quarter second each

    result = run_forked(tmp_path, "run", filter_path, "--db", db, "--max-time", "1")

    # Exit 1 (the only source did not finish) or 3; either way the stop is said, with the flag to raise.
    assert result.returncode in (1, 3), result.stderr
    assert "--max-time" in result.stderr and "Traceback" not in result.stderr
    state = archive_state(db)
    assert 30 < len(state.uris) < 430  # stopped part-way
    assert cursor_gaps(fault_server, state) == {timeline_name(fault_server, "big"): 0}
    fault_server.latency = 0
    assert run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet").returncode == 0
    assert set(archive_state(db).uris) == fault_server.uris()


def test_a_regex_that_times_out_is_a_warning_even_with_quiet(tmp_path):
    """Hand-written hostile input: a post built to make a backtracking regex run without end."""
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "".join(
            json.dumps(
                {
                    "uri": f"https://evil.example/users/m/statuses/{n}",
                    "network": "mastodon",
                    "author": "m@evil.example",
                    "created_at": "2026-11-26T10:00:00Z",
                    "text": text,
                }
            )
            + "\n"
            for n, text in enumerate(["a" * 60 + "!", "aaa"])
        ),
        encoding="utf-8",
    )
    filter_path = tmp_path / "rx.yaml"
    filter_path.write_text(
        "name: rx\nsources:\n  - file: posts.jsonl\ninclude:\n  - name: backtracker\n    regex: '(a|aa)+$'\n",
        encoding="utf-8",
    )
    db = tmp_path / "rx.db"
    result = run_plnfilter("run", filter_path, "--db", db, "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Warning: 1 regex searches took too long")
    runs = run_plnfilter("runs", "--db", db, "--format", "jsonl")
    assert json.loads(runs.stdout.splitlines()[0])["per_source"]["rules"] == {"regex_timeouts": 1}
    again = run_plnfilter("run", filter_path, "--db", db, "--quiet")
    assert (again.returncode, again.stderr) == (0, "")  # nothing new judged, nothing to warn about
