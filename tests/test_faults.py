"""Server faults, disk full and a read-only archive, through `plnfilter run` as cron runs it.

Every fault comes from the loopback server the test scripts (tests/servers/server.py). After
each: the failing source says why and what next on one stderr line, the healthy sources are saved,
the failing source's cursor covers only what was saved, and a healed run fills in every post once.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from servers.fault_server import (
    FAULT_KINDS,
    MALFORMED,
    archive_state,
    cursor_gaps,
    figure_reporter,
    run_forked,
    serving,
    timeline_name,
    write_filter,
)

GOOD = ["good1", "good2"]
BAD = "bad"
RUN_FLAGS = ("--quiet", "--timeout", "1", "--max-wait", "5")


def plnfilter(workdir, *args):
    return run_forked(workdir, *args)


@pytest.fixture
def server():
    yield from serving()


@pytest.fixture
def report(request):
    return figure_reporter(request)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_whole(server, db: Path) -> None:
    """Every well-formed status the server has is archived exactly once, and nothing else."""
    state = archive_state(db)
    assert state.integrity == "ok"
    assert state.duplicates == 0 and state.duplicate_findings == 0
    assert set(state.uris) == server.uris()
    assert all(gaps == 0 for gaps in cursor_gaps(server, state).values())


@pytest.fixture
def archive(tmp_path, server):
    """Three tags with 30 posts each, fetched once, so each has a cursor."""
    for tag in [*GOOD, BAD]:
        server.add(tag, 30, minutes_ago=60)
    filter_path = write_filter(tmp_path / "pln.yaml", server, [*GOOD, BAD])
    db = tmp_path / "archive.db"
    first = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)
    assert first.returncode == 0, first.stderr
    return filter_path, db


FAULT_OPTIONS = {"stall": {"stall": 4.0}}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_fault_mid_catch_up_costs_only_the_failing_source(tmp_path, server, archive, kind, report):
    filter_path, db = archive
    for tag in [*GOOD, BAD]:
        server.add(tag, 100)  # three pages of catch-up each
    server.fail(BAD, kind, after=1, **FAULT_OPTIONS.get(kind, {}))
    before = server.timelines[BAD][29]["id"]

    result = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)

    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    (line,) = error_lines(result.stderr)  # one line for the one failed source, even with --quiet
    assert line.startswith(f"Error: source {timeline_name(server, BAD)}: ")
    assert "; " in line and ("next run" in line or "run again" in line), line  # reason; next step
    state = archive_state(db)
    assert state.integrity == "ok" and state.duplicates == 0
    for tag in GOOD:
        assert server.uris(tag) <= set(state.uris)
    saved_page = server.timelines[BAD][30 + 39]["id"]  # the one catch-up page answered before the fault
    assert state.cursors[timeline_name(server, BAD)] in (before, saved_page)
    assert all(gaps == 0 for gaps in cursor_gaps(server, state).values())

    server.heal()
    healed = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)
    assert healed.returncode == 0, healed.stderr
    assert healed.stderr == ""
    assert_whole(server, db)
    report(f"server fault {kind}: exit 3, healthy sources saved, 0 gaps, 0 duplicates after the healed run")


@pytest.mark.parametrize("kind", ["502", "reset", "truncated"])
def test_a_fault_mid_first_walk_saves_pages_and_the_next_run_resumes_there(tmp_path, server, kind):
    server.add(BAD, 100)
    server.add(GOOD[0], 10)
    server.fail(BAD, kind, after=1)
    filter_path = write_filter(tmp_path / "pln.yaml", server, [GOOD[0], BAD])
    db = tmp_path / "archive.db"

    result = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)

    assert result.returncode == 3, result.stderr
    state = archive_state(db)
    assert state.cursors.get(timeline_name(server, BAD)) is not None  # where the walk stopped
    assert len(set(state.uris) & server.uris(BAD)) == 40  # the page that came is kept
    assert all(gaps == 0 for gaps in cursor_gaps(server, state).values())  # it promises only that
    server.heal()
    asked_before = len(server.timeline_requests(BAD))
    assert plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS).returncode == 0
    resumed = server.timeline_requests(BAD)[asked_before:]
    oldest_saved = server.timelines[BAD][-40]["id"]
    assert resumed[0].query.get("max_id") == [oldest_saved]  # walked on from there, not redone
    assert not [seen for seen in resumed if not {"max_id", "min_id"} & set(seen.query)]
    assert_whole(server, db)


def test_a_near_rate_limit_reset_is_announced_and_waited_out(tmp_path, server, archive):
    filter_path, db = archive
    server.add(BAD, 100)
    server.fail(BAD, "429", after=1, times=1, reset_in=1)

    result = plnfilter(tmp_path, "run", filter_path, "--db", db, "--timeout", "5", "--max-wait", "10")

    assert result.returncode == 0, result.stderr
    assert "rate limit" in result.stderr and "waiting" in result.stderr
    assert_whole(server, db)


def test_a_rate_limit_without_a_reset_header_stops_the_source_cleanly(tmp_path, server, archive):
    filter_path, db = archive
    server.add(BAD, 50)
    server.fail(BAD, "429", reset_in=0)  # a reset in the past: the server cannot say when
    result = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)
    assert result.returncode in (0, 3), result.stderr
    state = archive_state(db)
    assert all(gaps == 0 for gaps in cursor_gaps(server, state).values())


@pytest.mark.parametrize("first_run", [True, False], ids=["first-walk", "catch-up"])
@pytest.mark.parametrize("how", sorted(MALFORMED))
def test_one_malformed_post_is_skipped_and_named_the_rest_saved(tmp_path, server, how, first_run):
    filter_path = write_filter(tmp_path / "pln.yaml", server, [GOOD[0], BAD])
    db = tmp_path / "archive.db"
    server.add(GOOD[0], 5)
    if not first_run:
        server.add(BAD, 5)
        assert plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS).returncode == 0
    broken = server.add(BAD, 100, malformed={95: how})[95]  # on the newest page

    result = plnfilter(tmp_path, "run", filter_path, "--db", db, "--timeout", "5")

    assert result.returncode == 0, result.stderr
    state = archive_state(db)
    assert server.uris() <= set(state.uris)  # 0 gaps: the walk went on past the bad post
    assert state.duplicates == 0 and state.integrity == "ok"
    reported = broken["id"] in result.stderr
    stored = broken.get("uri") in set(state.uris)
    assert reported or stored, result.stderr  # never silently lost
    assert all(gaps == 0 for gaps in cursor_gaps(server, state).values())


# --- the disk and the archive file ----------------------------------------------------------------
def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (needs root and mount); skipped where the system does not allow it."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or not _mount(
        "-t", "tmpfs", "-o", "size=1m", f"pln{uuid.uuid4().hex[:6]}", str(where)
    ):
        pytest.skip("mounting a small tmpfs needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_is_a_clear_error_exit_1_and_nothing_half_written(tmp_path, server, small_disk, report):
    for tag in GOOD:
        server.add(tag, 400, minutes_ago=600)  # ~3 kB of raw JSON each: more than 1 MB in all
    filter_path = write_filter(tmp_path / "pln.yaml", server, GOOD)
    db = small_disk / "archive.db"

    result = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)

    assert result.returncode == 1, result.stderr
    assert "disk full" in result.stderr and "free some space" in result.stderr
    assert "Traceback" not in result.stderr
    state = archive_state(db)
    assert state.integrity == "ok" and state.duplicates == 0
    assert all(gaps == 0 for gaps in cursor_gaps(server, state).values())
    assert _mount("-o", "remount,size=64m", str(small_disk))
    again = plnfilter(tmp_path, "run", filter_path, "--db", db, *RUN_FLAGS)
    assert again.returncode == 0, again.stderr
    assert_whole(server, db)
    report(f"disk full: exit 1 with 'disk full' message, {len(state.uris)} posts saved whole, 0 gaps after")


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory the run cannot write: a read-only bind mount for root, permissions otherwise."""
    source = tmp_path / "data"
    source.mkdir()
    view = tmp_path / "view"
    view.mkdir()
    if os.geteuid() != 0:
        yield source, source, lambda: (source.chmod(0o555), *(p.chmod(0o444) for p in source.iterdir()))
        source.chmod(0o755)
        return
    if not _mount("--bind", str(source), str(view)):
        pytest.skip("bind mounts need mount privileges")

    def freeze():
        assert _mount("-o", "remount,bind,ro", str(view))

    yield source, view, freeze
    subprocess.run(["umount", "-l", str(view)], check=False)


def test_read_only_archive_is_a_clear_error_exit_1_and_unchanged(tmp_path, server, read_only_dir, report):
    writable, view, freeze = read_only_dir
    server.add(GOOD[0], 30)
    filter_path = write_filter(tmp_path / "pln.yaml", server, GOOD)
    assert plnfilter(tmp_path, "run", filter_path, "--db", view / "archive.db", *RUN_FLAGS).returncode == 0
    before = archive_state(view / "archive.db")
    freeze()
    server.add(GOOD[0], 30)

    result = plnfilter(tmp_path, "run", filter_path, "--db", view / "archive.db", *RUN_FLAGS)

    assert result.returncode == 1, result.stderr
    assert "read-only" in result.stderr.lower()
    assert "writable" in result.stderr or "permissions" in result.stderr  # the next step
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert lines[0].startswith("Error: ") and len(lines) <= 2
    assert archive_state(writable / "archive.db").uris == before.uris
    report("read-only archive: exit 1, 'read-only' message with a next step, archive unchanged")
