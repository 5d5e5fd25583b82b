"""Verdicts per filter: each filter file keeps its own verdict on every archived post, with the
exclude rule that dropped it; readers choose a filter; another filter's run never changes them."""

from __future__ import annotations

import importlib
import json
import random
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from plnfilter.cli import cli
from plnfilter.judge import judge
from plnfilter.rules import compile_rules
from plnfilter.store import iter_posts, open_readonly
from plnfilter.times import parse_iso

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "filters" / "samples"
NOW = parse_iso("2026-11-27T12:00:00Z")

# What random rule files are made of: every key here selects some of the sample posts.
EXCLUDES = [
    "{words: [giveaway, airdrop]}",
    "{tags: [crypto, nft]}",
    "{min_tags: 6}",
    "{bot: true}",
    "{network: bluesky}",
    "{lang: [de]}",
    "{has_link: true}",
    "{regex: '(?i)\\bslides?\\b'}",
]
INCLUDES = [
    "{tags: [edtech, pln, oer]}",
    "{tags: [like69]}",
    "{has_link: true}",
    "{network: mastodon}",
    "{regex: '\\?$'}",
    "{words: [teachers, students]}",
    "{min_likes: 3}",
]
SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))


@pytest.fixture
def fixed_clock(monkeypatch):
    """Every module that asks the time gets NOW (the property compares scores, which age); found by
    the function's own name, since other tests may have imported plnfilter afresh."""
    importlib.import_module("plnfilter.pipeline")
    for name, module in list(sys.modules.items()):
        found = getattr(module, "now_utc", None) if name.startswith("plnfilter") else None
        if getattr(found, "__module__", "") == "plnfilter.times":
            monkeypatch.setattr(module, "now_utc", lambda: NOW)


def random_filter(directory: Path, name: str, rng: random.Random) -> Path:
    sources = rng.sample(SAMPLE_FILES, rng.randint(1, 3))
    lines = [f"name: {name}", "sources:"]
    lines += [f"  - file: {path}\n    name: {name}-{path.stem}" for path in sources]
    lines.append("exclude:")
    lines += [f"  - name: {name}-x{i}\n    {rule[1:-1]}" for i, rule in enumerate(rng.sample(EXCLUDES, 2))]
    lines.append("include:")
    lines += [
        f"  - name: {name}-i{i}\n    {rule[1:-1]}\n    boost: {rng.choice([0, 0.5, 2])}"
        for i, rule in enumerate(rng.sample(INCLUDES, rng.randint(1, 3)))
    ]
    lines.append("rank: {half_life: 24h}")
    path = directory / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def stored_verdicts(db: Path, name: str) -> dict[str, tuple]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT p.uri, v.kept, round(v.score, 9), v.matched, v.dropped_by FROM verdicts v "
            'JOIN posts p ON p.id = v.post_id WHERE v."filter" = ?',
            [name],
        ).fetchall()
    finally:
        conn.close()
    return {uri: tuple(rest) for uri, *rest in rows}


def alone(db: Path, filter_path: Path) -> dict[str, tuple]:
    """The verdicts the filter gives each archived post on its own, judged afresh at NOW."""
    from plnfilter.filterfile import load

    filter_file = load(filter_path)
    conn = open_readonly(db)
    try:
        posts = list(iter_posts(conn))
    finally:
        conn.close()
    judged = judge(posts, compile_rules(filter_file), filter_file.rank, NOW)
    return {
        j.post.uri: (
            int(j.kept),
            round(j.score, 9),
            json.dumps(list(j.matched), separators=(",", ":")),
            j.dropped_by or None,
        )
        for j in judged
    }


@pytest.mark.parametrize("seed", range(10))
def test_two_filters_run_alternately_keep_the_verdicts_each_gives_alone(tmp_path, fixed_clock, seed):
    rng = random.Random(seed)
    first, second = random_filter(tmp_path, "first", rng), random_filter(tmp_path, "second", rng)
    db = tmp_path / "archive.db"
    steps = [first] * 5 + [second] * 5
    rng.shuffle(steps)
    for path in steps:
        command = rng.choice(["run", "run", "apply"]) if db.exists() else "run"
        result = invoke(command, path, "--db", db, "-q")
        assert result.exit_code == 0, result.output
    for name, path in (("first", first), ("second", second)):
        assert stored_verdicts(db, name) == alone(db, path), f"seed {seed}: {name}"


def test_a_run_leaves_the_other_filters_verdicts_exactly_as_they_were(tmp_path, fixed_clock):
    demo = ROOT / "filters" / "demo.yaml"
    other = tmp_path / "other.yaml"
    other.write_text(
        f"name: other\nsources:\n  - file: {SAMPLES / 'mastodon-list.json'}\ninclude:\n  - {{name: all, words: [the]}}\n"
    )
    db = tmp_path / "a.db"
    assert invoke("run", demo, "--db", db, "-q").exit_code == 0
    before = stored_verdicts(db, "demo")
    assert invoke("run", other, "--db", db, "-q").exit_code == 0
    assert invoke("apply", other, "--db", db, "-q").exit_code == 0
    assert stored_verdicts(db, "demo") == before
    assert set(stored_verdicts(db, "other")) == set(before)  # every post, fetched by either


def test_a_second_file_claiming_a_name_is_refused_with_both_paths(tmp_path):
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    for path in (one, two):
        path.write_text(f"name: digest\nsources:\n  - file: {SAMPLES / 'mastodon-list.json'}\n")
    db = tmp_path / "a.db"
    assert invoke("run", one, "--db", db, "-q").exit_code == 0
    refused = invoke("run", two, "--db", db, "-q")
    assert refused.exit_code == 2
    assert str(one) in refused.output and str(two) in refused.output
    assert "another `name:`" in refused.output and "filters forget digest" in refused.output
    assert invoke("apply", two, "--db", db, "-q").exit_code == 2


def test_readers_choose_a_filter_and_refuse_to_guess_between_several(tmp_path):
    demo = ROOT / "filters" / "demo.yaml"
    other = tmp_path / "other.yaml"
    other.write_text("name: other\ninclude:\n  - {name: bluesky-only, network: bluesky}\n")
    db = tmp_path / "a.db"
    assert invoke("run", demo, "--db", db, "-q").exit_code == 0
    assert invoke("query", "--db", db, "--limit", "1").exit_code == 0  # one filter: the default
    assert invoke("apply", other, "--db", db, "-q").exit_code == 0
    for command in (["query"], ["export"], ["links"], ["runs"], ["top"]):
        result = invoke(*command, "--db", db)
        assert result.exit_code == 2, (command, result.output)
        assert "demo, other" in result.output and "--filter NAME" in result.output
    kept = invoke("query", "--db", db, "--filter", "other", "--all", "--format", "jsonl", "--limit", "500")
    rows = [json.loads(line) for line in kept.output.splitlines()]
    assert rows and all(row["kept"] == (row["network"] == "bluesky") for row in rows)
    assert invoke("query", "--db", db, "--filter", "nope").exit_code == 2
    listed = invoke("filters", "--db", db, "--format", "jsonl")
    filters = {row["name"]: row for row in map(json.loads, listed.output.splitlines())}
    assert set(filters) == {"demo", "other"}
    assert (
        filters["other"]["kept"] + filters["other"]["dropped"]
        == filters["demo"]["kept"] + filters["demo"]["dropped"]
    )
    forgot = invoke("filters", "forget", "other", "--db", db)
    assert forgot.exit_code == 0 and "forgot filter 'other'" in forgot.output
    assert set(stored_verdicts(db, "other")) == set()
    assert invoke("query", "--db", db, "--limit", "1").exit_code == 0  # one filter again
    assert invoke("filters", "forget", "other", "--db", db).exit_code == 2


def test_the_rule_that_dropped_a_post_is_kept_and_shown(tmp_path):
    demo = ROOT / "filters" / "demo.yaml"
    db = tmp_path / "a.db"
    ran = invoke("run", demo, "--db", db)
    assert ran.exit_code == 0
    summary = next(line for line in ran.output.splitlines() if line.startswith("dropped by exclude rules:"))
    assert "giveaways" in summary
    dropped = [
        json.loads(line)
        for line in invoke("query", "--db", db, "--dropped", "--format", "jsonl").output.splitlines()
    ]
    assert dropped and all(row["kept"] is False for row in dropped)
    giveaway = next(row for row in dropped if row["dropped_by"] == "giveaways")
    counts: dict[str, int] = {}
    for row in dropped:
        if row["dropped_by"]:
            counts[row["dropped_by"]] = counts.get(row["dropped_by"], 0) + 1
    runs = json.loads(invoke("runs", "--db", db, "--format", "jsonl").output.splitlines()[0])
    assert runs["filter"] == "demo" and runs["dropped_by"] == counts
    assert summary == "dropped by exclude rules: " + ", ".join(
        f"{k} {v}" for k, v in runs["dropped_by"].items()
    )
    explained = invoke("explain", giveaway["uri"], "--db", db)
    assert explained.exit_code == 0
    assert "dropped by exclude rule 'giveaways'" in explained.output
    with_file = invoke("explain", giveaway["uri"], demo, "--db", db, "--format", "json")
    assert json.loads(with_file.output)["stored"]["dropped_by"] == "giveaways"
    csv_out = invoke("export", "--db", db, "--dropped", "--format", "csv")
    header = csv_out.output.splitlines()[0].split(",")
    assert "dropped_by" in header and "giveaways" in csv_out.output


def test_changed_rules_are_applied_to_every_post_at_the_next_run(tmp_path):
    path = tmp_path / "f.yaml"
    source = f"name: f\nsources:\n  - file: {SAMPLES / 'mastodon-list.json'}\n"
    path.write_text(source + "include:\n  - {name: everything, words: [the]}\n")
    db = tmp_path / "a.db"
    assert invoke("run", path, "--db", db, "-q").exit_code == 0
    assert any(v[0] == 1 for v in stored_verdicts(db, "f").values())
    path.write_text(source + "exclude:\n  - {name: nothing-stays, network: mastodon}\n")
    ran = invoke("run", path, "--db", db)  # the file source has nothing new: only the rules changed
    assert ran.exit_code == 0
    verdicts = stored_verdicts(db, "f")
    assert verdicts and all(v[0] == 0 and v[3] == "nothing-stays" for v in verdicts.values())
    assert f"{len(verdicts)} more archived posts judged by 'f'" in ran.output


def test_datasette_metadata_names_real_tables_views_columns_and_the_fts_index(tmp_path):
    db = tmp_path / "pln.db"
    assert invoke("run", ROOT / "filters" / "demo.yaml", "--db", db, "-q").exit_code == 0
    result = invoke("datasette-metadata", "--db", db)
    assert result.exit_code == 0
    tables = json.loads(result.output)["databases"]["pln"]["tables"]
    conn = sqlite3.connect(db)
    try:
        for name, entry in tables.items():
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info('{name}')")}
            assert columns, f"{name} is not a table or view of the archive"
            for facet in entry.get("facets", []):
                assert (facet["array"] if isinstance(facet, dict) else facet) in columns, (name, facet)
        assert tables["posts"]["fts_table"] == "posts_fts"
        found = conn.execute(
            "SELECT count(*) FROM posts_fts JOIN posts ON posts.id = posts_fts.rowid WHERE posts_fts MATCH 'rubric'"
        ).fetchone()[0]
        assert found > 0
        kept = conn.execute("SELECT count(*) FROM kept_posts WHERE filter = 'demo'").fetchone()[0]
        assert kept == json.loads(invoke("filters", "--db", db, "--format", "jsonl").output)["kept"]
    finally:
        conn.close()


def test_missing_values_are_null_and_raw_is_one_flag_away(tmp_path):
    db = tmp_path / "pln.db"
    assert invoke("run", ROOT / "filters" / "demo.yaml", "--db", db, "-q").exit_code == 0
    conn = sqlite3.connect(db)
    try:
        for column in ("reply_to", "lang", "quote_of", "card_url"):
            assert conn.execute(f"SELECT count(*) FROM posts WHERE {column} = ''").fetchone()[0] == 0  # noqa: S608
        nulls, replies = conn.execute(
            "SELECT count(*) - count(reply_to), count(reply_to) FROM posts"
        ).fetchone()
        assert nulls > 0 and replies > 0
        assert "raw" not in {row[1] for row in conn.execute("PRAGMA table_info('posts')")}
    finally:
        conn.close()
    row = json.loads(invoke("query", "--db", db, "--limit", "1", "--columns", "uri,raw,reply_to").output)
    assert isinstance(row["raw"], dict) and row["raw"] and row["reply_to"] is None
