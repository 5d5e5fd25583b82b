"""Tables that fit: at 80 columns a post shows when and where it is, runs show when, sources their cursor."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from seeded_archive import build_archive

from plnfilter.post import Post

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = [80, 120]


def plnfilter(*args: str, width: int = 80, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "plnfilter", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(width), **env},
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return build_archive(tmp_path_factory.mktemp("tables") / "seeded.db")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    plnfilter("run", str(ROOT / "filters" / "demo.yaml"), "--db", str(db), "-q")
    return db


def rows_of(table: str) -> list[list[str]]:
    """The body rows of a rich table whose first column is one line per row (score, id), each as
    its cells with the lines of a cell joined by '\n'."""
    rows: list[list[str]] = []
    body = False
    for line in table.splitlines():
        body = body or line.startswith("┡")
        if not body or not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0]:
            rows.append(cells)
        else:
            rows[-1] = [f"{old}\n{new}".strip("\n") for old, new in zip(rows[-1], cells, strict=True)]
    return rows


def header_of(table: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


@pytest.mark.parametrize("width", WIDTHS)
def test_query_table_shows_when_and_where_each_post_is(seeded, width):
    table = plnfilter("query", "--all", "--db", str(seeded), "--format", "table", width=width).stdout
    assert all(len(line) <= width for line in table.splitlines())
    header = header_of(table)
    assert header[:3] == ["score", "posted", "text"]
    assert ("tags" in header) == (width >= 120)
    posts = [
        json.loads(line)
        for line in plnfilter("query", "--all", "--db", str(seeded), "--format", "jsonl").stdout.splitlines()
    ]
    rows = rows_of(table)
    assert len(rows) == len(posts) == 11
    for post, row in zip(posts, rows, strict=True):
        lines = row[1].split("\n")
        assert lines[0] == post["author"]
        assert lines[1] == post["created_at"][:16].replace("T", " ")
        assert lines[2] == post["network"]
        assert post["text"].split()[0] in row[2]
        bare = post["url"].removeprefix("https://")
        host, last = bare.split("/")[0], bare.rsplit("/", 1)[1]
        assert lines[3] == (bare if len(bare) <= 24 else f"{host}/…/{last}")  # bsky.app/…/3kb1
    kate = next(row for row in rows if row[1].startswith("kate@edu.example\n2026-11-26 11:00"))
    assert kate[1].endswith("edu.example/@kate/101") and "Peer feedback that works" in kate[2]


def test_a_long_link_keeps_its_host_and_the_end_of_its_path(tmp_path):
    url = "https://mastodon.example.social/@someone_with_a_long_name/113456789012345678"
    db = build_archive(
        tmp_path / "long.db",
        [
            Post(
                uri=url,
                network="mastodon",
                url=url,
                author="someone_with_a_long_name@mastodon.example.social",
                created_at="2026-11-26T10:00:00Z",
                text="A post with a long address #edtech",
                tags=("edtech",),
            )
        ],
    )
    table = plnfilter("query", "--all", "--db", str(db), "--format", "table").stdout
    posted = rows_of(table)[0][1].split("\n")
    assert posted == [
        "someone_with_a_long_nam…",  # cut with an ellipsis, never wrapped into the next line
        "2026-11-26 10:00",
        "mastodon",
        "mastodon.example.social…",
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_table_shows_when_each_run_started(demo, width):
    table = plnfilter("runs", "--db", str(demo), "--format", "table", width=width).stdout
    assert all(len(line) <= width for line in table.splitlines())
    header = header_of(table)
    assert header[:3] == ["id", "started", "status"] and "kept" in header and "filter_file" in header
    runs = [
        json.loads(line)
        for line in plnfilter("runs", "--db", str(demo), "--format", "jsonl").stdout.splitlines()
    ]
    row = rows_of(table)[0]
    assert row[1] == runs[0]["started"][:16].replace("T", " ")
    assert row[2] == "ok" and "demo.yaml" in row[header.index("filter_file")]
    assert ("fetched" in header) == (width >= 120)


@pytest.mark.parametrize("width", WIDTHS)
def test_sources_wide_shows_every_cursor_whole(demo, width):
    sources = [
        json.loads(line)
        for line in plnfilter("sources", "--db", str(demo), "--format", "jsonl").stdout.splitlines()
    ]
    assert len(sources) == 5 and all(source["cursor"].startswith("sha256:") for source in sources)
    narrow = plnfilter("sources", "--db", str(demo), "--format", "table", width=width).stdout
    assert "sha256" not in narrow and "cursor" not in header_of(narrow)
    wide = plnfilter("sources", "--wide", "--db", str(demo), "--format", "table", width=width).stdout
    assert all(len(line) <= width for line in wide.splitlines())
    header = header_of(wide)
    assert header[:2] == ["name", "cursor"] and "last_run" in header and "posts" in header
    lines = [
        [cell.strip() for cell in line.strip("│").split("│")] for line in wide.splitlines() if line[:1] == "│"
    ]
    assert "".join(line[1] for line in lines) == "".join(source["cursor"] for source in sources)
    posts = [line[header.index("posts")] for line in lines if line[header.index("posts")]]
    assert posts == [str(source["posts"]) for source in sources]


def test_sources_json_carries_the_cursor(demo):
    rows = json.loads(plnfilter("sources", "--db", str(demo), "--format", "json").stdout)
    assert {row["name"] for row in rows} >= {"file:sample-mastodon-tags"}
    assert all(row["cursor"] and row["last_run"] for row in rows)


HOSTILE = "[bold red]ALERT[/bold red]\x1b[2J\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07\u202eevil"


@pytest.mark.parametrize("colour", [False, True], ids=["piped", "forced-colour"])
def test_hostile_author_link_and_cursor_stay_inert(tmp_path, colour):
    db = build_archive(
        tmp_path / "hostile.db",
        [
            Post(
                uri="https://evil.example/@x/1",
                network="mastodon",
                url=f"https://evil.example/{HOSTILE}",
                author=f"x{HOSTILE}@evil.example",
                created_at="2026-11-26T10:00:00Z",
                text="hostile fields #edtech",
                tags=("edtech",),
            )
        ],
    )
    conn = sqlite3.connect(db)
    conn.execute("UPDATE sources SET cursor = ?, last_error = ?", (HOSTILE, HOSTILE))
    conn.commit()
    conn.close()
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color"} if colour else {}
    for args in (("query", "--all"), ("sources", "--wide"), ("sources",)):
        out = plnfilter(*args, "--db", str(db), "--format", "table", width=80, **env).stdout
        for sequence in ("\x1b]", "\x1b[2J", "\x07", "\u202e"):
            assert sequence not in out, (args, repr(sequence))
        if not colour:
            assert "\x1b" not in out
        assert "[bold red]" in out  # shown as typed, not read as markup


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_table_shows_what_each_exclude_rule_dropped_as_the_run_said(tmp_path, width):
    db = tmp_path / "demo.db"
    ran = plnfilter("run", str(ROOT / "filters" / "demo.yaml"), "--db", str(db))
    summary = next(line for line in ran.stderr.splitlines() if line.startswith("dropped by exclude rules: "))
    said = [item.rsplit(" ", 1) for item in summary.removeprefix("dropped by exclude rules: ").split(", ")]
    assert len(said) >= 3  # demo.yaml's giveaways, hashtag-stuffing, bots, ... each dropped something
    table = plnfilter("runs", "--db", str(db), "--format", "table", width=width).stdout
    assert all(len(line) <= width for line in table.splitlines())
    header = header_of(table)
    assert "dropped_by" in header and "kept" in header and "filter_file" in header
    [row] = rows_of(table)
    shown = [line.rsplit(" ", 1) for line in row[header.index("dropped_by")].split("\n")]
    assert [count for _, count in shown] == [count for _, count in said]  # one rule a line, in order
    for (name, _), (full, _) in zip(shown, said, strict=True):  # a long name is cut, never wrapped
        assert name == full or (name.endswith("…") and full.startswith(name[:-1]))
    assert (shown == said) == (width >= 120)  # at 80 columns "hashtag-stuffing" is cut
    [stored] = [
        json.loads(line)
        for line in plnfilter("runs", "--db", str(db), "--format", "jsonl").stdout.splitlines()
    ]
    assert stored["dropped_by"] == {name: int(count) for name, count in said}
