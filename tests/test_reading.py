"""Reading the archive as a digest, through the CLI: cards that say when, where and why, groups shown
as groups, windows that remember (last-run, last-read with --mark-read), --as-of, and the hint
when a window is empty. The clock is moved with $PLNFILTER_NOW, the override the tests own."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from seeded_archive import NOW, ago, build_archive, seed_posts, write_filter

from plnfilter.cli import PlnGroup
from plnfilter.cli.cmd_archive import COMMANDS as ARCHIVE_COMMANDS
from plnfilter.cli.cmd_digest import COMMANDS as DIGEST_COMMANDS
from plnfilter.post import Post
from plnfilter.store import finish_run, open_archive, start_run
from plnfilter.times import NOW_VARIABLE, parse_iso, to_iso

ROOT = Path(__file__).resolve().parent.parent
CLI = PlnGroup(commands={command.name: command for command in (*DIGEST_COMMANDS, *ARCHIVE_COMMANDS)})


def plnfilter(*args: str, now=NOW, columns: int = 80):
    """Run a command at the moment `now` (through $PLNFILTER_NOW), as the installed CLI would."""
    env = {NOW_VARIABLE: to_iso(now), "COLUMNS": str(columns)}
    return CliRunner().invoke(CLI, [str(a) for a in args], env=env)


@pytest.fixture
def archive(tmp_path):
    return build_archive(tmp_path / "archive.db")


@pytest.fixture
def filter_path(tmp_path):
    return write_filter(tmp_path)


def edtech_post(uri_id: str, author: str, created: str, text: str) -> Post:
    host = author.split("@")[1]
    return Post(
        uri=f"https://{host}/users/x/statuses/{uri_id}",
        network="mastodon",
        url=f"https://{host}/@x/{uri_id}",
        author=author,
        created_at=created,
        text=text + " #edtech",
        tags=("edtech",),
        likes=3,
    )


def uris(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [row["uri"] for row in json.loads(result.stdout)]


# --- cards: when, where, why ----------------------------------------------------------------------


def test_markdown_cards_say_when_where_and_why(archive, filter_path):
    result = plnfilter("top", filter_path, "--db", archive, "--format", "markdown", "--limit", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # the first post: Kate's, an hour old, kept by two include rules
    assert "## @kate@edu.example · 2026-11-26 11:00 UTC" in out
    assert "*mastodon · edu.example · trusted voice · kept by topics, kate*" in out  # kate is in `trusted`
    assert "[link](https://edu.example/@kate/101)" in out
    assert out.count("kept by") == 3


def test_html_cards_say_when_where_and_why(archive, filter_path, tmp_path):
    page = tmp_path / "digest.html"
    result = plnfilter("top", filter_path, "--db", archive, "-o", page, "--limit", "3")
    assert result.exit_code == 0, result.output
    html = page.read_text()
    card = html[html.index("<article>") : html.index("</article>")]
    assert '<time datetime="2026-11-26T11:00:00Z">2026-11-26 11:00 UTC</time>' in card
    assert (
        '<span class="where">mastodon · <a href="https://edu.example/@kate/101" rel="noopener nofollow">'
        "edu.example</a></span>" in card
    )
    assert '<div class="why">kept by topics, kate</div>' in card


# --- groups in every format -------------------------------------------------------------------------


def test_top_by_tag_table_shows_each_group_over_its_posts(archive, filter_path):
    result = plnfilter("top", filter_path, "--db", archive, "--by", "tag", "--format", "table")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    headings = [i for i, line in enumerate(lines) if "▸ " in line]
    assert [re.search(r"▸ (\S+)", lines[i]).group(1) for i in headings] == ["edtech", "pln"]
    ranks = [int(m.group(1)) for line in lines if (m := re.match(r"│ (\d+) ", line))]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))  # every post once, under its group
    first_group = [
        int(m.group(1)) for line in lines[headings[0] : headings[1]] if (m := re.match(r"│ (\d+) ", line))
    ]
    assert first_group == [1, 2, 3, 4, 5, 6]
    # when and where each post is, at 80 columns as in `query`'s table
    assert (
        "posted" in lines[2]
        and "2026-11-26 11:00" in result.stdout
        and "edu.example/@kate/101" in result.stdout
    )


def test_top_by_rule_markdown_has_one_title_and_a_heading_per_group(tmp_path):

    yaml = (ROOT / "filters" / "mixed-voices.yaml").read_text()
    posts = [
        replace(p, created_at=ago(1))
        for p in (
            edtech_post("1", "teacher@mastodon.social", ago(1), "Peer feedback"),
            Post(
                uri="https://glammr.us/users/a/statuses/2",
                network="mastodon",
                url="https://glammr.us/@a/2",
                author="archivist@glammr.us",
                text="Cataloguing #libraries",
                tags=("libraries",),
            ),
        )
    ]
    db = build_archive(tmp_path / "groups.db", posts, filter_yaml=yaml)
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml)
    result = plnfilter("top", path, "--db", db, "--by", "rule", "--format", "markdown")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("\n# ") + out.startswith("# ") == 1  # the title once
    assert re.findall(r"^## (\S+)$", out, re.M) == ["education", "other-fields"]
    assert (
        out.index("## education") < out.index("### @teacher@mastodon.social") < out.index("## other-fields")
    )
    assert out.index("## other-fields") < out.index("### @archivist@glammr.us")


def test_top_by_tag_html_has_a_heading_per_group(archive, filter_path, tmp_path):
    page = tmp_path / "groups.html"
    result = plnfilter("top", filter_path, "--db", archive, "--by", "tag", "-o", page)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert re.findall(r'<h2 class="group">([^<]*)</h2>', html) == ["edtech", "pln"]
    assert html.index('class="group">pln<') < html.index("dana.example")


def test_groups_are_a_column_in_json_and_csv(archive, filter_path):
    rows = json.loads(
        plnfilter("top", filter_path, "--db", archive, "--by", "tag", "--format", "json").stdout
    )
    assert [row["group"] for row in rows] == ["edtech"] * 6 + ["pln"]
    result = plnfilter("top", filter_path, "--db", archive, "--by", "tag", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["group"] for row in table] == [row["group"] for row in rows]
    assert [row["rank"] for row in table] == [str(row["rank"]) for row in rows]


# --- windows that remember: last-run, last-read ----------------------------------------------------


def record_run(db: Path, filter_file: str, started, status: str = "ok") -> None:
    handle = open_archive(db)
    run_id = start_run(handle, filter_file, started)
    finish_run(handle, run_id, started + timedelta(minutes=1), 1, 1, 1, [], status)
    handle.conn.close()


def test_since_last_run_shows_what_arrived_since_the_last_successful_run(tmp_path, filter_path):
    db = tmp_path / "runs.db"
    t1 = NOW - timedelta(hours=6)
    build_archive(db, [edtech_post("1", "a@one.example", ago(8), "before the run")], now=t1)
    record_run(db, str(filter_path.resolve()), t1 - timedelta(minutes=30))  # ok: the window starts here
    record_run(db, str(filter_path.resolve()), NOW - timedelta(hours=2), status="failed")  # not this one
    record_run(db, "/elsewhere/other.yaml", NOW - timedelta(hours=1))  # nor another filter's
    # first seen 1h30 ago: after the ok run of this filter, before the other filter's run
    build_archive(
        db, [edtech_post("2", "b@two.example", ago(40), "late but new")], now=NOW - timedelta(minutes=30)
    )
    found = uris(plnfilter("top", filter_path, "--db", db, "--since", "last-run", "--format", "json"))
    assert found == ["https://two.example/users/x/statuses/2"]
    # without FILTER, the last successful run of any filter: the other filter's, an hour ago
    result = plnfilter("top", "--db", db, "--since", "last-run", "--format", "json")
    assert uris(result) == []
    assert "Nothing arrived since last-run" in result.stderr


def test_since_last_run_before_any_run_shows_everything_and_says_so(archive, filter_path):
    result = plnfilter("top", filter_path, "--db", archive, "--since", "last-run", "--format", "json")
    assert len(uris(result)) == 8  # the old post too: it arrived with the others
    assert "no successful run of this filter yet" in result.stderr


def test_last_read_with_mark_read_across_two_digests(tmp_path, filter_path):
    db = tmp_path / "read.db"
    t0 = NOW - timedelta(days=2)
    build_archive(db, [edtech_post("1", "a@one.example", ago(50), "first batch")], now=t0)
    first = plnfilter(
        "top", filter_path, "--db", db, "--since", "last-read", "--mark-read", "--format", "json", now=t0
    )
    assert uris(first) == ["https://one.example/users/x/statuses/1"]
    assert "every post counts as new" in first.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM settings WHERE key = 'last_read:digest-test'").fetchone() == (
            to_iso(t0),
        )
    # posts arrive a day later, one of them written a week ago: it arrived after the digest, so it is new
    arriving = [
        edtech_post("2", "b@two.example", ago(2), "second batch"),
        edtech_post("3", "c@three.example", ago(24 * 7), "an old post that arrived late"),
    ]
    build_archive(db, arriving, now=NOW)
    second = plnfilter(
        "top", filter_path, "--db", db, "--since", "last-read", "--mark-read", "--format", "json"
    )
    assert sorted(uris(second)) == [
        "https://three.example/users/x/statuses/3",
        "https://two.example/users/x/statuses/2",
    ]
    # nothing arrived since: no rows, and the hint says what would show the newest post
    third = plnfilter(
        "top",
        filter_path,
        "--db",
        db,
        "--since",
        "last-read",
        "--format",
        "json",
        now=NOW + timedelta(hours=1),
    )
    assert uris(third) == []
    assert "Nothing arrived since last-read" in third.stderr and "--since 4h" in third.stderr
    # another filter keeps its own mark
    other = filter_path.with_name("other.yaml")
    other.write_text(filter_path.read_text().replace("name: digest-test", "name: other"))
    fourth = plnfilter("top", other, "--db", db, "--since", "last-read", "--format", "json")
    assert len(uris(fourth)) == 3


def test_mark_read_with_as_of_is_refused(archive, filter_path):
    result = plnfilter("top", filter_path, "--db", archive, "--mark-read", "--as-of", "newest")
    assert result.exit_code == 2
    assert "--mark-read" in result.stderr and "--as-of" in result.stderr


def test_query_refuses_the_archive_words_with_a_fix(archive):
    result = plnfilter("query", "--db", archive, "--since", "last-read")
    assert result.exit_code == 2
    assert "only `top` and `links`" in result.stderr


# --- --as-of: a past digest made again ----------------------------------------------------------------


def test_as_of_remakes_a_past_digest(tmp_path, filter_path):
    """Made on 2026-11-26 at noon; five days later --as-of gives the same digest, later posts left out."""
    db = tmp_path / "past.db"
    build_archive(db, seed_posts(NOW), now=NOW)
    then = uris(plnfilter("top", filter_path, "--db", db, "--format", "json"))
    assert len(then) == 7
    later = NOW + timedelta(days=5)
    build_archive(db, [edtech_post("9", "new@later.example", ago(1, later), "written later")], now=later)
    args = ("top", filter_path, "--db", db, "--format", "json")
    assert uris(plnfilter(*args, now=later)) == ["https://later.example/users/x/statuses/9"]
    assert uris(plnfilter(*args, "--as-of", to_iso(NOW), now=later)) == then
    assert uris(plnfilter(*args, "--as-of", "5d", now=later)) == then  # five days back from now
    newest = uris(plnfilter(*args, "--as-of", "newest", "--since", "7d", now=later))
    assert "https://later.example/users/x/statuses/9" in newest and set(then) < set(newest)
    # links, query and explain read the archive as of that moment too
    links = json.loads(
        plnfilter("links", "--db", db, "--as-of", to_iso(NOW), "--format", "json", now=later).stdout
    )
    assert links[0]["count"] == 5
    queried = plnfilter(
        "query", "--db", db, "--as-of", to_iso(NOW), "--since", "24h", "--format", "json", now=later
    )
    assert "https://later.example/users/x/statuses/9" not in uris(queried) and len(uris(queried)) >= 8
    explained = plnfilter(
        "explain",
        "https://edu.example/@kate/101",
        filter_path,
        "--db",
        db,
        "--as-of",
        to_iso(NOW),
        "--format",
        "json",
        now=later,
    )
    assert explained.exit_code == 0, explained.output
    report = json.loads(explained.stdout)
    assert report["scored_at"] == to_iso(NOW) and report["rank"] == 1


def test_a_bad_as_of_lists_the_forms(archive):
    result = plnfilter("top", "--db", archive, "--as-of", "last tuesday")
    assert result.exit_code == 2
    assert "--as-of" in result.stderr and "newest" in result.stderr


# --- the empty window says what would show posts ------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("top", "FILTER", "--format", "json"),
        ("links", "--format", "json"),
        ("query", "--since", "24h", "--format", "json"),
        ("query", "edtech", "--since", "24h", "--format", "table"),
    ],
)
def test_an_empty_window_says_how_old_the_newest_post_is(archive, filter_path, command):
    args = [filter_path if a == "FILTER" else a for a in command]
    ten_days_later = NOW + timedelta(days=10)
    result = plnfilter(*args, "--db", archive, now=ten_days_later)
    assert result.exit_code == 0, result.output
    assert "10 days before now" in result.stderr
    hinted = re.search(r"--since (\d+d) or --as-of newest shows it", result.stderr)
    assert hinted, result.stderr
    # the hint is right: that --since shows posts
    shown = plnfilter(*args, "--db", archive, "--since", hinted.group(1), now=ten_days_later)
    assert shown.exit_code == 0 and shown.stdout.strip() not in ("", "[]")
    assert "No posts in this window" not in shown.stderr
    quiet = plnfilter(*args, "--db", archive, "--quiet", now=ten_days_later)
    assert quiet.exit_code == 0 and "newest" not in quiet.stderr


def test_as_of_before_every_post_points_forward(archive, filter_path):
    result = plnfilter("top", filter_path, "--db", archive, "--as-of", "2026-11-01", "--format", "json")
    assert uris(result) == []
    assert "after that moment: --as-of newest" in result.stderr


# --- make demo with the clock a year ahead --------------------------------------------------------------


def test_make_demo_ends_in_a_digest_a_year_from_now(tmp_path):
    year_ahead = to_iso(parse_iso("2026-12-02T12:00:00Z") + timedelta(days=365))
    db = tmp_path / "demo.db"
    env = {**os.environ, NOW_VARIABLE: year_ahead, "COLUMNS": "100"}
    done = subprocess.run(
        ["make", "-s", "demo", f"DEMO_DB={db}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    digest = done.stdout[done.stdout.rindex("plnfilter top posts") :]
    ranks = re.findall(r"^│ (\d+) ", digest, re.M)
    assert ranks[:3] == ["1", "2", "3"]
    # and `top` without --as-of says which --since or --as-of would show posts
    plain = subprocess.run(
        [str(ROOT / ".venv/bin/plnfilter"), "top", "filters/demo.yaml", "--db", str(db)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 0, plain.stderr
    assert re.search(r"--since 3\d\dd or --as-of newest shows it", plain.stderr), plain.stderr
