"""SIGKILL `plnfilter run` at 50 moments mid-walk; the archive must never hold a gap or a duplicate.

Each round adds posts to two catch-up timelines and creates a fresh tag (a first-run walk back
in time), then kills the run: while it starts, while a request is in flight, a few
milliseconds after the k-th answer (while pages are judged and saved), or, with the fresh tag held,
as soon as the archive shows a saved page (a kill that surely lands mid-walk, whatever the load). After every kill:
`PRAGMA integrity_check` is ok, no post or finding is stored twice, and no cursor is ahead of the
posts saved with it. Then an unkilled run must leave every post the server has exactly once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest
from servers.fault_server import Forked, archive_state, cursor_gaps, serving, write_filter

KILLS = 50
CATCH_UP = ["alpha", "beta"]


@pytest.fixture
def server():
    yield from serving(latency=0.01)


def kill_plan(round_number: int) -> tuple[str, int, float]:
    """(how, answer number, delay): every round a different moment."""
    if round_number % 10 == 9:
        return "start-up", 0, 0.02 * (round_number // 10)
    if round_number % 10 == 4:
        return "after a save", 0, 0.0  # the fresh walk held, killed once a page is in the archive
    request = 1 + round_number % 4
    delay = 0.004 * ((round_number // 4) % 6)
    return ("in flight" if delay == 0 else "after answer"), request, delay


def start_killable_run(server, workdir, filter_path, db, how, request, delay):
    """Start a run and arrange its SIGKILL; returns the child."""
    fired = threading.Event()
    target: dict[str, int] = {}
    base = len(server.requests)

    def kill() -> None:
        if not fired.is_set():
            fired.set()
            try:
                os.kill(target["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass

    def on_request(number, seen) -> None:
        if how != "start-up" and number - base == request and "pid" in target:
            if delay:
                threading.Timer(delay, kill).start()
            else:
                kill()

    server.on_request = on_request
    child = Forked(["run", filter_path, "--db", db, "--quiet", "--timeout", "5"], workdir)
    target["pid"] = child.pid
    if how == "start-up":
        time.sleep(delay)
        kill()
    return child


def wait_for_a_save(db, before: int, child, limit: float = 30.0) -> None:
    """Poll the archive until it holds more posts than `before` (the run saved a page)."""
    deadline = time.monotonic() + limit
    while not db.exists() or len(archive_state(db).uris) <= before:
        assert child.alive(), f"the run ended before saving anything: {child.stderr}"
        assert time.monotonic() < deadline, "the run saved no page"
        time.sleep(0.01)


def run_statuses(db) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    finally:
        conn.close()


def test_sigkill_at_50_moments_leaves_no_gap_and_no_duplicate(tmp_path, server, report):
    db = tmp_path / "archive.db"
    for tag in CATCH_UP:
        server.add(tag, 100, minutes_ago=240)
    landed: dict[str, int] = {}
    partial = 0
    attempts = 0
    while sum(landed.values()) < KILLS:
        attempts += 1
        assert attempts <= KILLS + 20, f"only {sum(landed.values())} kills landed in {attempts - 1} rounds"
        number = attempts - 1
        fresh = f"fresh{number}"
        server.add(fresh, 45 + (number * 17) % 60, minutes_ago=120)
        for tag in CATCH_UP:
            server.add(tag, 10 + (number * 29) % 70)
        # one filter file, rewritten each round: a filter's name belongs to one file in an archive
        filter_path = write_filter(tmp_path / "round.yaml", server, [*CATCH_UP, fresh])
        before = len(archive_state(db).uris) if db.exists() else 0
        how, request, delay = kill_plan(number)

        # Kills at an answer can all miss the moments a page is committed on a slow machine; these
        # cannot: the fresh tag is held, so the run is mid-walk when the archive shows its first save.
        gate = server.hold(fresh) if how == "after a save" else None
        child = start_killable_run(server, tmp_path, filter_path, db, how, request, delay)
        if gate is not None:
            wait_for_a_save(db, before, child)
            os.kill(child.pid, signal.SIGKILL)
            gate.set()
        code = child.wait(60)
        server.on_request = None

        if code == -signal.SIGKILL:
            landed[how] = landed.get(how, 0) + 1
        if db.exists():
            state = archive_state(db)
            assert state.integrity == "ok", f"round {number} ({how}): {state.integrity}"
            assert state.duplicates == 0 and state.duplicate_findings == 0, f"round {number}"
            gaps = cursor_gaps(server, state)
            assert all(count == 0 for count in gaps.values()), f"round {number} ({how}): cursor ahead {gaps}"
            if before < len(state.uris) < len(server.uris()):
                partial += 1

        finished = Forked(["run", filter_path, "--db", db, "--quiet", "--timeout", "5"], tmp_path)
        assert finished.wait(60) == 0, finished.stderr
        state = archive_state(db)
        assert state.integrity == "ok"
        assert state.duplicates == 0 and state.duplicate_findings == 0
        assert set(state.uris) == server.uris(), (
            f"round {number}: {len(server.uris() - set(state.uris))} missing"
        )
        assert run_statuses(db).get("running", 0) == 0, run_statuses(db)  # a killed run is not left "running"

    total = len(server.uris())
    statuses = run_statuses(db)
    report(
        f"kill: {sum(landed.values())} SIGKILLs survived ({landed}) in {attempts} rounds, "
        f"{partial} left part of a run saved; integrity ok, 0 duplicates, 0 cursors ahead after each; "
        f"every next run complete: {total} posts, 0 gaps, 0 duplicates; runs recorded {statuses}"
    )
    assert partial >= landed.get("after a save", 0) > 0  # kills did land mid-walk, not only before or after
