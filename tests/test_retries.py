"""Transient server trouble is tried again, within bounds (plnfilter/sources/transport.py).

Against the scripted loopback server: 503 twice then 200 is archived whole with exit 0 and the
two retries counted in the run report; a server that keeps answering 502 fails its source (exit 3)
after 3 retries; a connection reset and a read timeout mid-run are retried. And the policy itself,
without a server: no retry starts when its backoff would end past --max-time.
"""

from __future__ import annotations

import json
import time

import pytest
from servers.fault_server import (
    archive_state,
    cursor_gaps,
    run_forked,
    timeline_name,
    write_filter,
)

from plnfilter.errors import SourceError
from plnfilter.sources import FetchContext
from plnfilter.sources.transport import MAX_RETRIES, Transient, with_retries
from plnfilter.times import now_utc

GOOD, BAD = "calm", "shaky"


def last_run(tmp_path, db) -> dict:
    result = run_forked(tmp_path, "runs", "--db", db, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def run(tmp_path, fault_server, *flags):
    filter_path = write_filter(tmp_path / "pln.yaml", fault_server, [GOOD, BAD])
    db = tmp_path / "archive.db"
    return run_forked(tmp_path, "run", filter_path, "--db", db, "--timeout", "1", *flags), db


def test_503_twice_then_200_is_archived_with_exit_0_and_the_retries_counted(tmp_path, fault_server, report):
    fault_server.add(GOOD, 10)
    fault_server.add(BAD, 30)
    fault_server.fail(BAD, "503", times=2)

    result, db = run(tmp_path, fault_server)

    assert result.returncode == 0, result.stderr
    assert f"{timeline_name(fault_server, BAD)}: 30 fetched, 30 new, 30 kept (2 retried)" in result.stderr
    assert "503" in result.stderr and "retry 2 of 3" in result.stderr
    state = archive_state(db)
    assert set(state.uris) == fault_server.uris() and state.duplicates == 0
    assert state.cursors[timeline_name(fault_server, BAD)] == fault_server.timelines[BAD][-1]["id"]
    per_source = last_run(tmp_path, db)["per_source"]
    assert per_source[timeline_name(fault_server, BAD)]["retries"] == 2
    assert per_source[timeline_name(fault_server, GOOD)]["retries"] == 0
    asked = [request.query for request in fault_server.timeline_requests(BAD)]
    assert asked[0] == asked[1] == asked[2] == {"limit": ["40"]}  # the same page, asked again twice
    report("503 twice then 200: exit 0, every post archived, 2 retries in the run report")


def test_a_server_that_keeps_answering_502_fails_the_source_with_exit_3(tmp_path, fault_server):
    fault_server.add(GOOD, 10)
    fault_server.add(BAD, 10)
    fault_server.fail(BAD, "502")

    result, db = run(tmp_path, fault_server, "--quiet", "--max-time", "60")

    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: source {timeline_name(fault_server, BAD)}: ")
    assert "502" in line and f"after {MAX_RETRIES + 1} tries" in line and "next run" in line
    assert len(fault_server.timeline_requests(BAD)) == MAX_RETRIES + 1
    assert fault_server.uris(GOOD) <= set(archive_state(db).uris)
    assert last_run(tmp_path, db)["per_source"][timeline_name(fault_server, BAD)]["retries"] == MAX_RETRIES


@pytest.mark.parametrize("kind", ["reset", "short", "stall"])
def test_a_broken_connection_or_read_timeout_mid_catch_up_is_retried(tmp_path, fault_server, kind):
    fault_server.add(GOOD, 10)
    fault_server.add(BAD, 10)
    first, db = run(tmp_path, fault_server, "--quiet")
    assert first.returncode == 0, first.stderr
    fault_server.add(BAD, 100)  # three catch-up pages
    fault_server.fail(BAD, kind, after=1, times=1, stall=2.0)

    result, db = run(tmp_path, fault_server, "--quiet")

    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    state = archive_state(db)
    assert set(state.uris) == fault_server.uris() and state.duplicates == 0
    assert all(gaps == 0 for gaps in cursor_gaps(fault_server, state).values())
    assert last_run(tmp_path, db)["per_source"][timeline_name(fault_server, BAD)]["retries"] == 1


def _failing(times: int, calls: list[int]):
    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise Transient(SourceError("t", "server answered 503", "the next run retries"), "503")
        return "ok"

    return call


def test_retries_stop_at_max_retries_and_are_counted():
    ctx = FetchContext(since=now_utc())
    slept: list[float] = []
    calls: list[int] = []
    assert with_retries(_failing(MAX_RETRIES, calls), ctx, "t", slept.append) == "ok"
    assert len(calls) == MAX_RETRIES + 1 and ctx.retries == {"t": MAX_RETRIES}
    assert len(slept) == MAX_RETRIES and all(0 < delay <= 8 * 1.5 for delay in slept)
    calls.clear()
    with pytest.raises(SourceError, match=rf"server answered 503 \(after {MAX_RETRIES + 1} tries\)"):
        with_retries(_failing(MAX_RETRIES + 1, calls), ctx, "t", slept.append)
    assert len(calls) == MAX_RETRIES + 1


def test_no_retry_starts_when_its_backoff_would_end_past_max_time():
    ctx = FetchContext(since=now_utc(), deadline=time.monotonic() + 0.2)  # the shortest backoff is 0.25 s
    slept: list[float] = []
    calls: list[int] = []
    with pytest.raises(SourceError, match="server answered 503"):
        with_retries(_failing(1, calls), ctx, "t", slept.append)
    assert (len(calls), slept, ctx.retries) == (1, [], {})
