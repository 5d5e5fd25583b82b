"""The archive: migrations, one-transaction pages, cursors, FTS sync, hostile text, runs."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plnfilter.errors import ArchiveError
from plnfilter.post import Post
from plnfilter.store import (
    MIGRATIONS,
    Judged,
    SaveResult,
    finish_run,
    get_cursor,
    get_post,
    iter_posts,
    list_runs,
    list_sources,
    open_archive,
    open_readonly,
    record_source_error,
    save_page,
    start_run,
    update_judgements,
)
from plnfilter.store.rows import pack_raw
from plnfilter.store.save import PageToSave, save_pages


@dataclass
class FakeTimeline:
    name: str = "mastodon:example.social/tag/edtech"
    network: str = "mastodon"
    spec: str = "mastodon: example.social hashtags=[edtech]"


T1 = FakeTimeline()
T2 = FakeTimeline(name="mastodon:other.social/tag/edtech", spec="mastodon: other.social")


def make_post(n: int, **changes) -> Post:
    post = Post(
        uri=f"https://example.social/users/kate/statuses/{n}",
        network="mastodon",
        url=f"https://example.social/@kate/{n}",
        author="kate@example.social",
        author_name="Kate",
        created_at=f"2026-11-{10 + n % 10:02d}T09:30:00Z",
        text=f"post number {n} about open pedagogy",
        tags=("edtech",),
        likes=n,
        raw={"id": str(n), "content": f"<p>post number {n}</p>"},
    )
    return replace(post, **changes)


def judged(*posts: Post, kept: bool = True, score: float = 1.0) -> list[Judged]:
    return [Judged(p, kept, score, ("topics",)) for p in posts]


@pytest.fixture
def db(tmp_path):
    database = open_archive(tmp_path / "archive.db")
    yield database
    database.close()


def posts_rows(db, exclude=("last_seen",)) -> list[dict]:
    cursor = db.conn.execute("SELECT * FROM posts ORDER BY uri")
    names = [d[0] for d in cursor.description]
    return [{k: v for k, v in zip(names, row, strict=True) if k not in exclude} for row in cursor]


def fts_uris(db, match: str) -> set[str]:
    sql = "SELECT posts.uri FROM posts JOIN posts_fts ON posts_fts.rowid = posts.id WHERE posts_fts MATCH ?"
    return {row[0] for row in db.conn.execute(sql, [match])}


def check_fts(db) -> None:
    """FTS5 compares its index with the posts table and raises if they disagree."""
    db.conn.execute("INSERT INTO posts_fts(posts_fts, rank) VALUES ('integrity-check', 1)")


# --- opening and migrations


def test_migrations_are_recorded_and_not_rerun_on_reopen(tmp_path):
    path = tmp_path / "nested" / "dir" / "archive.db"
    db = open_archive(path)
    names = [row[0] for row in db.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert {"posts", "post_sources", "sources", "runs", "posts_fts"} <= set(db.table_names())
    save_page(db, T1, judged(make_post(1)), "c1", "2026-11-26T10:00:00Z")
    db.close()

    again = open_archive(path)
    assert [row[0] for row in again.conn.execute("SELECT name FROM _migrations")] == names
    assert again.conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 1
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    again.close()


def test_an_archive_from_before_migration_4_is_upgraded_with_its_posts_and_findings(tmp_path, monkeypatch):
    import plnfilter.store.schema as schema

    path = tmp_path / "archive.db"
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS[:3])
    old = open_archive(path)
    old.conn.execute(  # a page as the store saved it then: findings keyed by uri
        "INSERT INTO posts (uri, network, text, author, tags, kept, score) VALUES (?, 'mastodon', ?, ?, '[]', 1, 2.5)",
        [make_post(1).uri, "old words", "kate@example.social"],
    )
    old.conn.executemany(
        "INSERT INTO post_sources (uri, source, first_seen) VALUES (?, ?, '2026-11-01T00:00:00Z')",
        [(make_post(1).uri, T1.name), (make_post(1).uri, T2.name), ("https://gone.example/1", T1.name)],
    )
    old.conn.commit()
    old.close()
    monkeypatch.undo()

    db = open_archive(path)
    indexes = {row[1] for row in db.conn.execute("PRAGMA index_list('posts')")}
    assert "posts_author" not in indexes and "posts_kept_score" not in indexes
    # m007 moved the verdicts, and the index of kept posts by score, to the verdicts table
    assert "posts_kept_by_score" not in indexes
    assert "verdicts_kept_by_score" in {row[1] for row in db.conn.execute("PRAGMA index_list('verdicts')")}
    assert db.conn.execute("SELECT kept, score FROM verdicts").fetchall() == [(1, 2.5)]
    findings = db.conn.execute("SELECT uri, source, post_id FROM post_sources ORDER BY source").fetchall()
    assert findings == [(make_post(1).uri, T1.name, 1), (make_post(1).uri, T2.name, 1)]
    assert fts_uris(db, "old") == {make_post(1).uri}
    check_fts(db)
    # the same post found again by T1 adds no finding; an edit re-indexes its text
    save_page(db, T1, judged(make_post(1, text="new words")), "c", "2026-11-26T10:00:00Z")
    assert db.conn.execute("SELECT count(*) FROM post_sources").fetchone()[0] == 2
    assert fts_uris(db, "old") == set() and fts_uris(db, "new") == {make_post(1).uri}
    check_fts(db)
    assert {s["name"]: s["posts"] for s in list_sources(db)} == {T1.name: 1}
    db.close()


def test_resaving_unchanged_text_leaves_the_search_index_alone(db):
    save_page(db, T1, judged(make_post(1)), None, "2026-11-26T10:00:00Z")
    segments = db.conn.execute("SELECT count(*) FROM posts_fts_data").fetchone()[0]
    for hour in range(11, 15):
        save_page(db, T1, judged(make_post(1, likes=hour)), None, f"2026-11-26T{hour}:00:00Z")
    assert db.conn.execute("SELECT count(*) FROM posts_fts_data").fetchone()[0] == segments
    assert fts_uris(db, "pedagogy") == {make_post(1).uri}
    check_fts(db)


def test_fts_is_the_kind_datasette_and_sqlite_utils_detect(db):
    assert db["posts"].detect_fts() == "posts_fts"


def test_opening_a_file_that_is_not_a_database_says_so(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(ArchiveError) as caught:
        open_archive(path)
    assert "not a SQLite database" in caught.value.message
    assert caught.value.hint
    with pytest.raises(ArchiveError, match="not a SQLite database"):
        open_readonly(path)


def test_open_readonly_without_an_archive_says_what_to_run(tmp_path):
    with pytest.raises(ArchiveError) as caught:
        open_readonly(tmp_path / "missing.db")
    assert "no archive at" in caught.value.message
    assert "plnfilter run" in caught.value.hint
    assert not (tmp_path / "missing.db").exists()


def test_disk_full_is_an_archive_error_and_the_page_is_not_half_saved(db):
    save_page(db, T1, judged(make_post(0)), "c0", "2026-11-26T10:00:00Z")
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    db.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    big = [make_post(n, text="lorem ipsum " * 400) for n in range(1, 200)]
    with pytest.raises(ArchiveError) as caught:
        save_page(db, T1, judged(*big), "c1", "2026-11-26T11:00:00Z")
    assert "disk full" in caught.value.message
    assert db.conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 1
    assert get_cursor(db, T1.name) == "c0"


# --- saving pages


def test_refetch_updates_counts_keeps_first_seen_and_records_second_finding(db):
    first = save_page(db, T1, judged(make_post(1, likes=2)), "c1", "2026-11-26T10:00:00Z")
    assert first == SaveResult(new=1, updated=0)
    second = save_page(db, T2, judged(make_post(1, likes=9, replies=3)), "d1", "2026-11-27T10:00:00Z")
    assert second == SaveResult(new=0, updated=1)

    (row,) = posts_rows(db, exclude=())
    assert (row["likes"], row["replies"]) == (9, 3)
    assert row["first_seen"] == "2026-11-26T10:00:00Z"
    assert row["last_seen"] == "2026-11-27T10:00:00Z"
    findings = db.conn.execute("SELECT source, first_seen FROM post_sources ORDER BY first_seen").fetchall()
    assert findings == [(T1.name, "2026-11-26T10:00:00Z"), (T2.name, "2026-11-27T10:00:00Z")]


def test_edited_text_replaces_old_text_in_posts_and_search(db):
    save_page(db, T1, judged(make_post(1, text="the original wording")), None, "2026-11-26T10:00:00Z")
    assert fts_uris(db, "original") == {make_post(1).uri}
    save_page(db, T1, judged(make_post(1, text="an edited sentence")), None, "2026-11-26T11:00:00Z")
    assert fts_uris(db, "original") == set()
    assert fts_uris(db, "edited") == {make_post(1).uri}
    check_fts(db)


def test_search_covers_author_tags_and_content_warning(db):
    post = make_post(1, text="plain words", spoiler="exam stress", tags=("assessment",))
    save_page(db, T1, judged(post), None, "2026-11-26T10:00:00Z")
    for word in ("plain", "kate", "assessment", "stress"):
        assert fts_uris(db, word) == {post.uri}, word


def test_reposters_accumulate_across_fetches(db):
    save_page(db, T1, judged(make_post(1, reposted_by=("ann@a.social",))), None, "2026-11-26T10:00:00Z")
    save_page(
        db,
        T1,
        judged(make_post(1, reposted_by=("bob@b.social", "ann@a.social"))),
        None,
        "2026-11-26T11:00:00Z",
    )
    save_page(db, T1, judged(make_post(1)), None, "2026-11-26T12:00:00Z")
    assert get_post(db, make_post(1).uri).reposted_by == ("ann@a.social", "bob@b.social")


def test_same_uri_twice_in_one_page_is_one_row(db):
    page = judged(
        make_post(1, likes=1, reposted_by=("ann@a.social",)),
        make_post(1, likes=5, reposted_by=("bob@b.social",)),
    )
    assert save_page(db, T1, page, None, "2026-11-26T10:00:00Z") == SaveResult(new=1, updated=0)
    (post,) = list(iter_posts(db))
    assert post.likes == 5
    assert set(post.reposted_by) == {"ann@a.social", "bob@b.social"}
    assert db.conn.execute("SELECT count(*) FROM post_sources").fetchone()[0] == 1


def test_cursor_advances_only_with_its_page(db):
    save_page(db, T1, judged(make_post(1)), "cursor-1", "2026-11-26T10:00:00Z")
    assert get_cursor(db, T1.name) == "cursor-1"
    save_page(db, T1, judged(make_post(2)), None, "2026-11-26T11:00:00Z")
    assert get_cursor(db, T1.name) == "cursor-1"
    assert get_cursor(db, "never-seen") is None

    # A failure half-way through a page (here: a trigger refusing the third post) saves nothing.
    db.conn.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.posts WHEN new.uri LIKE '%/5' "
        "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
    )
    before = posts_rows(db, exclude=())
    with pytest.raises(ArchiveError, match="simulated failure"):
        save_page(
            db, T1, judged(make_post(3), make_post(4), make_post(5)), "cursor-2", "2026-11-26T12:00:00Z"
        )
    assert posts_rows(db, exclude=()) == before
    assert get_cursor(db, T1.name) == "cursor-1"
    assert db.conn.execute("SELECT count(*) FROM post_sources").fetchone()[0] == 2
    assert not db.conn.in_transaction
    check_fts(db)


def test_empty_page_can_still_advance_the_cursor(db):
    assert save_page(db, T1, [], "c9", "2026-11-26T10:00:00Z") == SaveResult(new=0, updated=0)
    assert get_cursor(db, T1.name) == "c9"


def test_post_round_trips_through_the_archive(db):
    post = make_post(
        7,
        author_bot=True,
        author_followers=42,
        html="<p>hi</p>",
        lang="en",
        tags=("edtech", "pln"),
        links=("https://oer.example/a",),
        mentions=("bob@b.social",),
        reply_to="https://b.social/1",
        quote_of="at://did:plc:x/app.bsky.feed.post/1",
        has_media=True,
        media_alt=("a chart", ""),
        sensitive=True,
        spoiler="cw",
        reposts=3,
        replies=4,
        quotes=5,
        card_url="https://oer.example/a",
        card_title="OER",
        source="pln",
        raw={"nested": {"list": [1, 2.5, None, True]}, "emoji": "🎓"},
    )
    save_page(db, T1, judged(post), None, "2026-11-26T10:00:00Z")
    back = get_post(db, post.uri)
    assert back == post
    assert back.raw == post.raw
    assert get_post(db, "https://nowhere/1") is None


def test_hostile_text_lone_surrogates_and_nul(db):
    raw = json.loads('{"content": "\\ud800 lone", "ok": "\\ud83c\\udf93"}')
    post = make_post(1, text="before\x00after \ud800 x", author_name="\udfff", tags=("a\ud800",), raw=raw)
    save_page(db, T1, judged(post), None, "2026-11-26T10:00:00Z")
    back = get_post(db, post.uri)
    assert back.text == "before\x00after \ufffd x"
    assert back.author_name == "\ufffd"
    assert back.tags == ("a\ufffd",)
    assert back.raw == raw  # raw is kept exactly, lone surrogate included
    check_fts(db)


def _stored_html(db) -> dict[str, str | None]:
    return dict(db.conn.execute("SELECT uri, html FROM posts"))


def test_a_mastodon_posts_html_is_kept_once_in_its_raw_object_and_reads_back(db, tmp_path):
    """m013: the html a status's raw object holds (its content, a boost's original's) is stored NULL
    in posts and read from post_raw; an html the raw object does not hold is stored as it is."""
    from plnfilter.query import Selection, select_rows
    from plnfilter.store.read import get_row, stored_html

    status = {"id": "1", "account": {"acct": "kate"}, "content": "<p>own <b>words</b></p>"}
    plain = make_post(1, html="<p>own <b>words</b></p>", raw=status)
    boost = make_post(
        2,
        html="<p>boosted</p>",
        raw={"id": "9", "account": {}, "reblog": {"account": {}, "content": "<p>boosted</p>"}},
    )
    other = make_post(
        3, html="<p>edited here</p>", raw={"id": "3", "account": {}, "content": "<p>as sent</p>"}
    )
    hostile = make_post(4, html="\ufffd lone", raw=json.loads('{"account": {}, "content": "\\ud800 lone"}'))
    sky = make_post(5, network="bluesky", html="", raw={"post": {"record": {"text": "hi"}}})
    save_page(db, T1, judged(plain, boost, other, hostile, sky), None, "2026-11-26T10:00:00Z")

    stored = _stored_html(db)
    assert [stored[p.uri] for p in (plain, boost, other, hostile, sky)] == [
        None,
        None,
        "<p>edited here</p>",
        None,
        None,
    ]
    for post in (plain, boost, other, hostile, sky):
        assert get_post(db, post.uri).html == post.html
        assert get_row(db.conn, post.uri, columns=("uri", "html"))["html"] == (post.html or None)
    rows = select_rows(db.conn, Selection(columns=("uri", "html"), kept=None))
    assert {row["uri"]: row["html"] for row in rows} == {
        p.uri: p.html or None for p in (plain, boost, other, hostile, sky)
    }
    assert stored_html(db.conn, [plain.uri, sky.uri, other.uri]) == {
        plain.uri: plain.html,
        other.uri: other.html,
    }
    assert get_post(db, plain.uri).raw == status  # the raw object is what it was


def test_sdk_objects_in_raw_are_stored_as_text(db):
    from datetime import UTC, datetime

    post = make_post(1, raw={"created_at": datetime(2026, 11, 26, tzinfo=UTC)})
    save_page(db, T1, judged(post), None, "2026-11-26T10:00:00Z")
    assert get_post(db, post.uri).raw == {"created_at": "2026-11-26 00:00:00+00:00"}


# --- property: saving is idempotent

uris = st.sampled_from([f"at://did:plc:abc/app.bsky.feed.post/{n}" for n in range(6)])
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["\x00", "\ud800"]
)
posts = st.builds(
    lambda uri, text, likes, reposters, tags, kept: Judged(
        Post(uri=uri, network="bluesky", text=text, likes=likes, reposted_by=reposters, tags=tags),
        kept,
        likes / 2,
        (),
    ),
    uris,
    texts,
    st.integers(0, 1000),
    st.lists(
        st.sampled_from(["ann.bsky.social", "bob.bsky.social", "cy.bsky.social"]), max_size=2, unique=True
    ).map(tuple),
    st.lists(st.sampled_from(["edtech", "pln", "oer"]), max_size=3, unique=True).map(tuple),
    st.booleans(),
)
pages = st.lists(
    st.tuples(st.lists(posts, max_size=5), st.one_of(st.none(), st.text(max_size=5))), max_size=5
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages)
def test_saving_pages_twice_gives_the_same_archive_as_saving_once(page_list):
    once, twice = open_archive(":memory:"), open_archive(":memory:")
    try:
        for n, (page, cursor) in enumerate(page_list):
            save_page(once, T1, page, cursor, f"2026-11-26T10:00:{n:02d}Z")
        for repeat in range(2):
            for n, (page, cursor) in enumerate(page_list):
                save_page(twice, T1, page, cursor, f"2026-11-2{6 + repeat}T10:00:{n:02d}Z")
        assert posts_rows(once) == posts_rows(twice)
        assert (
            once.conn.execute("SELECT * FROM post_sources").fetchall()
            == twice.conn.execute("SELECT * FROM post_sources").fetchall()
        )
        assert get_cursor(once, T1.name) == get_cursor(twice, T1.name)
        check_fts(twice)
    finally:
        once.close()
        twice.close()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text() | st.sampled_from(["\ud800", "a\udfffb", "\u2028", "\x00", "\x7f", "</"]), max_size=4)
)
def test_list_cells_are_the_json_modules_compact_text(values):
    """List columns are written with orjson when it can; the text must be what the json module
    writes (which every reader and the exports expect), lone surrogates replaced with U+FFFD."""
    import re

    from plnfilter.store.rows import dump_list

    expected = json.dumps(values, ensure_ascii=False, separators=(",", ":")) if values else "[]"
    assert dump_list(tuple(values)) == re.sub("[\ud800-\udfff]", "\ufffd", expected)


def archive_tables(db) -> dict[str, list]:
    """Everything a saved page leaves, table by table (sources without their timestamps)."""
    tables = {
        table: db.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
        for table in ("posts", "post_sources", "post_raw", "verdicts")
    }
    tables["sources"] = db.conn.execute(
        "SELECT name, cursor, last_error FROM sources ORDER BY name"
    ).fetchall()
    return tables


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.booleans(), st.lists(posts, max_size=5), st.one_of(st.none(), st.text(max_size=5))),
        max_size=6,
    )
)
def test_a_batch_of_pages_saves_what_its_pages_save_one_by_one(page_list):
    """`save_pages` (the busy writer) writes each table once per batch; the archive must be the one
    `save_page` leaves page after page: a post found twice counts as new once, the later page's
    verdict and counts win, reposters and findings accumulate, each timeline keeps its last cursor."""
    one_by_one, batched = open_archive(":memory:"), open_archive(":memory:")
    stamp = "2026-11-26T10:00:00Z"
    try:
        pages = [PageToSave(T2 if second else T1, page, cursor) for second, page, cursor in page_list]
        expected = [save_page(one_by_one, p.timeline, p.judged, p.cursor, stamp) for p in pages]
        assert save_pages(batched, pages, stamp) == expected
        assert archive_tables(batched) == archive_tables(one_by_one)
        check_fts(batched)
    finally:
        one_by_one.close()
        batched.close()


def test_rows_prepared_before_the_writer_are_stored_as_prepared(db):
    """A fetch thread prepares what the archive stores of each post (`fetching.prepared`): the
    writer stores those values and raw bytes, and prepares only what came without them."""
    from plnfilter.fetching import prepared
    from plnfilter.sources import Page
    from plnfilter.store.rows import stored_form, unpack_raw

    first, second = make_post(1), make_post(2, raw={"id": "2", "emoji": "\U0001f393", "lone": "\ud800"})
    page = prepared(Page([first, second], "c1"))
    assert page.prepared == {
        first.uri: (first, stored_form(first)),
        second.uri: (second, stored_form(second)),
    }
    assert unpack_raw(page.prepared[second.uri][1][-1]) == second.raw
    # A marker in the prepared raw shows the writer used it; the second post comes unprepared.
    marked = (first, (*stored_form(first)[:-1], pack_raw({"prepared": True})))
    save_pages(db, [PageToSave(T1, judged(first, second), "c1", {first.uri: marked})], "2026-11-26T10:00:00Z")
    assert get_post(db, first.uri).raw == {"prepared": True}
    assert get_post(db, second.uri).raw == second.raw
    # Prepared for another object with the same uri (a post merged from two findings): not used.
    other = replace(first, likes=99)
    save_pages(db, [PageToSave(T1, judged(other), None, {first.uri: marked})], "2026-11-26T11:00:00Z")
    assert get_post(db, first.uri).raw == first.raw
    assert get_post(db, first.uri).likes == 99


def test_a_failure_between_pages_of_a_batch_is_recorded_where_it_came(db, tmp_path):
    """The writer saves the pages between two failures together; the archive must say what saving
    them in order says: a source that failed and then brought a page again (watch retries) is
    cleared, one whose failure came last keeps it, and every page's posts and cursor are saved."""
    from plnfilter.errors import SourceError
    from plnfilter.filterfile import load
    from plnfilter.pipeline import RunReport, SourceReport, save_batch
    from plnfilter.rules import compile_rules
    from plnfilter.sources import Page

    path = tmp_path / "f.yaml"
    path.write_text("name: f\nsources:\n  - file: x.json\ninclude:\n  - name: all\n    tags: [edtech]\n")
    filter_file = load(path)
    report = RunReport(sources={t.name: SourceReport(t.name) for t in (T1, T2)})
    batch = [
        (T1, Page([make_post(1)], "a1")),
        (T2, Page([make_post(2)], "b1")),
        (T1, SourceError(T1.name, "HTTP 503", "try later")),
        (T2, SourceError(T2.name, "HTTP 502", "try later")),
        (T1, Page([make_post(3), make_post(2)], "a2")),
    ]
    saved = save_batch(db, batch, compile_rules(filter_file), filter_file.rank, report, "f")
    assert [(timeline.name, count) for timeline, _, count in saved] == [
        (T1.name, 1),
        (T2.name, 1),
        (T1.name, 2),
    ]
    sources = {row["name"]: row for row in list_sources(db)}
    assert (sources[T1.name]["cursor"], sources[T1.name]["last_error"]) == ("a2", None)
    assert (sources[T2.name]["cursor"], sources[T2.name]["last_error"]) == (
        "b1",
        f"source {T2.name}: HTTP 502; try later",
    )
    assert (report.sources[T1.name].new, report.sources[T2.name].new) == (2, 1)
    kept = db.conn.execute("SELECT count(*) FROM verdicts WHERE \"filter\" = 'f' AND kept = 1").fetchone()[0]
    assert kept == 3


def test_a_busy_writer_commits_waiting_batches_together_with_their_cursors(db, tmp_path):
    """`save_arriving` keeps one transaction open while more pages wait behind a batch: what it
    yields is committed; what it had not committed when it failed is rolled back whole, posts and
    cursors together (as a kill would), and the next run fetches those pages again."""
    from plnfilter.fetching import Batch
    from plnfilter.filterfile import load
    from plnfilter.pipeline import RunReport, SourceReport, save_arriving
    from plnfilter.rules import compile_rules
    from plnfilter.sources import Page

    path = tmp_path / "f.yaml"
    path.write_text("name: f\nsources:\n  - file: x.json\ninclude:\n  - name: all\n    tags: [edtech]\n")
    filter_file = load(path)
    report = RunReport(sources={t.name: SourceReport(t.name) for t in (T1, T2)})
    busy, idle = (lambda: True), (lambda: False)
    seen_by_reader: list[bool] = []

    def batches():
        yield Batch([(T1, Page([make_post(1)], "a1"))], busy)
        seen_by_reader.append(db.conn.in_transaction)  # still open: the writer was busy
        yield Batch([(T2, Page([make_post(2)], "b1"))], idle)
        seen_by_reader.append(db.conn.in_transaction)  # committed once nothing waited
        yield Batch([(T1, Page([make_post(3)], "a2"))], busy)
        raise RuntimeError("killed")

    ruleset = compile_rules(filter_file)
    saving = save_arriving(db, batches(), ruleset, filter_file.rank, report, "f")
    first = next(saving)
    assert [(timeline.name, page.cursor) for timeline, page, _ in first] == [(T1.name, "a1"), (T2.name, "b1")]
    with pytest.raises(RuntimeError):
        next(saving)
    assert seen_by_reader == [True, False]
    assert not db.conn.in_transaction
    assert {row["name"]: row["cursor"] for row in list_sources(db)} == {T1.name: "a1", T2.name: "b1"}
    assert db.conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 2


# --- re-judging, sources, runs


def test_update_judgements_while_reading_posts_from_the_same_connection(db):
    save_page(
        db, T1, judged(*(make_post(n) for n in range(10)), kept=True, score=1.0), None, "2026-11-26T10:00:00Z"
    )

    def rejudge():
        for post in iter_posts(db.conn):
            yield Judged(
                post, post.likes % 2 == 0, float(post.likes), ("even",) if post.likes % 2 == 0 else ()
            )

    changed = update_judgements(db, rejudge(), batch_size=3)
    assert changed == 10
    verdicts = "SELECT {} FROM posts JOIN verdicts ON verdicts.post_id = posts.id WHERE "
    kept = {row[0] for row in db.conn.execute(verdicts.format("likes") + "verdicts.kept = 1")}
    assert kept == {0, 2, 4, 6, 8}
    assert json.loads(db.conn.execute(verdicts.format("matched") + "likes = 4").fetchone()[0]) == ["even"]
    # the same verdicts again leave them as they were (each one stamped as judged again)
    before = db.conn.execute("SELECT post_id, kept, score, matched FROM verdicts ORDER BY post_id").fetchall()
    assert update_judgements(db, rejudge()) == 10
    assert (
        db.conn.execute("SELECT post_id, kept, score, matched FROM verdicts ORDER BY post_id").fetchall()
        == before
    )
    assert update_judgements(db, [(make_post(3).uri, True, 9.0, ["x"])]) == 1
    check_fts(db)


def test_source_error_keeps_the_cursor_and_a_good_page_clears_it(db):
    save_page(db, T1, judged(make_post(1)), "c1", "2026-11-26T10:00:00Z")
    record_source_error(
        db, T1.name, T1.network, T1.spec, "HTTP 503 from example.social", "2026-11-26T11:00:00Z"
    )
    record_source_error(db, T2.name, T2.network, T2.spec, "timed out", "2026-11-26T11:00:00Z")
    by_name = {row["name"]: row for row in list_sources(db)}
    assert by_name[T1.name]["cursor"] == "c1"
    assert by_name[T1.name]["last_error"] == "HTTP 503 from example.social"
    assert by_name[T1.name]["posts"] == 1
    assert by_name[T2.name]["cursor"] is None
    save_page(db, T1, [], None, "2026-11-26T12:00:00Z")
    row = {r["name"]: r for r in list_sources(db)}[T1.name]
    assert (row["cursor"], row["last_error"], row["last_run"]) == ("c1", None, "2026-11-26T12:00:00Z")


def test_runs_are_recorded_newest_first(db):
    first = start_run(db, "filters/pln.yaml", "2026-11-26T10:00:00Z")
    finish_run(db, first, "2026-11-26T10:01:00Z", 10, 4, 3, [], "ok", {T1.name: {"fetched": 10}})
    second = start_run(db, "filters/pln.yaml", "2026-11-26T11:00:00Z")
    finish_run(db, second, "2026-11-26T11:01:00Z", 5, 0, 0, ["source x: HTTP 503"], "partial", {})
    third = start_run(db, "filters/pln.yaml", "2026-11-26T12:00:00Z")
    runs = list_runs(db, limit=2)
    assert [r["id"] for r in runs] == [third, second]
    assert runs[0]["status"] == "running"
    assert runs[1]["errors"] == ["source x: HTTP 503"]
    assert list_runs(db, limit=None)[-1]["per_source"] == {T1.name: {"fetched": 10}}


def test_vacuum_keeps_search_working(db):
    save_page(db, T1, judged(*(make_post(n) for n in range(20))), None, "2026-11-26T10:00:00Z")
    db.conn.execute("DELETE FROM posts WHERE likes < 10")
    db.conn.commit()
    db.conn.execute("VACUUM")
    assert fts_uris(db, "number") == {make_post(n).uri for n in range(10, 20)}
    check_fts(db)


def test_reader_is_not_blocked_by_an_open_write_transaction(tmp_path, db):
    save_page(db, T1, judged(make_post(1)), None, "2026-11-26T10:00:00Z")
    db.conn.execute("BEGIN IMMEDIATE")
    db.conn.execute("UPDATE posts SET likes = 99")
    reader = open_readonly(tmp_path / "archive.db")
    assert reader.execute("SELECT likes FROM posts").fetchone()[0] == 1
    db.conn.execute("ROLLBACK")
    reader.close()


# --- posts normalised from captured API JSON, when the fixtures exist

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture_posts() -> list[Post]:
    found: list[Post] = []
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        items = (
            data
            if isinstance(data, list)
            else data.get("feed") or data.get("posts") or []
            if isinstance(data, dict)
            else []
        )
        for item in items if isinstance(items, list) else []:
            found.extend(_to_post(item))
    return found


def _to_post(item) -> list[Post]:
    try:
        if isinstance(item, dict) and "account" in item and "uri" in item:
            from plnfilter.sources.mastodon.normalize import to_post

            return [to_post(item, "example.social")]
        if isinstance(item, dict) and ("post" in item or str(item.get("uri", "")).startswith("at://")):
            from plnfilter.sources.bluesky.normalize import to_post

            return [to_post(item)]
    except Exception:  # a fixture this test does not understand is not this test's business
        return []
    return []


def test_captured_posts_round_trip(db):
    captured = _fixture_posts()
    assert captured, "no captured post fixtures in tests/fixtures"
    save_page(db, T1, judged(*captured), None, "2026-11-26T10:00:00Z")
    # The same post captured twice (say, in a list feed and as someone's repost) is one row: the
    # latest capture's fields, with every reposter kept.
    expected: dict[str, Post] = {}
    for post in captured:
        earlier = expected.get(post.uri)
        reposters = tuple(dict.fromkeys((earlier.reposted_by if earlier else ()) + post.reposted_by))
        expected[post.uri] = replace(post, reposted_by=reposters)
    saved = list(iter_posts(db))
    assert len(saved) == len(expected)
    for post in saved:
        assert post == expected[post.uri]
    check_fts(db)


def test_readonly_connection_cannot_write(tmp_path, db):
    save_page(db, T1, judged(make_post(1)), None, "2026-11-26T10:00:00Z")
    reader = open_readonly(tmp_path / "archive.db")
    with pytest.raises(sqlite3.DatabaseError):
        reader.execute("DELETE FROM posts")
    assert db.conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 1
    reader.close()


def test_raw_json_keeps_what_orjson_refuses():
    """Hand-written hostile raw objects: lone surrogates, huge integers, non-string keys, datetimes."""
    import datetime

    from plnfilter.store.rows import dump_raw

    for raw in (
        {"text": "\ud800 lone"},
        {"id": 2**70},
        {1: "int key"},
        {"at": datetime.datetime(2026, 1, 1)},
    ):
        text = dump_raw(raw)
        assert json.loads(text) == json.loads(json.dumps(raw, default=str))
    assert dump_raw({"text": "café"}) == '{"text":"café"}'


def test_raw_blobs_are_zlib_streams_and_those_zlib_wrote_before_still_read(db, tmp_path):
    """The raw JSON is compressed by ISA-L since it was the largest cost of a fetched post; what it
    writes is a zlib stream any tool opens with `zlib` and the dictionary, hostile or large content
    included, and the blobs zlib wrote with the dictionary still read (plain zlib ones: test_migrations)."""
    import shutil
    import zlib

    from plnfilter.store.raw_dictionary import RAW_DICTIONARY
    from plnfilter.store.rows import dump_raw

    raws = [
        {"content": "\ud800 lone \x00 \x1b[31m'; DROP TABLE posts; --", "emoji": "\U0001f393"},
        {"content": "".join(chr(32 + (n * 7919) % 30000) for n in range(200_000))},  # past the window
        {},
    ]
    posts = [make_post(n, raw=raw) for n, raw in enumerate(raws, 1)]
    save_page(db, T1, judged(*posts), None, "2026-11-26T10:00:00Z")
    blobs = dict(db.conn.execute("SELECT p.uri, r.raw FROM post_raw r JOIN posts p ON p.id = r.post_id"))
    for post in posts:
        blob = blobs[post.uri]
        inflater = zlib.decompressobj(zdict=RAW_DICTIONARY)
        assert inflater.decompress(blob) == dump_raw(post.raw).encode("utf-8", "surrogatepass")
        assert inflater.eof and not inflater.unused_data
        assert get_post(db, post.uri).raw == post.raw

    # schema-011.db was written by zlib (level 6, the dictionary): each blob reads as zlib reads it
    path = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "fixtures" / "archives" / "schema-011.db", path)
    conn = sqlite3.connect(path)
    try:
        old = dict(conn.execute("SELECT p.uri, r.raw FROM post_raw r JOIN posts p ON p.id = r.post_id"))
    finally:
        conn.close()
    reader = open_readonly(path)
    try:
        read = {post.uri: post.raw for post in iter_posts(reader)}
    finally:
        reader.close()
    assert len(old) == 72
    assert read == {
        uri: json.loads(zlib.decompressobj(zdict=RAW_DICTIONARY).decompress(b)) for uri, b in old.items()
    }


def test_the_writer_keeps_a_page_cache_of_8_mb_whatever_the_archive(tmp_path):
    # A saved post lands on random pages of six indexes: past ~10k posts no affordable cache holds
    # them, so a larger one only grew the writer with the archive (benchmarks/README.md, ingest2).
    db = open_archive(tmp_path / "a.db")
    try:
        assert db.execute("PRAGMA cache_size").fetchone()[0] == -8192
    finally:
        db.conn.close()
