"""`plnfilter prune` killed with SIGKILL mid-way, and `prune` beside a `run` on one archive: nothing
that should stay is lost, the archive stays consistent, and a second prune finishes the job."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from seeded_archive import Timeline
from servers.fault_server import Forked, archive_state, cursor_gaps, run_forked, timeline_name, write_filter
from test_overlap import wait_for
from test_prune import CONSISTENT, consistency

from plnfilter.locks import write_lock
from plnfilter.post import Post
from plnfilter.store import Judged, open_archive, save_page, update_judgements

STAMP = "2026-11-28T12:00:00Z"
CUTOFF = "2026-01-01"
ROUNDS_LANDED = 5


def post(number: int, created_at: str) -> Post:
    return Post(
        uri=f"https://edu.example/users/kate/statuses/{number}",
        network="mastodon",
        url=f"https://edu.example/@kate/{number}",
        author="kate@edu.example",
        created_at=created_at,
        text=f"post {number} about open pedagogy and feedback",
        tags=("edtech",),
        likes=number % 7,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, set[str], set[str]]:
    """6,000 posts judged by two filters: 4,000 old ones neither keeps, 500 old ones only `a` keeps,
    500 old ones only `b` keeps, 1,000 young ones. Returns (archive, uris to remove, uris to keep)."""
    db = tmp_path_factory.mktemp("prune-kill") / "template.db"
    archive = open_archive(db)
    kinds = ["none"] * 4000 + ["a"] * 500 + ["b"] * 500 + ["young"] * 1000
    judged_a, judged_b, remove, keep = [], [], set(), set()
    for number, kind in enumerate(kinds):
        created = f"2025-{1 + number % 12:02d}-{1 + number % 28:02d}T10:00:00Z" if kind != "young" else STAMP
        item = post(number, created)
        judged_a.append(Judged(item, kind == "a", 1.0))
        judged_b.append(Judged(item, kind == "b", 1.0))
        (remove if kind == "none" else keep).add(item.uri)
    timeline = Timeline("mastodon:edu.example/tag/edtech", "mastodon", "edu.example #edtech")
    for start in range(0, len(kinds), 500):
        save_page(archive, timeline, judged_a[start : start + 500], str(start), STAMP, "a")
    update_judgements(archive, judged_b, filter_name="b", now=STAMP)
    archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.conn.close()
    return db, remove, keep


def posts_in(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT uri FROM posts")}
    finally:
        conn.close()


def kill_after_removed(db: Path, child: Forked, at_least: int, between_batches: bool) -> None:
    """SIGKILL the prune once it has removed `at_least` posts. Between batches, the test looks and
    kills while holding the write lock itself, so the prune cannot finish between look and kill and
    the kill is certain to land mid-prune; otherwise it kills wherever the prune is, inside a
    transaction included, which may come too late to land."""
    if not between_batches:
        wait_for(
            lambda: 6000 - len(posts_in(db)) >= at_least or not child.alive(), f"{at_least} posts removed"
        )
        os.kill(child.pid, signal.SIGKILL)
        return
    deadline = time.monotonic() + 30
    while True:
        with write_lock(db, 5)():
            if 6000 - len(posts_in(db)) >= at_least or not child.alive():
                os.kill(child.pid, signal.SIGKILL)
                return
        assert time.monotonic() < deadline, f"gave up waiting for {at_least} posts removed"
        time.sleep(0.005)


def test_sigkill_during_prune_loses_nothing_that_should_stay(tmp_path, template, report):
    source, remove, keep = template
    landed = attempts = landed_between = 0
    removed_when_killed = []
    while landed < ROUNDS_LANDED:
        attempts += 1
        assert attempts <= ROUNDS_LANDED + 10, (
            f"only {landed} kills landed mid-prune in {attempts - 1} rounds"
        )
        db = tmp_path / f"round{attempts}.db"
        shutil.copy(source, db)
        child = Forked(["prune", "--before", CUTOFF, "--db", db, "--batch-size", "20", "--quiet"], tmp_path)
        at_least = 1 + 700 * (attempts % ROUNDS_LANDED)  # each round kills it at another point
        between_batches = attempts % 2 == 1
        kill_after_removed(db, child, at_least, between_batches)
        code = child.wait(60)
        left = posts_in(db)
        assert keep <= left, f"round {attempts}: {len(keep - left)} posts that should stay are gone"
        assert left - keep <= remove
        assert consistency(db) == CONSISTENT, f"round {attempts}"
        if code == -signal.SIGKILL and 0 < len(remove - left) < len(remove):
            landed += 1
            removed_when_killed.append(len(remove - left))
            landed_between += between_batches

        finished = run_forked(tmp_path, "prune", "--before", CUTOFF, "--db", db, "--format", "json")
        assert finished.returncode == 0, finished.stderr
        assert posts_in(db) == keep
        assert consistency(db) == CONSISTENT
    report(
        f"prune kill: {landed} SIGKILLs landed mid-prune in {attempts} rounds ({landed_between} between "
        f"batches, {landed - landed_between} wherever the prune was; after "
        f"{sorted(removed_when_killed)} of {len(remove)} removable posts); each left integrity ok, "
        f"0 orphan rows, all {len(keep)} posts to keep; each second prune finished the job"
    )


def test_prune_with_wait_0_while_a_run_is_mid_fetch_exits_0_and_nothing_is_lost(tmp_path, fault_server):
    db = tmp_path / "archive.db"
    old_tag = "archived"
    filter_path = write_filter(
        tmp_path / "pln.yaml",
        fault_server,
        [old_tag, "gate"],
        extra=f"exclude:\n  - {{name: old, tags: [{old_tag}]}}\n",
    )
    fault_server.add(old_tag, 40, minutes_ago=60 * 24 * 400)  # up to 400 days old, dropped by the rule
    fault_server.add("gate", 20)
    first = run_forked(tmp_path, "run", filter_path, "--db", db, "--since", "500d", "--quiet")
    assert first.returncode == 0, first.stderr
    conn = sqlite3.connect(db)
    old = {row[0] for row in conn.execute("SELECT uri FROM posts WHERE created_at < '2026-01-01'")}
    conn.close()
    assert old and old <= fault_server.uris(old_tag)

    fault_server.add("gate", 15)
    gate = fault_server.hold("gate")
    seen = len(fault_server.timeline_requests("gate"))
    running = Forked(["run", filter_path, "--db", db, "--quiet", "--timeout", "90"], tmp_path)
    wait_for(lambda: len(fault_server.timeline_requests("gate")) > seen, "the run to reach the server")
    # the run holds its run lock while it waits for the server, and the write lock only per batch
    pruning = run_forked(tmp_path, "prune", "--before", CUTOFF, "--db", db, "--wait", "0", timeout=60)
    assert pruning.returncode == 0, pruning.stderr
    assert f"removed {len(old)} posts no filter keeps" in pruning.stderr
    assert running.alive() and not (old & set(archive_state(db).uris))
    gate.set()
    assert running.wait(60) == 0, running.stderr

    state = archive_state(db)
    assert state.integrity == "ok" and state.duplicates == 0 and state.duplicate_findings == 0
    assert set(state.uris) == fault_server.uris() - old  # every young post, none of the old ones
    assert consistency(db) == CONSISTENT
    # the cursors are where the runs left them: below them the archive lacks the pruned posts only,
    # and the next run fetches none of them again
    gaps = {timeline_name(fault_server, old_tag): len(old), timeline_name(fault_server, "gate"): 0}
    assert cursor_gaps(fault_server, state) == gaps
    again = run_forked(tmp_path, "run", filter_path, "--db", db, "--quiet")
    assert again.returncode == 0, again.stderr
    assert set(archive_state(db).uris) == fault_server.uris() - old


def test_a_prune_of_thousands_of_batches_lets_writers_in_between_and_a_run_with_wait_1_saves_beside_it(
    tmp_path, template, fault_server, report
):
    """prune holds the write lock one batch at a time, never for its whole length: another writer
    gets the lock within a batch (this test takes it itself, so the prune cannot have finished
    meanwhile), and a run that waits at most a second for each of its batches finishes. (That a
    writer letting go cannot take the lock straight back is the turnstile's test, in test_write_lock.py.)"""
    source, remove, keep = template
    db = tmp_path / "archive.db"
    shutil.copy(source, db)
    fault_server.add("beside", 60)
    filter_path = write_filter(
        tmp_path / "pln.yaml", fault_server, ["beside"], extra="include:\n  - {name: own, tags: [beside]}\n"
    )
    pruning = Forked(["prune", "--before", CUTOFF, "--db", db, "--batch-size", "1", "--quiet"], tmp_path)
    deadline = time.monotonic() + 30
    while True:  # look only while holding the lock, so the prune cannot move on between look and check
        with write_lock(db, 5)():  # ArchiveLocked here if prune held the lock for all its batches
            left_then = len(posts_in(db) & remove)
            prune_was_running = pruning.alive()
        if left_then < len(remove) or not prune_was_running:
            break
        assert time.monotonic() < deadline, "the prune removed nothing in 30 s"
        time.sleep(0.005)
    assert prune_was_running and left_then > 0, "the prune was over before another writer got a turn"
    started = time.monotonic()
    beside = run_forked(tmp_path, "run", filter_path, "--db", db, "--wait", "1", "--quiet", timeout=60)
    took = time.monotonic() - started
    assert beside.returncode == 0, beside.stderr
    still = "still pruning" if pruning.alive() else "the prune had ended"
    assert pruning.wait(120) == 0, pruning.stderr
    # posts the prune reached while the new filter had not judged them yet stayed; now it has
    again = run_forked(tmp_path, "prune", "--before", CUTOFF, "--db", db, "--quiet")
    assert again.returncode == 0, again.stderr
    assert posts_in(db) == keep | fault_server.uris()
    assert consistency(db) == CONSISTENT
    report(
        f"prune per batch: this test took the write lock mid-prune ({left_then} of {len(remove)} one-post batches "
        f"to go); a run (--wait 1, {took:.1f}s, {still} at its end) saved 60 posts; both exit 0, nothing lost"
    )
