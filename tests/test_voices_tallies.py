"""m012's tallies by author and day (`store/schema.py`), which `voices suggest` reads instead of the
window's posts, stay true through every write: each test changes an archive as a user would (a run,
the same posts saved again with new tags, links, reposters and author, apply, a refresh, prune,
filters forget, an upgrade) and checks that every tally equals a count made afresh from the posts,
and that `voices suggest` prints what it prints from the posts alone (an archive without them)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from plnfilter.cli import cli
from plnfilter.store import open_archive
from plnfilter.store.refresh import save_refreshed, stored_posts
from plnfilter.store.save import Judged
from plnfilter.store.schema import _M012_ROUGH, M012_TALLIES, m012_recount
from plnfilter.store.voices import rough_link_sql
from plnfilter.times import now_utc, to_iso

ROOT = Path(__file__).parent.parent
SAMPLES = ROOT / "filters/samples"
FIXTURES = Path(__file__).parent / "fixtures/archives"
RULES = """
exclude:
  - name: giveaways
    words: [giveaway, spam]
  - name: bots
    bot: true
include:
  - name: topics
    tags: [edtech, pln, oer, knitting]
"""
ADJOA, LIBBY = "adjoa@edu.social.example", "libby@edu.social.example"
NOW = now_utc()


def _row(author: str, n: int, hours: float, **fields) -> dict:
    host = author.rpartition("@")[2]
    return {
        "uri": f"https://{host}/users/{author.partition('@')[0]}/statuses/tally{n}",
        "network": "mastodon",
        "author": author,
        "created_at": to_iso(NOW - timedelta(hours=hours)),
        "text": fields.pop("text", f"post {n} about open resources"),
        "tags": fields.pop("tags", ["oer"]),
        **fields,
    }


def _hand(changed: bool = False) -> list[dict]:
    """Posts over four days: reposted by list members, sharing a link list members share, one
    dropped as spam; `changed`: the same posts as a second fetch sees them (other tags, links,
    reposters, one author renamed, one post now spam)."""
    link = "https://www.example.org/pln/1?utm=x" if not changed else "https://example.org/other"
    return [
        _row(
            "nadia@far.example", 1, 30, tags=["knitting"], reposted_by=[ADJOA] + ([LIBBY] if changed else [])
        ),
        _row(
            "nadia@far.example", 2, 54, tags=["knitting", "oer"] if not changed else ["edtech"], links=[link]
        ),
        _row("omar@near.example", 3, 78, links=["http://example.org/pln/1/"], reposted_by=[LIBBY]),
        _row("omar@near.example" if not changed else "omar2@near.example", 4, 80, tags=["pln", "pln"]),
        _row("spam@far.example", 5, 30, text="giveaway" if not changed else "a post on oer", links=[link]),
        _row(LIBBY, 6, 6, links=["https://example.org/pln/1"], tags=["oer"]),
    ]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _write(tmp_path: Path, hand: list[dict], name: str = "tally") -> Path:
    (tmp_path / "hand.jsonl").write_text("".join(json.dumps(row) + "\n" for row in hand), encoding="utf-8")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nsources:\n"
        f"  - file: {SAMPLES / 'mastodon-list.json'}\n    name: list\n"
        f"  - file: {SAMPLES / 'bluesky-listfeed.json'}\n    name: listfeed\n"
        f"  - file: {tmp_path / 'hand.jsonl'}\n    name: hand\n"
        "voices:\n  trusted: [kate@edu.social.example]\n" + RULES,
        encoding="utf-8",
    )
    return path


def _run(filter_path: Path, db: Path) -> None:
    result = _invoke("run", str(filter_path), "--db", str(db), "--quiet")
    assert result.exit_code == 0, result.output


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    db = tmp_path / "archive.db"
    filter_path = _write(tmp_path, _hand())
    _run(filter_path, db)
    return db, filter_path


def _tallies(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        return {table: sorted(conn.execute(f'SELECT * FROM "{table}"')) for table in M012_TALLIES}  # noqa: S608
    finally:
        conn.close()


def _assert_true(db: Path) -> dict[str, list[tuple]]:
    """Every tally holds what the posts and verdicts hold now, and no row counts nothing."""
    stored = _tallies(db)
    conn = sqlite3.connect(db)
    try:
        for table, rows in stored.items():
            assert rows == sorted(conn.execute(m012_recount(table))), table
            assert all(row[-1] > 0 for row in rows), table
    finally:
        conn.close()
    return stored


def _suggest(db: Path, filter_path: Path, since: str) -> str:
    result = _invoke(
        "voices", "suggest", str(filter_path), "--db", str(db), "--since", since, "--limit", "50",
        "--follows", "file:list", "--format", "jsonl",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout


def _assert_suggest_reads_as_from_the_posts(db: Path, filter_path: Path, tmp_path: Path) -> None:
    """Suggest from the tallies prints what it prints from the posts (a copy without the tallies,
    as an archive opened read-only before its upgrade), over every post and over a window whose
    first day is cut in the middle."""
    bare = tmp_path / "bare.db"
    source, conn = sqlite3.connect(db), sqlite3.connect(bare)
    source.backup(conn)  # the write-ahead log's pages too
    source.close()
    for table in M012_TALLIES:
        conn.execute(f'DROP TABLE "{table}"')
    conn.commit()
    conn.close()
    for since in ("2020-01-01", to_iso(NOW - timedelta(hours=60))):
        tallied = _suggest(db, filter_path, since)
        assert tallied == _suggest(bare, filter_path, since)
        assert tallied.strip()


def test_the_tallies_count_what_a_run_saved_and_suggest_reads_them_as_it_reads_the_posts(archive, tmp_path):
    db, filter_path = archive
    tallies = _assert_true(db)
    assert ("nadia@far.example", "mastodon", to_iso(NOW - timedelta(hours=30))[:10], "", 1) in tallies[
        "author_days"
    ]
    assert any(row[0] == "tally" and row[1] == "example.org/pln/1" for row in tallies["kept_link_days"])
    assert not any(
        row[2] == "spam@far.example" for row in tallies["kept_link_days"]
    )  # dropped: no endorsement
    _assert_suggest_reads_as_from_the_posts(db, filter_path, tmp_path)


def test_a_second_save_of_the_same_posts_moves_their_tallies(archive, tmp_path):
    db, filter_path = archive
    before = _tallies(db)
    _run(_write(tmp_path, _hand(changed=True)), db)
    after = _assert_true(db)
    assert after != before
    tags = {row[1]: row[3] for row in after["kept_tag_days"] if row[0] == "tally"}
    assert "knitting" in tags and tags.get("edtech") == 1
    assert not any(row[0] == "omar@near.example" and row[3] == 2 for row in after["author_days"])
    assert any(row[0] == "omar2@near.example" for row in after["author_days"])
    assert ("libby@edu.social.example", "nadia@far.example") in {row[:2] for row in after["booster_days"]}
    assert any(row[2] == "spam@far.example" for row in after["kept_link_days"])  # kept now
    _assert_suggest_reads_as_from_the_posts(db, filter_path, tmp_path)


def test_apply_with_other_rules_and_forgetting_a_filter_move_its_kept_tallies(archive, tmp_path):
    db, filter_path = archive
    stricter = filter_path.read_text(encoding="utf-8").replace("words: [giveaway, spam]", "tags: [oer]")
    filter_path.write_text(stricter, encoding="utf-8")
    result = _invoke("apply", str(filter_path), "--db", str(db))
    assert result.exit_code == 0, result.output
    after = _assert_true(db)
    assert "oer" not in {row[1] for row in after["kept_tag_days"]}
    _assert_suggest_reads_as_from_the_posts(db, filter_path, tmp_path)
    result = _invoke("filters", "forget", "tally", "--db", str(db))
    assert result.exit_code == 0, result.output
    after = _assert_true(db)
    assert not after["kept_author_days"] and not after["kept_tag_days"] and not after["kept_link_days"]
    assert after["author_days"]  # the posts stay


def test_a_refresh_that_changes_a_verdict_moves_the_kept_tallies(archive):
    db, _filter_path = archive
    posts = stored_posts(open_archive(db), [row["uri"] for row in _hand()])
    assert len(posts) == 6
    database = open_archive(db)
    save_refreshed(database, [Judged(post, False, 0.0) for post in posts.values()], to_iso(NOW), "tally")
    database.conn.close()
    after = _assert_true(db)
    assert not any(row[1] in ("nadia@far.example", "omar@near.example") for row in after["kept_author_days"])
    assert any(row[0] == "nadia@far.example" for row in after["author_days"])


def test_prune_takes_the_removed_posts_out_of_every_tally(archive, tmp_path):
    db, filter_path = archive
    before = _tallies(db)
    result = _invoke("prune", "--before", to_iso(NOW - timedelta(hours=40)), "--all", "--db", str(db))
    assert result.exit_code == 0, result.output
    after = _assert_true(db)
    for table in M012_TALLIES:
        assert len(after[table]) <= len(before[table]), table
    assert not any(row[0] == "omar@near.example" for row in after["author_days"])  # 78 and 80 hours old
    assert any(row[0] == "nadia@far.example" for row in after["author_days"])  # one post 30 hours old
    _assert_suggest_reads_as_from_the_posts(db, filter_path, tmp_path)


def test_an_upgraded_archive_counts_its_posts_into_the_tallies(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema-011.db", path)
    open_archive(path).conn.close()
    tallies = _assert_true(path)
    assert sum(row[-1] for row in tallies["author_days"]) == 72
    assert sum(row[-1] for row in tallies["kept_author_days"]) == 69


def test_a_verdict_stored_in_sql_before_its_post_counts_while_the_post_is_there(tmp_path):
    db = tmp_path / "archive.db"
    open_archive(db).conn.close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO filters (name, file) VALUES ('f', '')")
    conn.execute("INSERT INTO verdicts (filter, post_id, kept) VALUES ('f', 7, 1)")
    conn.execute(
        "INSERT INTO posts (id, uri, network, author, created_at, tags, links) "
        "VALUES (7, 'u', 'mastodon', 'Ann', '2026-01-01T10:00:00Z', '[\"x\", \"x\"]', '[\"https://www.a.org/p?q\"]')"
    )
    conn.commit()
    conn.close()
    tallies = _assert_true(db)
    assert tallies["kept_tag_days"] == [("f", "x", "2026-01-01", 2)]
    assert tallies["kept_link_days"] == [("f", "a.org/p", "ann", "mastodon", "2026-01-01", 1)]
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM posts WHERE id = 7")  # its verdict stays behind
    conn.commit()
    conn.close()
    tallies = _assert_true(db)
    assert not any(tallies.values())


def test_the_tallies_key_links_as_suggest_keys_the_voices_links():
    assert rough_link_sql('l."value"') == _M012_ROUGH  # m012 froze a copy; a new key needs a new tally


@pytest.mark.parametrize("since", [None, "mid-day", "short", "last second"])
def test_the_tallied_signals_are_the_scanned_ones_for_any_window(archive, since):
    from plnfilter.store import open_readonly
    from plnfilter.store.voices import _scanned_signals, network_signals

    db, _filter_path = archive
    day = to_iso(NOW - timedelta(hours=54))
    since = {"mid-day": day, "short": day[:9], "last second": day[:10] + "T23:59:59Z"}.get(since)
    conn = open_readonly(db)
    trusted = {"libby@edu.social.example", "adjoa@edu.social.example", "kate@edu.social.example"}
    tallied, scanned = (
        network_signals(conn, since, trusted, "tally"),
        _scanned_signals(conn, since, trusted, "tally"),
    )
    conn.close()
    assert {kind: sorted(rows) for kind, rows in tallied.items()} == {
        kind: sorted(rows) for kind, rows in scanned.items()
    }
    assert tallied["act"]
