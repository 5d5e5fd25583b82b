"""Search like a catalogue, through the CLI, on a fixed archive: every bundled sample plus hand-written
posts (CJK, Thai, diacritics composed and decomposed, plurals, a hostile post); the query table below
is what `plnfilter query TEXT` must return (exit code and the posts, by the last part of their uri)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from plnfilter.store import open_archive

FILTER = Path(__file__).parent / "fixtures" / "search" / "search-filter.yaml"
HOSTILE = "hostile"


def plnfilter(*args, env_extra: dict | None = None, columns: int = 120) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "COLUMNS": str(columns), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "plnfilter", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("search") / "search.db"
    result = plnfilter("run", FILTER, "--db", path)
    assert result.returncode == 0, result.stderr
    return path


def found(archive: Path, *args: str) -> tuple[int, list[str], str]:
    """Exit code, the found posts (last part of each uri) in order, and stderr."""
    result = plnfilter("query", "--all", "--db", archive, "--format", "jsonl", "--columns", "uri", *args)
    keys = [json.loads(line)["uri"].rstrip("/").rsplit("/", 1)[-1] for line in result.stdout.splitlines()]
    return result.returncode, keys, result.stderr


# query (and flags) -> the posts found; hand-written posts are named, sample posts by status id / rkey.
TABLE = [
    # CJK and Thai words inside runs without spaces
    (("授業",), {"1795722711870", "3n3agxyoqzc22", "3n3agxz5vfc22", "ja-class"}),
    (("図書館",), {"ja-class"}),
    (("图书馆",), {"zh-library"}),
    (("수업",), {"ko-class"}),
    (("ห้องสมุด",), {"th-library"}),
    (("เรียนรู้",), {"th-library"}),
    (("館",), {"ja-class"}),  # one character: the start or the end of a run's bigram
    (("授業 図書館",), {"ja-class"}),
    (("授業 -図書館",), {"1795722711870", "3n3agxyoqzc22", "3n3agxz5vfc22"}),
    # diacritics folded, composed or decomposed in the post
    (("cafe pedagogique",), {"fr-cafe"}),
    (("café",), {"fr-cafe"}),
    (("naive",), {"nfd-naive"}),
    (("naïve universita",), {"nfd-naive"}),
    (("lehrkrafte",), {"de-lehrkraefte"}),
    (("educatives",), {"3n3agxyo6hk22", "fr-cafe"}),
    # plurals and inflections (stemmed), and the exact form on request
    (("librarians",), {"en-teaching"}),
    (("teach",), {"1795722711839", "1795722711909", "3n3agxwhuhk22", "3n3agxzuxoc22", "en-teaching"}),
    (("teach", "--exact"), set()),
    (("open textbook", "--exact"), {"1795722711914", "3n3agxykuyk22"}),
    # phrases
    (('"citation skills"',), {"en-teaching"}),
    (('"skills citation"',), set()),
    (("\u201ccitation skills\u201d",), {"en-teaching"}),  # typographic quotes typed on a phone
    (("\u201cskills citation\u201d",), set()),
    # boolean
    (
        ("(AI OR podcasting) feedback",),
        {
            "1795722711906",
            "1795722711960",
            "1795722711985",
            "1795722712002",
            "1795722712011",
            "1795722712040",
            "1795722712127",
            "3n3agxym7xk22",
        },
    ),  # fmt: skip
    (
        ("feedback -AI",),
        {
            "1795722711836",
            "1795722711931",
            "3n3agxvygd222",
            "3n3agxwb7l222",
            "3n3agxz4mes22",
            "3n3agxzifdc22",
            "3n3agxzmaes22",
            "3n3agxzoybc22",
            "3n3agxzvszc22",
            "3n3agxzwsbc22",
        },
    ),  # fmt: skip
    (
        ("(rubric OR lehrkrafte) -markup",),
        {"1795722711925", "3n3agxyqiok22", "3n3agxzs4u222", "de-lehrkraefte"},
    ),
    (
        ("rubric OR lehrkrafte -markup",),
        {  # AND binds tighter: rubric OR (lehrkrafte -markup)
            "1795722711925",
            "3n3agxyqiok22",
            "3n3agxzs4u222",
            "de-lehrkraefte",
            HOSTILE,
        },
    ),  # fmt: skip
    # hashtags: only the post's tags
    (("#fortbildung",), {"de-lehrkraefte"}),
    (("#ÉducationOuverte",), {"fr-cafe"}),
    (("#rubric",), {HOSTILE}),
    # FTS5 syntax typed by a user is searched as text, never obeyed
    (("text:open",), set()),
    (("^citation",), {"en-teaching"}),
    (("NEAR/2",), set()),
]


@pytest.mark.parametrize("args, expected", TABLE, ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_search_table(archive, args, expected):
    code, keys, stderr = found(archive, *args)
    assert code == 0, stderr
    assert set(keys) == expected
    assert len(keys) == len(set(keys))


def _oracle(archive: Path, pattern: str) -> set[str]:
    """The posts whose text, author, tags or content warning `pattern` finds (an independent check)."""
    wanted = re.compile(pattern, re.IGNORECASE)
    conn = sqlite3.connect(archive)
    try:
        rows = conn.execute("SELECT uri, text, author, tags, spoiler FROM posts").fetchall()
    finally:
        conn.close()
    return {
        uri.rstrip("/").rsplit("/", 1)[-1]
        for uri, *fields in rows
        if wanted.search(" ".join(f or "" for f in fields))
    }


@pytest.mark.parametrize(
    "query, pattern",
    [
        ("librar*", r"\blibrar"),
        ("AI OR podcasting", r"\bais?\b|\bpodcast(s|ing|ed)?\b"),
        ("open textbook", r"^(?=.*\bopen(s|ed|ing)?\b)(?=.*\btextbooks?\b)"),
    ],
)
def test_the_complaints_of_issue_13_find_what_a_reader_would(archive, query, pattern):
    code, keys, _ = found(archive, query)
    expected = _oracle(archive, pattern)
    assert code == 0 and len(expected) >= 5
    assert set(keys) == expected


def test_plural_and_singular_find_the_same_posts(archive):
    assert set(found(archive, "open textbook")[1]) == set(found(archive, "open textbooks")[1])
    exact = set(found(archive, "open textbook", "--exact")[1])
    assert exact and exact < set(found(archive, "open textbook")[1])


def test_a_hashtag_searches_tags_only(archive):
    tagged = set(found(archive, "#edtech")[1])
    conn = sqlite3.connect(archive)
    try:
        expected = {
            uri.rstrip("/").rsplit("/", 1)[-1]
            for (uri,) in conn.execute(
                "SELECT uri FROM posts WHERE EXISTS (SELECT 1 FROM json_each(tags) WHERE lower(value) = 'edtech')"
            )
        }
    finally:
        conn.close()
    assert tagged == expected and len(expected) > 20
    assert set(found(archive, "edtech")[1]) > tagged  # the word, also in text


@pytest.mark.parametrize(
    "query, problem",
    [
        ('"open textbook', "quote at character 1 is never closed"),
        ("(AI OR podcasting", "'(' is never closed"),
        ("podcasting)", "')' has no '('"),
        ("AI OR", "OR needs a word after it"),
        ("AND feedback", "AND needs a word before it"),
        ("-- -AI", "not only words to leave out"),  # after --, as the shell would need it
        ("NOT AI", "not only words to leave out"),
        ("feedback OR -AI", "OR cannot join a word left out"),
        ("NEAR(open maths", "'(' is never closed"),
    ],
)
def test_a_query_that_cannot_be_parsed_is_a_usage_error(archive, query, problem):
    code, keys, stderr = found(archive, *query.split(" ", 1) if query.startswith("--") else (query,))
    assert code == 2 and keys == []
    assert problem in stderr
    assert "fts5" not in stderr.lower() and "sqlite" not in stderr.lower() and "Traceback" not in stderr


def test_words_without_letters_find_nothing_quietly(archive):
    assert found(archive, "🎓 * -")[:2] == (0, [])


def test_relevance_order_puts_the_best_match_first(archive, tmp_path):
    db = open_archive(tmp_path / "rank.db")
    db.close()
    jsonl = tmp_path / "rank.jsonl"
    texts = {
        "once": "a long post about many things, among them one rubric, and more words after it to pad",
        "thrice": "rubric rubrics rubric",
        "none": "nothing to see here",
    }
    jsonl.write_text(
        "".join(
            json.dumps(
                {
                    "uri": f"https://rank.test/{k}",
                    "network": "mastodon",
                    "text": t,
                    "created_at": "2026-11-20T00:00:00Z",
                }
            )
            + "\n"
            for k, t in texts.items()
        )
    )
    filter_file = tmp_path / "rank.yaml"
    filter_file.write_text(
        f"name: rank\nsources:\n  - file: {jsonl}\ninclude:\n  - {{name: all, words: [rubric, nothing]}}\n"
    )
    assert plnfilter("run", filter_file, "--db", tmp_path / "rank.db").returncode == 0
    code, keys, _ = found(tmp_path / "rank.db", "rubric", "--order", "relevance")
    assert (code, keys) == (0, ["thrice", "once"])
    result = plnfilter("query", "--order", "relevance", "--db", tmp_path / "rank.db")
    assert result.returncode == 2 and "no TEXT was given" in result.stderr


def test_a_table_marks_the_matched_words_and_nothing_from_the_post(archive):
    color = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    result = plnfilter(
        "query", "rubric", "--all", "--db", archive, "--format", "table", env_extra=color, columns=160
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    marked = re.findall(r"\x1b\[1;7m([^\x1b]*)\x1b\[0m", out)  # bold reverse
    assert "rubric" in marked and "rubrics" in marked
    # the hostile post's own escapes and markup arrive as inert text, its ESC and bidi override gone
    assert "[bold]markup[/bold]" in out
    assert "\x1b[31m" not in out and "\u202e" not in out
    plain = plnfilter(
        "query", "授業", "--db", archive, "--format", "table", env_extra=color, columns=160
    ).stdout
    assert "授業" in re.findall(r"\x1b\[1;7m([^\x1b]*)\x1b\[0m", plain)


def test_a_table_without_colour_prints_the_text_as_it_was(archive):
    result = plnfilter("query", "rubric", "--all", "--db", archive, "--format", "table", columns=160)
    assert result.returncode == 0 and "\x1b" not in result.stdout and "rubric" in result.stdout


def test_json_output_carries_no_highlight_field(archive):
    result = plnfilter("query", "rubric", "--all", "--db", archive, "--format", "jsonl")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all("_highlight" not in row for row in rows)
    assert all("\x1b[31m" not in row["text"] or row["uri"].endswith(HOSTILE) for row in rows)


def test_export_takes_the_same_search(archive):
    result = plnfilter("export", "librar* -crypto", "--all", "--db", archive, "--format", "jsonl")
    assert result.returncode == 0
    assert {json.loads(line)["uri"].rsplit("/", 1)[-1] for line in result.stdout.splitlines()} == set(
        found(archive, "librar* -crypto")[1]
    )
    assert plnfilter("export", '"open', "--db", archive).returncode == 2


def test_indexes_follow_inserts_updates_and_deletes(tmp_path):
    from plnfilter.post import Post
    from plnfilter.store import Judged, save_page

    class Timeline:
        name, network, spec = "t", "file", "file: t"

    db = open_archive(tmp_path / "a.db")
    post = Post(
        uri="https://x.test/1",
        network="mastodon",
        text="今日の授業 libraries",
        created_at="2026-11-20T00:00:00Z",
    )
    save_page(db, Timeline(), [Judged(post, True, 1.0)], None, "2026-11-20T00:00:00Z")

    def segments() -> tuple[int, int]:
        return tuple(
            db.conn.execute(f"SELECT count(*) FROM {t}_data").fetchone()[0]  # noqa: S608
            for t in ("posts_fts", "posts_search")
        )

    before = segments()
    save_page(db, Timeline(), [Judged(post, True, 2.0)], None, "2026-11-21T00:00:00Z")  # same text
    assert segments() == before  # nothing re-indexed
    changed = Post(uri=post.uri, network="mastodon", text="図書館 library", created_at=post.created_at)
    save_page(db, Timeline(), [Judged(changed, True, 2.0)], None, "2026-11-22T00:00:00Z")
    for table in ("posts_fts", "posts_search"):
        db.conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")  # noqa: S608
    db.close()
    path = tmp_path / "a.db"
    assert found(path, "授業")[1] == [] and found(path, "図書館")[1] == ["1"]
    assert found(path, "libraries")[1] == ["1"]
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM posts")
    conn.commit()
    for table in ("posts_fts", "posts_search"):
        conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")  # noqa: S608
    conn.close()
    assert found(path, "library")[1] == []


def test_an_old_archive_is_searchable_after_its_upgrade(tmp_path):
    import shutil

    path = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "fixtures" / "archives" / "schema-006.db", path)
    open_archive(path).close()
    code, keys, _ = found(path, "librar*")
    assert code == 0 and keys
    conn = sqlite3.connect(path)
    try:
        grams = conn.execute("SELECT count(*) FROM posts WHERE search_grams IS NOT NULL").fetchone()[0]
        cjk = conn.execute("SELECT count(*) FROM posts WHERE text GLOB '*[ぁ-ん]*'").fetchone()[0]
    finally:
        conn.close()
    assert grams >= cjk


def test_no_typed_text_reaches_fts5_as_syntax(archive):
    """Thousands of random searches over FTS5's own syntax characters: each is either refused with a
    usage message or runs; FTS5 never reports a syntax error, whatever was typed."""
    import random

    from plnfilter.errors import UsageError
    from plnfilter.query import Selection, select
    from plnfilter.store import open_readonly

    pieces = ['"', "(", ")", "*", "-", "+", ":", "^", "{", "}", ",", "NEAR", "NEAR/3", "AND", "OR", "NOT",
              "text", "tags", "search_grams", "rank", "授業", "館", "é", "#", "open", " ", " ", "\x00", "'"]  # fmt: skip
    chance = random.Random(13)
    conn = open_readonly(archive)
    refused = ran = 0
    try:
        for _ in range(1500):
            text = "".join(chance.choice(pieces) for _ in range(chance.randint(1, 8)))
            for exact in (False, True):
                try:
                    list(
                        select(
                            conn, Selection(text=text, kept=None, syntax="catalogue", exact=exact, limit=3)
                        )
                    )
                    ran += 1
                except UsageError as error:
                    assert "fts5" not in str(error).lower() and "syntax error" not in str(error).lower()
                    refused += 1
    finally:
        conn.close()
    assert ran > 1000 and refused > 100


def test_the_upgrade_and_the_save_path_index_runs_alike():
    """m007 keeps a frozen copy of the bigram maker; today's save path must still agree with it, or
    an upgraded archive and a fresh one would find different posts."""
    from plnfilter.store.grams import search_grams
    from plnfilter.store.schema import _m007_search_grams

    samples = [
        ("今日の授業はオンラインでした。図書館", "", '["授業"]'),
        ("การเรียนรู้ออนไลน์ในห้องสมุด", "CW: 本", "[]"),
        ("오늘 수업은 도서관에서", None, None),
        ("plain ascii text", "", "[]"),
        ("Café 館 x 𠮷野家", "", '["edtech"]'),
    ]
    for text, spoiler, tags in samples:
        assert search_grams(text, spoiler, tags) == _m007_search_grams(text, spoiler, tags)
    assert search_grams("授業") == "授業 業"
    assert search_grams("plain") is None
