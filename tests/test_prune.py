"""`plnfilter prune` and a filter file's `retain:`: old posts no filter keeps leave the archive with
everything stored about them; kept ones, young ones and cursors stay. All through the CLI, on
archives two filters built with `plnfilter run` over a saved timeline (file sources)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers.fault_server import make_status

from plnfilter.cli import cli

HOST = "edu.example"
CUTOFF = "2026-01-01"
BUILT = "2026-11-30T12:00:00Z"  # when the archive fixture's runs ran


def plnfilter(*args, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def status(number: int, tag: str, created: str, text: str = "") -> dict:
    moment = datetime.fromisoformat(created).replace(tzinfo=UTC)
    return make_status(str(1000 + number), tag, HOST, moment, text)


def timeline() -> list[dict]:
    """Old posts each filter keeps (keepa: A, keepb: B), old posts neither keeps (some in Japanese),
    and young posts neither keeps."""
    made = [status(n, "keepa", f"2025-03-{1 + n:02d}T10:00:00", f"kept by A {n} zebraword") for n in range(3)]
    made += [status(10 + n, "keepb", f"2025-04-{1 + n:02d}T10:00:00", f"kept by B {n}") for n in range(2)]
    made += [
        status(20 + n, "nobody", f"2025-05-{1 + n:02d}T10:00:00", f"old zebraword {n} 今日の授業は楽しい")
        for n in range(8)
    ]
    made += [
        status(40 + n, "nobody", f"2026-11-{1 + n:02d}T10:00:00", f"young zebraword {n} 授業")
        for n in range(4)
    ]
    return made


def write_filters(folder: Path, posts: list[dict], extra_a: str = "") -> tuple[Path, Path]:
    (folder / "posts.json").write_text(json.dumps(posts), encoding="utf-8")
    paths = []
    for name, tag, extra in (("a", "keepa", extra_a), ("b", "keepb", "")):
        path = folder / f"{name}.yaml"
        path.write_text(
            f"name: {name}\nsources:\n  - file: posts.json\n    name: shared\n"
            f"include:\n  - {{name: {tag}, tags: [{tag}]}}\n{extra}",
            encoding="utf-8",
        )
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture
def archive(tmp_path) -> Path:
    db = tmp_path / "archive.db"
    a, b = write_filters(tmp_path, timeline())
    for path in (a, b):
        result = plnfilter("run", path, "--db", db, "--quiet", env={"PLNFILTER_NOW": BUILT})
        assert result.exit_code == 0, result.output
    return db


def uris(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT uri FROM posts")}
    finally:
        conn.close()


def uri_of(number: int) -> str:
    return status(number, "x", "2025-01-01T00:00:00")["uri"]


def consistency(db: Path) -> dict[str, object]:
    """What must hold after any prune, read with sqlite3 itself: integrity, both full-text indexes
    whole, and nothing left of a removed post."""
    conn = sqlite3.connect(db)
    try:
        for table in ("posts_fts", "posts_search"):
            conn.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")  # noqa: S608 (raises when broken)
        return {
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "orphan verdicts": conn.execute(
                "SELECT count(*) FROM verdicts WHERE post_id NOT IN (SELECT id FROM posts)"
            ).fetchone()[0],
            "orphan findings": conn.execute(
                "SELECT count(*) FROM post_sources WHERE post_id NOT IN (SELECT id FROM posts)"
            ).fetchone()[0],
            "orphan raw": conn.execute(
                "SELECT count(*) FROM post_raw WHERE post_id NOT IN (SELECT id FROM posts)"
            ).fetchone()[0],
        }
    finally:
        conn.close()


CONSISTENT = {"integrity": "ok", "orphan verdicts": 0, "orphan findings": 0, "orphan raw": 0}


def fts_uris(db: Path, table: str, match: str) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        sql = f"SELECT p.uri FROM {table} f JOIN posts p ON p.id = f.rowid WHERE {table} MATCH ?"  # noqa: S608
        return {row[0] for row in conn.execute(sql, [match])}
    finally:
        conn.close()


def cursors(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT name, cursor FROM sources ORDER BY name").fetchall()
    finally:
        conn.close()


def searched(db: Path, text: str, filter_name: str = "a") -> set[str]:
    result = plnfilter("query", text, "--all", "--filter", filter_name, "--db", db, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return {json.loads(line)["uri"] for line in result.stdout.splitlines()}


OLD_NOBODY = {uri_of(20 + n) for n in range(8)}
OLD_KEPT = {uri_of(n) for n in range(3)} | {uri_of(10 + n) for n in range(2)}
YOUNG = {uri_of(40 + n) for n in range(4)}


def test_prune_removes_old_posts_no_filter_keeps_and_nothing_else(archive):
    everything = uris(archive)
    assert everything == OLD_NOBODY | OLD_KEPT | YOUNG
    saved_cursors = cursors(archive)
    assert searched(archive, "zebraword") >= OLD_NOBODY

    dry = plnfilter("prune", "--before", CUTOFF, "--db", archive, "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["posts"] == 8 and json.loads(dry.stdout)["dry_run"] is True
    assert "would remove 8 posts no filter keeps older than 2026-01-01T00:00:00Z" in dry.stderr
    assert uris(archive) == everything  # a dry run changes nothing

    result = plnfilter("prune", "--before", CUTOFF, "--db", archive, "--format", "json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert {k: counts[k] for k in ("posts", "findings", "raw", "verdicts", "kept", "behind")} == {
        "posts": 8,
        "findings": 8,
        "raw": 8,
        "verdicts": 16,  # A's and B's verdict on each
        "kept": 5,
        "behind": {},
    }
    assert "removed 8 posts no filter keeps" in result.stderr
    assert "5 older posts stay: a filter keeps them" in result.stderr

    # A keeps keepa posts that B drops (and the other way round): both stay, with both verdicts
    assert uris(archive) == OLD_KEPT | YOUNG
    assert consistency(archive) == CONSISTENT
    assert cursors(archive) == saved_cursors
    # the full-text indexes: no removed post is found, kept and young ones still are
    for table in ("posts_fts", "posts_search"):
        assert fts_uris(archive, table, "zebraword") == {uri_of(n) for n in range(3)} | YOUNG
        assert fts_uris(archive, table, 'search_grams : "授業"') == YOUNG
    assert searched(archive, "zebraword") == {uri_of(n) for n in range(3)} | YOUNG
    assert searched(archive, "授業", "b") == YOUNG
    assert searched(archive, "kept") == OLD_KEPT

    again = plnfilter("prune", "--before", CUTOFF, "--db", archive)
    assert again.exit_code == 0 and "removed 0 posts" in again.stderr  # nothing left to do
    # a later run of a filter neither fetches nor judges anything twice
    rerun = plnfilter("run", archive.parent / "a.yaml", "--db", archive)
    assert rerun.exit_code == 0, rerun.output
    assert "0 posts fetched" in rerun.stderr and uris(archive) == OLD_KEPT | YOUNG


def test_prune_all_removes_kept_old_posts_too(archive):
    result = plnfilter("prune", "--before", CUTOFF, "--all", "--db", archive, "--quiet")
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "")
    assert uris(archive) == YOUNG
    assert consistency(archive) == CONSISTENT
    assert fts_uris(archive, "posts_fts", "kept") == set()


def test_an_old_post_a_filter_has_not_judged_as_it_is_now_stays_until_it_has(tmp_path, archive):
    """A's later run saves three more old posts, and saves the old ones again (the file changed):
    B has not judged any of them as they are now, so B might keep them."""
    later = [status(60 + n, "nobody", f"2025-06-{1 + n:02d}T10:00:00", "found later") for n in range(3)]
    a, b = write_filters(tmp_path, timeline() + later)
    result = plnfilter("run", a, "--db", archive, "--quiet", env={"PLNFILTER_NOW": "2026-12-01T12:00:00Z"})
    assert result.exit_code == 0, result.output

    result = plnfilter("prune", "--before", CUTOFF, "--db", archive)
    assert result.exit_code == 0, result.output
    assert "removed 0 posts" in result.stderr
    assert "11 older posts stay until filter 'b' has judged them as they are now: run or apply it" in (
        result.stderr
    )
    assert {uri_of(60 + n) for n in range(3)} | OLD_NOBODY <= uris(archive)

    assert plnfilter("apply", b, "--db", archive, "--quiet").exit_code == 0
    result = plnfilter("prune", "--before", CUTOFF, "--db", archive)
    assert "removed 11 posts" in result.stderr and "until filter" not in result.stderr
    assert uris(archive) == OLD_KEPT | YOUNG
    assert consistency(archive) == CONSISTENT


def test_stale_verdicts_hold_back_a_prune(archive):
    """A run that changed A's rules and was killed before judging left every verdict of A stale
    (store.verdicts.begin_judging): under the new rules A might keep any old post."""
    before = uris(archive)
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute("UPDATE verdicts SET judged_at = '' WHERE \"filter\" = 'a'")
    conn.close()
    result = plnfilter("prune", "--before", CUTOFF, "--db", archive)
    assert result.exit_code == 0, result.output
    assert "removed 0 posts" in result.stderr
    assert "8 older posts stay until filter 'a' has judged them" in result.stderr
    assert uris(archive) == before


def test_retain_in_the_filter_file_prunes_at_the_end_of_each_run(tmp_path):
    db = tmp_path / "archive.db"
    a, b = write_filters(tmp_path, timeline(), extra_a="retain: 90d\n")
    now = {"PLNFILTER_NOW": "2026-12-01T12:00:00Z"}
    assert plnfilter("run", b, "--db", db, "--quiet", env=now).exit_code == 0
    assert "retain: each run ends by removing posts older than 90d" in plnfilter("check", a).stdout
    result = plnfilter("run", a, "--db", db, env=now)
    assert result.exit_code == 0, result.output
    assert "retain: removed 8 posts no filter keeps older than 2026-09-02T12:00:00Z" in result.stderr
    assert uris(db) == OLD_KEPT | YOUNG
    assert consistency(db) == CONSISTENT
    runs = json.loads(plnfilter("runs", "--db", db, "--filter", "a", "--format", "json").stdout)
    assert runs[0]["per_source"]["retain"]["posts"] == 8


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("soon", "'retain' needs a duration of a day or more, or forever, not 'soon'"),
        ("1h", "'retain' needs a duration of a day or more, or forever, not '1h'"),
        ("[90d]", "'retain' needs a duration of a day or more, or forever, not a list"),
    ],
)
def test_a_bad_retain_names_the_file_and_line(tmp_path, value, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nsources: []\nretain: {value}\n", encoding="utf-8")
    result = plnfilter("check", path)
    assert result.exit_code == 2
    assert f"{path}:3: {problem}" in result.output
    assert "retain: 90d" in result.output  # the fix


def test_vacuum_gives_the_space_back(tmp_path):
    db = tmp_path / "archive.db"
    bulky = [
        status(
            100 + n, "nobody", f"2025-07-{1 + n % 28:02d}T10:{n % 60:02d}:00", f"bulk {n} " + "words " * 300
        )
        for n in range(600)
    ]
    a, _ = write_filters(tmp_path, timeline() + bulky)
    assert plnfilter("run", a, "--db", db, "--quiet").exit_code == 0
    assert plnfilter("prune", "--before", CUTOFF, "--db", db, "--all", "--quiet").exit_code == 0
    unvacuumed = db.stat().st_size + Path(f"{db}-wal").stat().st_size
    result = plnfilter("prune", "--before", CUTOFF, "--db", db, "--vacuum", "--format", "json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["bytes_after"] < counts["bytes_before"] / 4
    assert db.stat().st_size + Path(f"{db}-wal").stat().st_size < unvacuumed / 4
    assert "vacuum: the archive went from" in result.stderr
    assert uris(db) == YOUNG
    assert consistency(db) == CONSISTENT


def test_bad_flags_exit_2_and_a_missing_archive_1(tmp_path, archive):
    assert plnfilter("prune", "--db", archive).exit_code == 2  # --before is required
    wrong = plnfilter("prune", "--before", "last tuesday", "--db", archive)
    assert wrong.exit_code == 2 and "--before" in wrong.output and "90min" in wrong.output
    both = plnfilter("prune", "--before", "90d", "--dry-run", "--vacuum", "--db", archive)
    assert both.exit_code == 2 and "choose one" in both.output
    missing = plnfilter("prune", "--before", "90d", "--db", tmp_path / "nothing.db")
    assert missing.exit_code == 1 and "no archive at" in missing.output
    assert not (tmp_path / "nothing.db").exists()


def test_prune_waits_for_the_archive_lock_then_exits_75(archive):
    from filelock import FileLock

    before = uris(archive)
    with FileLock(f"{archive}.lock"):
        result = plnfilter("prune", "--before", CUTOFF, "--db", archive, "--wait", "0")
    assert result.exit_code == 75, result.output
    assert "another plnfilter run holds" in result.output and "--wait" in result.output
    assert uris(archive) == before


def test_an_archive_of_an_older_release_is_upgraded_by_prune_not_by_a_dry_run(tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "fixtures" / "archives" / "schema-005.db", db)
    dry = plnfilter("prune", "--before", "2026-11-26", "--db", db, "--dry-run")
    assert dry.exit_code == 1 and "made by an older plnfilter and has not been upgraded yet" in dry.output
    result = plnfilter("prune", "--before", "2026-11-26", "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["posts"] > 0
    assert consistency(db) == CONSISTENT
