"""Selecting from the archive: flags, full-text search that never breaks, and SQL that cannot write."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from plnfilter.errors import ArchiveError, UsageError
from plnfilter.post import Post
from plnfilter.query import ALL_COLUMNS, OUTPUT_COLUMNS, Selection, fts_query, get_row, select
from plnfilter.store import Judged, iter_posts, open_archive, open_readonly, save_page


@dataclass
class FakeTimeline:
    name: str = "file:samples.json"
    network: str = "file"
    spec: str = "file: samples.json"


POSTS = [
    # (post, kept, score)
    (
        Post(
            uri="https://example.social/users/kate/statuses/1",
            network="mastodon",
            url="https://example.social/@kate/1",
            author="kate@example.social",
            author_name="Kate",
            author_id="https://example.social/@kate",
            created_at="2026-11-20T09:00:00Z",
            text="Open educational resources for maths teachers",
            tags=("edtech", "oer"),
            lang="en",
            likes=10,
        ),
        True,
        5.0,
    ),
    (
        Post(
            uri="at://did:plc:adjoa/app.bsky.feed.post/3k1",
            network="bluesky",
            url="https://bsky.app/profile/adjoa.bsky.social/post/3k1",
            author="adjoa.bsky.social",
            author_name="Adjoa",
            author_id="did:plc:adjoa",
            created_at="2026-11-22T09:00:00Z",
            text="Slides from my LIKE69 panel on feedback",
            tags=("like69",),
            lang="en",
            likes=3,
        ),
        True,
        9.0,
    ),
    (
        Post(
            uri="https://other.social/users/jonas/statuses/2",
            network="mastodon",
            author="jonas@other.social",
            created_at="2026-11-24T09:00:00Z",
            text="Lernen mit offenen Bildungsmaterialien",
            tags=("EdTech",),
            lang="de",
        ),
        True,
        1.0,
    ),
    (
        Post(
            uri="https://spam.social/users/bot/statuses/3",
            network="mastodon",
            author="bot@spam.social",
            created_at="2026-11-25T09:00:00Z",
            text="Giveaway! airdrop open now",
            tags=("edtech", "crypto"),
        ),
        False,
        0.0,
    ),
]


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "archive.db"
    db = open_archive(path)
    save_page(
        db,
        FakeTimeline(),
        [Judged(p, k, s, ("topics",) if k else ()) for p, k, s in POSTS],
        "c",
        "2026-11-26T00:00:00Z",
    )
    db.close()
    return path


@pytest.fixture
def conn(archive):
    connection = open_readonly(archive)
    yield connection
    connection.close()


def uris(rows) -> list[str]:
    return [row["uri"] for row in rows]


def test_default_selection_is_kept_posts_best_first_with_stable_columns(conn):
    rows = list(select(conn, Selection()))
    assert uris(rows) == [POSTS[1][0].uri, POSTS[0][0].uri, POSTS[2][0].uri]
    assert all(tuple(row) == OUTPUT_COLUMNS for row in rows)
    first = rows[0]
    assert first["tags"] == ["like69"]
    assert first["kept"] is True
    assert first["matched"] == ["topics"]
    assert "raw" not in first and "html" not in first


def test_select_streams_from_a_cursor(conn):
    rows = select(conn, Selection(kept=None))
    assert next(iter(rows))["uri"]
    assert not isinstance(rows, list)


def test_columns_can_include_raw_and_html(conn):
    (row,) = select(conn, Selection(columns=("uri", "html", "raw"), limit=1))
    assert set(row) == {"uri", "html", "raw"}
    assert row["raw"] == {}
    with pytest.raises(UsageError, match="unknown column"):
        list(select(conn, Selection(columns=("uri", "password"))))


def test_full_text_search_needs_every_word(conn):
    assert uris(select(conn, Selection(text="educational maths"))) == [POSTS[0][0].uri]
    assert uris(select(conn, Selection(text="educational feedback"))) == []
    assert uris(select(conn, Selection(text="adjoa"))) == [POSTS[1][0].uri]  # author is indexed
    assert uris(select(conn, Selection(text="OPEN", kept=None, order="oldest"))) == [
        POSTS[0][0].uri,
        POSTS[3][0].uri,
    ]


def test_relevance_order(conn):
    rows = list(select(conn, Selection(text="open", kept=None, order="relevance")))
    assert set(uris(rows)) == {POSTS[0][0].uri, POSTS[3][0].uri}


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '""',
        "*",
        "open*",
        "NEAR(",
        "NEAR(open maths",
        "-",
        "-open",
        "AND",
        "OR",
        "NOT open",
        "open AND",
        "text:open",
        "^open",
        "(open",
        "open)",
        "{text}: open",
        "'; DROP TABLE posts; --",
        "\x00",
        "\ud800",
        "🎓",
        "",
    ],
)
def test_hostile_search_text_never_raises(conn, hostile):
    rows = list(select(conn, Selection(text=hostile, kept=None)))
    assert isinstance(rows, list)
    assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 4


def test_operators_are_searched_as_words(conn):
    assert fts_query('open "maths') == '"open" """maths"'
    assert fts_query("- * ( )") is None
    assert uris(select(conn, Selection(text="open AND maths"))) == []  # "AND" is a word no post contains
    assert uris(select(conn, Selection(text="- * ()", kept=None))) == []


def test_tags_match_case_insensitively_and_any_of_several(conn):
    assert set(uris(select(conn, Selection(tags=("#EDTECH",))))) == {POSTS[0][0].uri, POSTS[2][0].uri}
    assert set(uris(select(conn, Selection(tags=("oer", "like69"))))) == {POSTS[0][0].uri, POSTS[1][0].uri}
    assert uris(select(conn, Selection(tags=("crypto",)))) == []
    assert uris(select(conn, Selection(tags=("crypto",), kept=False))) == [POSTS[3][0].uri]


@pytest.mark.parametrize(
    "author, expected",
    [
        ("kate@example.social", 0),
        ("@Kate@Example.Social", 0),
        ("kate", 0),
        ("adjoa.bsky.social", 1),
        ("did:plc:adjoa", 1),
        ("https://example.social/@kate", 0),
    ],
)
def test_author_matches_address_handle_or_id(conn, author, expected):
    assert uris(select(conn, Selection(authors=(author,)))) == [POSTS[expected][0].uri]


def test_author_like_wildcards_are_not_wildcards(conn):
    assert uris(select(conn, Selection(authors=("%",)))) == []
    assert uris(select(conn, Selection(authors=("k_te",)))) == []


def test_network_lang_dates_kept_order_limit(conn):
    assert set(uris(select(conn, Selection(network="bluesky")))) == {POSTS[1][0].uri}
    assert set(uris(select(conn, Selection(lang="DE")))) == {POSTS[2][0].uri}
    since = uris(select(conn, Selection(since="2026-11-22T09:00:00Z", order="oldest")))
    assert since == [POSTS[1][0].uri, POSTS[2][0].uri]
    until = uris(select(conn, Selection(until=datetime(2026, 11, 22, 9, tzinfo=UTC))))
    assert until == [POSTS[0][0].uri]
    assert len(list(select(conn, Selection(kept=None)))) == 4
    assert uris(select(conn, Selection(kept=False))) == [POSTS[3][0].uri]
    assert uris(select(conn, Selection(order="newest", kept=None, limit=2))) == [
        POSTS[3][0].uri,
        POSTS[2][0].uri,
    ]
    assert list(select(conn, Selection(limit=0))) == []


def test_bad_selection_values_are_usage_errors(conn):
    with pytest.raises(UsageError, match="order"):
        list(select(conn, Selection(order="random")))
    with pytest.raises(UsageError, match="not a date"):
        list(select(conn, Selection(since="last tuesday")))
    with pytest.raises(UsageError):
        list(select(conn, Selection(limit=-1)))


def test_user_sql_reads_and_decodes_json_columns(conn):
    rows = list(
        select(
            conn,
            Selection(
                sql="SELECT uri, tags, kept FROM posts JOIN verdicts ON verdicts.post_id = posts.id "
                "WHERE network = 'bluesky'"
            ),
        )
    )
    assert rows == [{"uri": POSTS[1][0].uri, "tags": ["like69"], "kept": True}]
    counts = list(
        select(conn, Selection(sql="SELECT author, count(*) AS n FROM posts GROUP BY author ORDER BY author"))
    )
    assert counts[0] == {"author": "adjoa.bsky.social", "n": 1}
    fts = list(select(conn, Selection(sql="SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'slides'")))
    assert len(fts) == 1
    info = list(select(conn, Selection(sql="SELECT name FROM pragma_table_info('posts')")))
    assert {"uri", "text"} <= {r["name"] for r in info}  # raw: in post_raw, compressed (m007)


def _fingerprint(path) -> str:
    db = open_archive(path)
    rows = db.conn.execute("SELECT * FROM posts ORDER BY id").fetchall()
    schema = db.conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    settings = (
        db.conn.execute("PRAGMA journal_mode").fetchall() + db.conn.execute("PRAGMA user_version").fetchall()
    )
    db.close()
    return hashlib.sha256(repr((rows, schema, settings)).encode()).hexdigest()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO posts (uri, network) VALUES ('x', 'mastodon')",
        "UPDATE verdicts SET kept = 1",
        "DELETE FROM posts",
        "DROP TABLE posts",
        "CREATE TABLE evil (x)",
        "ALTER TABLE posts ADD COLUMN evil TEXT",
        "ATTACH DATABASE '{tmp}/evil.db' AS evil",
        "VACUUM INTO '{tmp}/copy.db'",
        "PRAGMA query_only = OFF",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA user_version = 7",
        "PRAGMA writable_schema = ON",
        "INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')",
        "REINDEX",
        "WITH x AS (SELECT 1) DELETE FROM posts",
        "SELECT load_extension('/tmp/evil.so')",
    ],
)
def test_user_sql_cannot_change_the_archive(archive, conn, tmp_path, statement):
    before = _fingerprint(archive)
    with pytest.raises(ArchiveError) as caught:
        list(select(conn, Selection(sql=statement.format(tmp=tmp_path))))
    assert "may only read" in caught.value.message
    assert _fingerprint(archive) == before
    assert not (tmp_path / "evil.db").exists()
    assert not (tmp_path / "copy.db").exists()


def test_user_sql_mistakes_are_usage_errors(conn):
    with pytest.raises(UsageError, match="single SELECT"):
        list(select(conn, Selection(sql="SELECT 1; DELETE FROM posts")))
    with pytest.raises(UsageError, match="no such table"):
        list(select(conn, Selection(sql="SELECT * FROM tweets")))


def test_get_row_and_iter_posts_with_a_selection(conn):
    row = get_row(conn, POSTS[1][0].uri)
    assert row["score"] == 9.0 and row["raw"] == {} and row["matched"] == ["topics"]
    assert get_row(conn, "at://nothing") is None
    posts = list(iter_posts(conn, Selection(tags=("edtech",), kept=None, order="oldest")))
    assert [p.uri for p in posts] == [POSTS[0][0].uri, POSTS[2][0].uri, POSTS[3][0].uri]
    assert posts[0] == POSTS[0][0]
    assert [p.uri for p in iter_posts(conn, "likes > ?", [5])] == [POSTS[0][0].uri]


def test_all_columns_are_real_columns(conn):
    (row,) = select(conn, Selection(columns=ALL_COLUMNS, limit=1))
    assert tuple(row) == ALL_COLUMNS


def _hostile_archive(tmp_path):
    """The sample posts, one hostile post, and cells another tool damaged."""
    import sqlite3

    hostile = Post(
        uri="https://evil.example/users/x/statuses/9",
        network="mastodon",
        author="x@evil.example",
        created_at="2026-11-23T09:00:00Z",
        author_name="+1 caller",
        html="@SUM(A1)",
        text='=HYPERLINK("x") line\u2028sep\u2029para "quoted" \\ back\x00nul\x01\x1f\ttab\nnew 🎓 é </script>',
        tags=("-edtech", "edtech", 'we"ird', "\u2028"),
        links=("https://evil.example/?a=1&b=</script>",),
        spoiler="\x7f",
        sensitive=True,
    )
    path = tmp_path / "archive.db"
    db = open_archive(path)
    judged = [Judged(p, k, s, ("topics",) if k else ()) for p, k, s in POSTS]
    judged.append(Judged(hostile, True, 0.1 + 0.2, ("a", "b")))
    save_page(db, FakeTimeline(), judged, "c", "2026-11-26T00:00:00Z")
    db.close()
    damage = sqlite3.connect(path)  # cells another tool wrote: lists that are not JSON arrays, a NULL flag
    damage.execute(
        "UPDATE posts SET links = 'not json', media_alt = '{\"a\": 1}', has_media = NULL WHERE uri = ?",
        [POSTS[2][0].uri],
    )
    damage.commit()
    damage.close()
    return path


_READY_SELECTIONS = (
    Selection(kept=None),
    Selection(text="edtech"),
    Selection(columns=("score", "uri", "html", "kept", "score", "tags"), kept=None),
    Selection(columns=("score",), kept=None),
)


def test_jsonl_lines_built_by_sqlite_equal_the_decoded_rows(tmp_path):
    """`plnfilter query --format jsonl` takes its lines from SQLite: same JSON as the dicts, hostile text too."""
    import json

    from plnfilter.export import write

    conn = open_readonly(_hostile_archive(tmp_path))
    for selection in _READY_SELECTIONS:
        rows = list(select(conn, selection))
        lines = select(conn, selection).json_lines()
        if selection.columns and len(set(selection.columns)) < len(selection.columns):
            assert lines is None  # a column named twice is one dict key: the dicts decide
        else:
            lines = list(lines)
            assert len(lines) == len(rows) > 0
            assert [json.loads(line) for line in lines] == rows
        out = io.StringIO()
        assert write(select(conn, selection), "jsonl", out) == len(rows)
        text = out.getvalue()
        assert "\u2028" not in text and "\u2029" not in text
        assert [json.loads(line) for line in text.splitlines()] == rows
    (row,) = [r for r in select(conn, Selection(kept=None)) if r["uri"] == POSTS[2][0].uri]
    assert row["links"] == [] and row["media_alt"] == [] and row["has_media"] is None
    conn.close()


def _damaged_everywhere(tmp_path):
    """`_hostile_archive` with a cell of every awkward kind another tool could leave in each kind of
    column: a BLOB, a REAL or text where a count or a flag belongs, lists that are almost plain,
    commas, quotes, control characters and formula starts outside the free-text columns."""
    import sqlite3

    path = _hostile_archive(tmp_path)
    db = open_archive(path)
    more = [
        Post(
            uri=f"https://example.social/users/kate/statuses/{100 + n}",
            network="mastodon",
            author="kate@example.social",
            author_name=f"Kate, {n}",
            created_at=f"2026-11-{10 + n:02d}T09:00:00Z",
            text=f'post {n}, with "quotes", commas\nand lines',
            tags=("edtech", "pln"),
            links=(f"https://oer.example/{n}",),
            media_alt=("a chart",) if n % 2 else (),
            likes=n,
        )
        for n in range(20)
    ]
    save_page(
        db,
        FakeTimeline(),
        [Judged(p, n % 3 > 0, n / 7, ("topics",)) for n, p in enumerate(more)],
        None,
        "2026-11-26T00:00:00Z",
    )
    db.close()
    damage = sqlite3.connect(path)
    uris = [row[0] for row in damage.execute("SELECT uri FROM posts ORDER BY id DESC")]
    changes = [  # one cell a row, so each must send its row to the slow path on its own
        ("uri", "=cmd|' /C calc'!A0"),
        ("likes", 0.1 + 0.2),
        ("author", b"\xff\x00 not text"),
        ("reposts", "=1+1"),
        ("has_media", 0.5),
        ("url", "https://a.example/x,y"),
        ("tags", '["a",1,"b"]'),
        ("links", '["a"]x["b"]'),
        ("replies", -3),
        ("tags", '["tab\there"]'),
        ("lang", "@en"),
        ("reposted_by", '["x","y, z"]'),
        ("source", 'we"ird'),
        ("media_alt", '["a",["b"]]'),
        ("author_followers", b"blob"),
        ("author_name", b"\x01"),
    ]
    for (column, value), uri in zip(changes, uris[1:17], strict=True):
        damage.execute(f"UPDATE posts SET {column} = ? WHERE uri = ?", [value, uri])  # noqa: S608
    damage.execute("UPDATE verdicts SET score = 'high' WHERE post_id = (SELECT max(id) FROM posts)")
    damage.commit()
    damage.close()
    return path


def test_csv_lines_made_by_sqlite_equal_the_cells_of_the_rows(tmp_path):
    """`export --format csv` takes whole lines from SQLite (`store.csv_lines`): byte for byte what the
    row dicts give, for every cell another tool damaged too; most rows never reach the csv module."""
    from plnfilter.export import write
    from plnfilter.export.to_csv import _number_cells

    conn = open_readonly(_damaged_everywhere(tmp_path))
    selections = (
        *_READY_SELECTIONS,
        Selection(columns=("text", "score", "html", "media_alt", "likes", "kept"), kept=None),
        Selection(columns=("uri", "author"), kept=None, order="oldest"),
        Selection(columns=("score", "uri"), kept=False),
    )
    for selection in selections:
        from_dicts, from_lines = io.StringIO(), io.StringIO()
        rows = list(select(conn, selection))
        assert write(iter(rows), "csv", from_dicts) == len(rows)
        assert write(select(conn, selection), "csv", from_lines) == len(rows)
        assert from_lines.getvalue() == from_dicts.getvalue(), selection
    made = list(select(conn, Selection(kept=None)).csv_lines(_number_cells))
    lines = sum(item[1] for item in made if isinstance(item, tuple))
    slow = [item for item in made if isinstance(item, dict)]
    assert lines + len(slow) == len(POSTS) + 1 + 20
    # Slow: the 16 damaged cells, the score made text, the hostile post's escaped tags and the
    # sample post whose links are not JSON; every other row is a line SQLite made.
    assert len(slow) == 19
    assert select(conn, Selection(columns=("uri", "uri"), kept=None)).csv_lines(_number_cells) is None
    conn.close()


def test_csv_of_one_column_writes_every_damaged_cell_as_the_rows_do(tmp_path):
    """`export --columns C` with one column: each column's CSV, damaged cells included, is byte for
    byte what the row dicts give (a nested list in a list cell reads `a ['b']`, as in every other
    export, not as JSON)."""
    from click.testing import CliRunner

    from plnfilter.cli import cli
    from plnfilter.export import write

    path = _damaged_everywhere(tmp_path)
    conn = open_readonly(path)
    for name in ALL_COLUMNS:
        if name == "raw":
            continue
        selection = Selection(columns=(name,), kept=None)
        from_dicts, from_export = io.StringIO(), io.StringIO()
        rows = list(select(conn, selection))
        assert write(iter(rows), "csv", from_dicts) == len(rows)
        assert write(select(conn, selection), "csv", from_export) == len(rows)
        assert from_export.getvalue() == from_dicts.getvalue(), name
    conn.close()
    args = ["export", "--all", "--format", "csv", "--columns", "media_alt", "--db", str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "a ['b']" in result.stdout.splitlines() and '["b"]' not in result.stdout


def test_csv_cells_built_by_sqlite_equal_the_cells_of_the_rows(tmp_path):
    """CSV export takes its cells from SQLite: byte for byte what the row dicts give, formulas neutralised."""
    from plnfilter.export import write

    conn = open_readonly(_hostile_archive(tmp_path))
    for selection in _READY_SELECTIONS:
        from_dicts, from_sqlite = io.StringIO(), io.StringIO()
        rows = list(select(conn, selection))
        assert write(iter(rows), "csv", from_dicts) == len(rows)
        assert write(select(conn, selection), "csv", from_sqlite) == len(rows)
        assert from_sqlite.getvalue() == from_dicts.getvalue()
    conn.close()
