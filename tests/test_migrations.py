"""Upgrades: archives made by earlier releases (tests/fixtures/archives) migrate in place, lose no
row and end with the schema of a fresh archive; the migrations never read the live column lists."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

import plnfilter.store
import plnfilter.store.schema as schema
from plnfilter.store import MIGRATIONS, iter_posts, open_archive, open_readonly
from plnfilter.store.columns import FTS_COLUMNS, POST_SCHEMA
from plnfilter.store.rows import NULL_WHEN_MISSING

FIXTURES = Path(__file__).parent / "fixtures" / "archives"
FIXTURE_ARCHIVES = sorted(FIXTURES.glob("schema-*.db"))
TABLES_KEPT = ("posts", "post_sources", "sources", "runs", "_migrations")
SQLITE_TYPES = {int: "INTEGER", str: "TEXT", float: "REAL"}


def normalised_schema(path: Path) -> list[tuple[str, str, str, str]]:
    """Every table, index, trigger and view SQLite keeps for the archive, whitespace normalised."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE type IN ('table', 'index', 'trigger', 'view') AND sql IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    return sorted((kind, name, table, _normalise(sql)) for kind, name, table, sql in rows)


def _normalise(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql.strip())
    return re.sub(r"\s*([(),;])\s*", r"\1", sql)


def table_rows(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Each kept table's column names and its rows, in a stable order."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLES_KEPT:
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from TABLES_KEPT)
            names = [d[0] for d in cursor.description]
            out[table] = (names, sorted(cursor.fetchall(), key=repr))
        return out
    finally:
        conn.close()


def only_columns(rows: list[tuple], names: list[str], keep: list[str]) -> list[tuple]:
    positions = [names.index(name) for name in keep]
    return sorted((tuple(row[p] for p in positions) for row in rows), key=repr)


def fresh_archive(path: Path) -> Path:
    open_archive(path).close()
    return path


def upgraded_copy(fixture: Path, tmp_path: Path) -> Path:
    """The fixture copied aside (the committed file stays as it was) and opened by today's code."""
    path = tmp_path / fixture.name
    shutil.copyfile(fixture, path)
    open_archive(path).close()
    return path


def migration_names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute('SELECT name FROM "_migrations" ORDER BY rowid')]
    finally:
        conn.close()


# --- the fixture archives


def number_of(migration) -> int:
    """A migration's number, from its name (m011_... -> 11): numbers may skip one a branch took."""
    return int(migration.__name__[1:4])


def test_there_is_a_fixture_archive_for_the_latest_schema():
    latest = FIXTURES / f"schema-{number_of(MIGRATIONS[-1]):03d}.db"
    assert latest.exists(), (
        f"no {latest.relative_to(Path(__file__).parent.parent)}: a migration was added without the "
        "archive its release makes; build one as tests/fixtures/archives/README.md says"
    )


def test_the_recipe_for_the_next_fixture_archive_still_works(tmp_path):
    """tests/fixtures/archives/README.md runs this filter to make the next schema's archive."""
    from click.testing import CliRunner

    from plnfilter.cli import cli

    path = tmp_path / "schema-next.db"
    result = CliRunner().invoke(cli, ["run", str(FIXTURES / "fixture-filter.yaml"), "--db", str(path)])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 72
        assert (
            conn.execute(
                "SELECT count(*) FROM sources WHERE last_error IS NOT NULL AND last_error != ''"
            ).fetchone()[0]
            == 0
        )
    finally:
        conn.close()


@pytest.mark.parametrize("fixture", FIXTURE_ARCHIVES, ids=lambda p: p.name)
def test_fixture_archive_was_made_by_the_release_it_names(fixture):
    number = int(fixture.stem.split("-")[1])
    assert migration_names(fixture) == [m.__name__ for m in MIGRATIONS if number_of(m) <= number]
    conn = sqlite3.connect(fixture)
    # Verdicts sat in posts until m009 moved them to a table of their own, one per filter.
    judged = "verdicts" if number >= 9 else "posts"
    try:
        kept, dropped, findings, runs = conn.execute(
            f"SELECT (SELECT count(*) FROM {judged} WHERE kept = 1), (SELECT count(*) FROM {judged} WHERE kept = 0),"  # noqa: S608
            " (SELECT count(*) FROM post_sources), (SELECT count(*) FROM runs)"
        ).fetchone()
    finally:
        conn.close()
    assert kept and dropped and findings > kept + dropped and runs  # something to lose in an upgrade


@pytest.mark.parametrize("fixture", FIXTURE_ARCHIVES, ids=lambda p: p.name)
def test_fixture_archive_upgrades_in_place_losing_nothing(fixture, tmp_path):
    before = table_rows(fixture)
    path = upgraded_copy(fixture, tmp_path)
    after = table_rows(path)
    _assert_html_in_raw(path, before, after)

    for table in TABLES_KEPT:
        old_names, old_rows = before[table]
        new_names, new_rows = after[table]
        if table == "posts" and "kept" in old_names:  # m009 moves verdicts to the verdicts table
            _assert_verdicts_moved(path, old_names, old_rows)
            _assert_raw_moved(path, old_names, old_rows)
            old_names = [name for name in old_names if name not in (*VERDICT_MOVED, "raw")]
            old_rows = only_columns(old_rows, before[table][0], old_names)
            # m009 stores a missing value as NULL, not ''
            nulled = [old_names.index(name) for name in NULL_WHEN_MISSING]
            old_rows = sorted(
                (
                    tuple(None if i in nulled and v == "" else v for i, v in enumerate(row))
                    for row in old_rows
                ),
                key=repr,
            )
        assert set(old_names) <= set(new_names), f"{table} lost a column"
        if table == "_migrations":  # the recorded ones kept as they were, with when they ran
            assert set(old_rows) <= set(new_rows)
        else:
            assert only_columns(new_rows, new_names, old_names) == old_rows, f"{table} rows changed"
    assert migration_names(path) == [m.__name__ for m in MIGRATIONS]
    assert normalised_schema(path) == normalised_schema(fresh_archive(tmp_path / "fresh.db"))

    check = sqlite3.connect(path)
    try:  # FTS5 compares its index with the posts table and raises if they disagree
        check.execute("INSERT INTO posts_fts(posts_fts, rank) VALUES ('integrity-check', 1)")
        # and SQLite its own b-trees and constraints (a user's first check after an upgrade)
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        check.close()
    conn = open_readonly(path)
    try:
        uris = sorted(post.uri for post in iter_posts(conn))
    finally:
        conn.close()
    assert uris == sorted(row[before["posts"][0].index("uri")] for row in before["posts"][1])


VERDICT_MOVED = ("kept", "score", "matched")


def _assert_html_in_raw(path: Path, *tables: dict[str, tuple[list[str], list[tuple]]]) -> None:
    """m013 stores a Mastodon post's html as NULL when its raw object holds it (every fixture post's
    does); it reads back as it was. The rows compared (before and after) carry a NULL html as read."""
    conn = open_readonly(path)
    try:
        read = {post.uri: post.html or None for post in iter_posts(conn)}
    finally:
        conn.close()
    names, rows = tables[-1]["posts"]
    uri, html, network = names.index("uri"), names.index("html"), names.index("network")
    assert [row[uri] for row in rows if row[network] == "mastodon" and row[html] is not None] == []
    assert any(read[row[uri]] for row in rows if row[network] == "mastodon")
    for table in tables:
        names, rows = table["posts"]
        uri, html = names.index("uri"), names.index("html")
        as_read = [
            row if row[html] is not None else (*row[:html], read[row[uri]], *row[html + 1 :]) for row in rows
        ]
        table["posts"] = (names, sorted(as_read, key=repr))


def _assert_verdicts_moved(path: Path, names: list[str], rows: list[tuple]) -> None:
    """Each post's one verdict is now the verdict of the filter that ran last, under its `name:`."""
    conn = sqlite3.connect(path)
    try:
        (name,) = conn.execute('SELECT "filter" FROM runs ORDER BY id DESC LIMIT 1').fetchone()
        assert [row[0] for row in conn.execute("SELECT name FROM filters")] == [name]
        moved = conn.execute(
            "SELECT p.uri, v.kept, v.score, v.matched FROM verdicts v JOIN posts p ON p.id = v.post_id "
            'WHERE v."filter" = ?',
            [name],
        ).fetchall()
    finally:
        conn.close()
    assert sorted(moved) == only_columns(rows, names, ["uri", *VERDICT_MOVED])


def _assert_raw_moved(path: Path, names: list[str], rows: list[tuple]) -> None:
    """m009 keeps each post's raw API JSON, the same text, zlib-compressed in post_raw."""
    import zlib

    conn = sqlite3.connect(path)
    try:
        moved = conn.execute(
            "SELECT p.uri, r.raw FROM post_raw r JOIN posts p ON p.id = r.post_id"
        ).fetchall()
    finally:
        conn.close()
    unpacked = sorted((uri, zlib.decompress(blob).decode("utf-8")) for uri, blob in moved)
    assert unpacked == [row for row in only_columns(rows, names, ["uri", "raw"]) if row[1]]


@pytest.mark.parametrize("done", range(len(MIGRATIONS) + 1))
def test_an_archive_stopped_after_any_migration_ends_like_a_fresh_one(done, tmp_path, monkeypatch):
    path = tmp_path / "partial.db"
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS[:done])
    open_archive(path).close()
    monkeypatch.undo()
    open_archive(path).close()
    assert migration_names(path) == [m.__name__ for m in MIGRATIONS]
    assert normalised_schema(path) == normalised_schema(fresh_archive(tmp_path / "fresh.db"))


# --- the migrations are frozen


def test_the_live_column_lists_match_what_the_migrations_build(tmp_path):
    """POST_SCHEMA and FTS_COLUMNS describe the migrated table; a column added to one needs the other."""
    conn = sqlite3.connect(fresh_archive(tmp_path / "fresh.db"))
    try:
        columns = [(row[1], row[2]) for row in conn.execute("PRAGMA table_info('posts')")]
        fts = [row[1] for row in conn.execute("PRAGMA table_info('posts_fts')")]
    finally:
        conn.close()
    assert columns == [(name, SQLITE_TYPES[kind]) for name, kind in POST_SCHEMA.items()]
    assert fts == list(FTS_COLUMNS)


def _extend_live_column_lists(monkeypatch, column: str) -> None:
    """Add a column to every live column list in the store, as the next change to posts will."""
    patched: set[int] = set()
    for info in pkgutil.iter_modules(plnfilter.store.__path__):
        module = importlib.import_module(f"plnfilter.store.{info.name}")
        post_schema = getattr(module, "POST_SCHEMA", None)
        if isinstance(post_schema, dict) and id(post_schema) not in patched:
            patched.add(id(post_schema))
            monkeypatch.setitem(post_schema, column, str)
        fts = getattr(module, "FTS_COLUMNS", None)
        if isinstance(fts, tuple):
            monkeypatch.setattr(module, "FTS_COLUMNS", (*fts, column))


def test_a_column_added_to_the_live_schema_does_not_change_the_shipped_migrations(tmp_path, monkeypatch):
    """The next column is added by a new migration; fresh archives and old ones must both reach it.

    Were m001 to build posts from the live POST_SCHEMA, a fresh archive would already have the
    column when the new migration adds it ("duplicate column name"), and an old archive would not.
    """
    expected = normalised_schema(fresh_archive(tmp_path / "before.db"))

    def m999_posts_edited_at(db) -> None:  # (the example was `visibility` until m009 added it)
        db.execute('ALTER TABLE "posts" ADD COLUMN "edited_at" TEXT')

    _extend_live_column_lists(monkeypatch, "edited_at")
    assert normalised_schema(fresh_archive(tmp_path / "same-migrations.db")) == expected

    monkeypatch.setattr(schema, "MIGRATIONS", [*MIGRATIONS, m999_posts_edited_at])
    fresh = fresh_archive(tmp_path / "fresh.db")
    assert migration_names(fresh)[-1] == "m999_posts_edited_at"
    for fixture in FIXTURE_ARCHIVES:
        assert normalised_schema(upgraded_copy(fixture, tmp_path)) == normalised_schema(fresh)


# --- m011: findings keyed by (source, post id); raw JSON with a preset dictionary


def test_after_m011_old_raw_blobs_still_read_and_new_ones_open_with_the_archives_dictionary(tmp_path):
    import zlib
    from dataclasses import dataclass

    from plnfilter.post import Post
    from plnfilter.store import Judged, save_page

    fixture = FIXTURES / "schema-009.db"
    before = {post.uri: post.raw for post in iter_posts(sqlite3.connect(f"file:{fixture}?mode=ro", uri=True))}
    path = upgraded_copy(fixture, tmp_path)
    conn = open_readonly(path)
    try:
        assert {post.uri: post.raw for post in iter_posts(conn)} == before  # plain zlib, as m009 wrote
    finally:
        conn.close()

    @dataclass
    class Timeline:
        name: str = "file:new"
        network: str = "file"
        spec: str = "new"

    raw = {"id": "1", "content": "<p>after the upgrade</p>", "account": {"acct": "kate"}}
    post = Post(uri="https://example.social/users/kate/statuses/new", network="mastodon", raw=raw)
    db = open_archive(path)
    save_page(db, Timeline(), [Judged(post, True, 1.0)], None, "2026-12-01T00:00:00Z")
    save_page(db, Timeline(), [Judged(post, True, 1.0)], None, "2026-12-01T01:00:00Z")  # found again
    db.close()
    conn = sqlite3.connect(path)
    try:
        (dictionary,) = conn.execute("SELECT value FROM settings WHERE key = 'raw_dictionary'").fetchone()
        (blob,) = conn.execute(
            "SELECT r.raw FROM post_raw r JOIN posts p ON p.id = r.post_id WHERE p.uri = ?", [post.uri]
        ).fetchone()
        findings = conn.execute("SELECT count(*) FROM post_sources WHERE source = 'file:new'").fetchone()[0]
    finally:
        conn.close()
    with pytest.raises(zlib.error):
        zlib.decompress(blob)  # needs the dictionary...
    inflater = zlib.decompressobj(zdict=dictionary.encode("ascii"))  # ...which the archive carries
    assert json.loads(inflater.decompress(blob)) == raw
    assert findings == 1  # a source finds a post once, as before
