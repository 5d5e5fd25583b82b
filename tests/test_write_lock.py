"""The archive's write lock is held per write batch by run, watch and prune alike; a run lock per filter
keeps two runs of one filter apart. The fault server's gates decide the order, so nothing is raced."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from filelock import FileLock
from servers.fault_server import FaultServer, Forked, archive_state, run_forked
from test_overlap import wait_for
from test_prune import CONSISTENT, consistency

from plnfilter.cli import cli
from plnfilter.locks import write_lock
from plnfilter.store import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "archives"
SAMPLES = ROOT / "filters" / "samples"


def filter_file(path: Path, name: str, server: FaultServer, tags: list[str]) -> Path:
    path.write_text(
        f"name: {name}\nsources:\n  - mastodon: {server.base_url}\n    hashtags: [{', '.join(tags)}]\n"
        f"    max_pages: 50\ninclude:\n  - {{name: {name}-tags, tags: [{', '.join(tags)}]}}\n",
        encoding="utf-8",
    )
    return path


def verdict_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute('SELECT "filter", count(*) FROM verdicts GROUP BY 1').fetchall())
    finally:
        conn.close()


def runs_of(db: Path) -> list[dict]:
    """The runs table, newest first (`plnfilter runs` shows one filter's)."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        sql = 'SELECT "filter", status, started, finished FROM runs ORDER BY id DESC'
        return [dict(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def archived(db: Path) -> set[str]:
    if not db.exists():
        return set()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT uri FROM posts")}
    except sqlite3.OperationalError:  # not created yet
        return set()
    finally:
        conn.close()


def test_runs_of_two_filters_overlap_and_write_between_each_others_batches(tmp_path, fault_server, report):
    db = tmp_path / "archive.db"
    first = filter_file(tmp_path / "a.yaml", "a", fault_server, ["opena", "gatea"])
    second = filter_file(tmp_path / "b.yaml", "b", fault_server, ["openb"])
    for tag in ("opena", "gatea", "openb"):
        fault_server.add(tag, 12)
    gate = fault_server.hold("gatea")
    running = Forked(["run", first, "--db", db, "--wait", "0", "--quiet", "--timeout", "90"], tmp_path)
    # a has saved one timeline's page and waits for the other's answer, holding its run lock
    wait_for(lambda: fault_server.uris("opena") <= archived(db), "a's first timeline in the archive")
    wait_for(lambda: fault_server.timeline_requests("gatea"), "a to ask for its held timeline")

    beside = run_forked(tmp_path, "run", second, "--db", db, "--wait", "0", timeout=60)
    assert beside.returncode == 0, beside.stderr  # no exit 75: a holds no write lock between batches
    assert running.alive()
    assert fault_server.uris("openb") <= archived(db)
    newest = runs_of(db)
    assert [(r["filter"], r["status"]) for r in newest] == [("b", "ok"), ("a", "running")]  # a's is alive

    gate.set()
    assert running.wait(60) == 0, running.stderr
    by_filter = {r["filter"]: r for r in runs_of(db)}
    a, b = by_filter["a"], by_filter["b"]
    assert a["started"] <= b["started"] <= b["finished"] <= a["finished"]  # b ran inside a
    assert a["status"] == b["status"] == "ok"
    state = archive_state(db)
    assert state.integrity == "ok" and state.duplicates == 0 and state.duplicate_findings == 0
    assert set(state.uris) == fault_server.uris()
    # b judged what a had saved by then; a, ending last, judged everything
    assert verdict_counts(db) == {"a": 36, "b": 24}
    report(
        "write lock per batch: run of filter b (--wait 0) ran whole inside a run of filter a held "
        "mid-fetch: both exit 0, 36 posts, 0 lost, 0 duplicates"
    )


def test_a_second_run_of_the_same_filter_still_waits_or_exits_75(tmp_path, fault_server):
    db = tmp_path / "archive.db"
    path = filter_file(tmp_path / "a.yaml", "a", fault_server, ["gatea"])
    fault_server.add("gatea", 5)
    gate = fault_server.hold("gatea")
    running = Forked(["run", path, "--db", db, "--quiet", "--timeout", "90"], tmp_path)
    wait_for(lambda: fault_server.timeline_requests("gatea"), "the first run to reach the server")
    second = run_forked(tmp_path, "run", path, "--db", db, "--wait", "0")
    assert second.returncode == 75
    assert "another plnfilter run holds" in second.stderr and "a.yaml" not in second.stderr
    assert "filter 'a' is still running" in second.stderr and "--wait" in second.stderr
    gate.set()
    assert running.wait(60) == 0, running.stderr
    assert [r["status"] for r in runs_of(db)] == ["ok"]


def test_vacuum_while_another_writer_holds_the_write_lock_exits_75(tmp_path):
    db = tmp_path / "archive.db"
    filter_path = tmp_path / "one.yaml"
    filter_path.write_text(
        f"name: one\nsources:\n  - file: {SAMPLES / 'mastodon-list.json'}\n", encoding="utf-8"
    )
    assert CliRunner().invoke(cli, ["run", str(filter_path), "--db", str(db), "--quiet"]).exit_code == 0
    before = archived(db)
    with FileLock(f"{db}.lock"):  # what a run, watch or prune holds while it writes a batch
        held = run_forked(
            tmp_path, "prune", "--before", "2000-01-01", "--vacuum", "--db", db, "--wait", "0.5"
        )
    assert held.returncode == 75, held.stderr
    assert "--vacuum needs the archive to itself" in held.stderr
    assert f"kept writing to {db}" in held.stderr and "raise --wait" in held.stderr
    assert archived(db) == before
    free = run_forked(tmp_path, "prune", "--before", "2000-01-01", "--vacuum", "--db", db, "--format", "json")
    assert free.returncode == 0, free.stderr
    assert json.loads(free.stdout)["bytes_after"] is not None
    assert archived(db) == before and consistency(db) == CONSISTENT


def test_two_processes_opening_an_old_archive_at_once_migrate_it_once(tmp_path, report):
    oldest = sorted(FIXTURES.glob("schema-*.db"))[0]
    filters = []
    for name, sample in (("one", "mastodon-list.json"), ("two", "bluesky-listfeed.json")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"name: {name}\nsources:\n  - file: {SAMPLES / sample}\n    name: {name}-sample\n",
            encoding="utf-8",
        )
        filters.append(path)
    rounds = 4
    for number in range(rounds):
        db = tmp_path / f"round{number}.db"
        shutil.copy(oldest, db)
        started = [Forked(["run", path, "--db", db, "--quiet"], tmp_path) for path in filters]
        codes = [child.wait(120) for child in started]
        assert codes == [0, 0], [child.stderr for child in started]
        conn = sqlite3.connect(db)
        names = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        conn.close()
        assert names == sorted(m.__name__ for m in MIGRATIONS)  # each once
        assert consistency(db) == CONSISTENT
        assert set(verdict_counts(db)) >= {"one", "two"}
    report(
        f"migrations: {rounds} rounds of two runs opening {oldest.name} at once: each migration applied once"
    )


def someone_holds(path: str) -> bool:
    """Whether another process holds the flock on `path` (tried without waiting, let go at once)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_writer_that_lets_go_gets_the_lock_back_only_after_the_writer_waiting_for_it(tmp_path):
    """The turnstile (ARCHIVE.lock-next): a writer that writes batch after batch, letting go of the
    write lock for a moment between them, cannot take it back while another writer waits; without
    the turnstile it would win every time (the waiting one polls every few ms) and starve it."""
    db = tmp_path / "archive.db"
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    for path in (one, two):
        path.write_text(
            f"name: {path.stem}\nsources:\n  - file: {SAMPLES / 'mastodon-list.json'}\n", encoding="utf-8"
        )
    assert CliRunner().invoke(cli, ["run", str(one), "--db", str(db), "--quiet"]).exit_code == 0
    batch = write_lock(db, 30)
    conn = sqlite3.connect(db)
    try:
        with batch():
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            waiting = Forked(["run", two, "--db", db, "--wait", "30", "--quiet"], tmp_path)
            wait_for(
                lambda: someone_holds(f"{db}.lock-next"),
                "the second filter's run waiting in the turnstile, ARCHIVE.lock-next",
            )
        with batch():  # at once, as a writer's next batch does
            changed = conn.execute("PRAGMA data_version").fetchone()[0] != version
        assert changed, "the writer that let go took the lock back before the waiting run wrote"
        assert waiting.wait(60) == 0, waiting.stderr
    finally:
        conn.close()
    assert set(verdict_counts(db)) == {"one", "two"} and consistency(db) == CONSISTENT
