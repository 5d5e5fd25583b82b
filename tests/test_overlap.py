"""20 pairs of overlapping `plnfilter run`s on one archive: one writes, the other waits or exits 75.

The first ten pairs are ordered by the server: the first run is held mid-fetch (it has the
lock), so what the second run and the read-only commands do is decided, not raced. The last ten
start both runs at once. After every pair: integrity ok, no duplicate, no post lost.
"""

from __future__ import annotations

import json
import time

from servers.fault_server import Forked, archive_state, run_forked, write_filter

PAIRS = 20
GATED = 10
READ_ONLY = [
    ("query", "--all", "--format", "jsonl"),
    ("export", "--all", "--format", "html"),
    ("export", "--all", "--format", "csv"),
    ("query", "--sql", "select count(*) n from posts"),
    ("runs", "--format", "json"),
    ("sources", "--format", "json"),
]


def wait_for(condition, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def runs_of(tmp_path, db) -> list[dict]:
    result = run_forked(tmp_path, "runs", "--db", db, "--limit", "1000", "--format", "json", timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_20_pairs_of_overlapping_runs(tmp_path, fault_server, report):
    db = tmp_path / "archive.db"
    filter_path = write_filter(tmp_path / "pln.yaml", fault_server, ["gate", "open"])
    outcomes = {"second exited 75": 0, "second waited": 0, "raced, both saved": 0, "raced, one exited 75": 0}
    read_only_done = 0
    for pair in range(PAIRS):
        fault_server.add("gate", 15)
        fault_server.add("open", 25)
        runs_before = len(runs_of(tmp_path, db)) if db.exists() else 0
        run_args = ["run", filter_path, "--db", db, "--quiet", "--timeout", "90"]
        if pair < GATED:
            gate = fault_server.hold("gate")
            seen = len(fault_server.timeline_requests("gate"))
            first = Forked(run_args, tmp_path)
            wait_for(
                lambda seen=seen: len(fault_server.timeline_requests("gate")) > seen,
                "the first run to reach the server",
            )

            command = READ_ONLY[pair % len(READ_ONLY)]
            read = run_forked(tmp_path, *command, "--db", db, timeout=30)
            assert read.returncode == 0, f"{command}: {read.stderr}"
            assert first.alive()  # the lock was held all along: the read did not wait for it
            read_only_done += 1

            if pair % 2 == 0:
                second = run_forked(tmp_path, *run_args, "--wait", "0", timeout=30)
                assert second.returncode == 75, second.stderr
                assert "another plnfilter run holds" in second.stderr and "--wait" in second.stderr
                assert len(fault_server.timeline_requests("gate")) == seen + 1  # it fetched nothing
                outcomes["second exited 75"] += 1
                gate.set()
                assert first.wait(60) == 0, first.stderr
                assert len(runs_of(tmp_path, db)) == runs_before + 1  # and recorded no run
            else:
                second = Forked([*run_args, "--wait", "60"], tmp_path)
                time.sleep(0.5)  # time enough to fetch, if it did not wait for the lock
                assert len(fault_server.timeline_requests("gate")) == seen + 1 and second.alive()
                gate.set()
                assert first.wait(60) == 0, first.stderr
                assert second.wait(60) == 0, second.stderr
                newest, older = runs_of(tmp_path, db)[:2]
                assert newest["started"] >= older["finished"]  # one after the other
                outcomes["second waited"] += 1
        else:
            wait = "0" if pair % 2 else "60"
            first = Forked(run_args, tmp_path)
            second = Forked([*run_args, "--wait", wait], tmp_path)
            codes = sorted((first.wait(60), second.wait(60)))
            assert codes in ([0, 0], [0, 75]), (codes, first.stderr, second.stderr)
            outcomes["raced, both saved" if codes == [0, 0] else "raced, one exited 75"] += 1
        state = archive_state(db)
        assert state.integrity == "ok", f"pair {pair}: {state.integrity}"
        assert state.duplicates == 0 and state.duplicate_findings == 0, f"pair {pair}"
        assert set(state.uris) == fault_server.uris(), (
            f"pair {pair}: {len(fault_server.uris() - set(state.uris))} lost"
        )
    report(
        f"overlap: {PAIRS} pairs {outcomes}; {read_only_done} read-only commands ran while a run held the "
        f"lock; integrity ok, 0 lost of {len(fault_server.uris())} posts, 0 duplicates"
    )
