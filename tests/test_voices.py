"""`plnfilter voices suggest` and `voices report` through the CLI, on archives built by `plnfilter run`
from the captured samples (filters/samples/, as `make demo` does) plus a few hand-written rows."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from plnfilter.cli import cli
from plnfilter.filterfile import parse
from plnfilter.times import now_utc, to_iso

ROOT = Path(__file__).parent.parent
SAMPLES = ROOT / "filters/samples"
RULES = """
exclude:
  - name: giveaways
    words: [giveaway, airdrop, 'free tokens', spam]
  - name: hashtag-stuffing
    min_tags: 6
  - name: bots
    bot: true
include:
  - name: topics
    tags: [edtech, pln, oer, librarytwitter, like69]
  - name: questions
    regex: '(?i)does anyone|\\?$'
"""
ADJOA, LIBBY = "adjoa@edu.social.example", "libby@edu.social.example"
HOSTILE = "<img src=x onerror=alert(1)>*bold*[a](javascript:x)@evil.example"


def _row(author: str, n: int, *, hours: float = 30, **fields) -> dict:
    host = author.rpartition("@")[2] or "bsky.example"
    network = fields.pop("network", "mastodon")
    return {
        "uri": f"https://{host}/users/{author.partition('@')[0]}/statuses/hand{n}",
        "network": network,
        "author": author,
        "author_name": fields.pop("author_name", author.partition("@")[0]),
        "created_at": to_iso(now_utc() - timedelta(hours=hours)),
        "text": fields.pop("text", f"post {n} about open resources"),
        "tags": fields.pop("tags", ["oer"]),
        **fields,
    }


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def _build(tmp_path: Path, sources: list[tuple[str, Path]]) -> Path:
    lines = ["name: build", "sources:"]
    lines += [f"  - file: {path}\n    name: {name}" for name, path in sources]
    build = tmp_path / "build.yaml"
    build.write_text("\n".join(lines) + RULES, encoding="utf-8")
    db = tmp_path / "archive.db"
    result = _invoke("run", str(build), "--db", str(db), "--quiet")
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def archive(tmp_path) -> Path:
    """The captured samples, and by hand: nadia (never followed, reposted by two list members, tags far
    from the rest), omar (reposted once, on topic), a reply to an account known only by a local id,
    a list member who posted an hour ago, and an account with a hostile name."""
    hand = [
        _row(
            "nadia@far.example",
            1,
            text="Does anyone knit while marking?",
            tags=["knitting", "crafts"],
            reposted_by=[ADJOA, LIBBY],
        ),
        _row(
            "nadia@far.example",
            2,
            text="Does anyone dye their own yarn?",
            tags=["knitting"],
            reposted_by=[ADJOA],
        ),
        _row("omar@near.example", 3, tags=["oer", "edtech"], reposted_by=[LIBBY]),
        _row(ADJOA, 4, hours=96, reply_to="https://edu.social.example/api/v1/statuses/99999"),
        _row(HOSTILE, 5, tags=["oer"], reposted_by=[ADJOA, LIBBY]),
    ]
    hand += [_row(HOSTILE, n, tags=["oer"]) for n in range(10, 30)]  # the top author of the report
    fresh = [_row("fresh@edu.social.example", 6, hours=1)]
    return _build(
        tmp_path,
        [
            ("tags", SAMPLES / "mastodon-tags.json"),
            ("list", SAMPLES / "mastodon-list.json"),
            ("search", SAMPLES / "bluesky-search.json"),
            ("listfeed", SAMPLES / "bluesky-listfeed.json"),
            ("hand", _write_jsonl(tmp_path / "hand.jsonl", hand)),
            ("hand-list", _write_jsonl(tmp_path / "hand-list.jsonl", fresh)),
        ],
    )


@pytest.fixture
def voices_filter(tmp_path) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\n"
        "sources:\n"
        "  - mastodon: edu.social.example\n"
        "    account: kenji@edu.social.example\n"
        "  - mastodon: edu.social.example\n"
        "    account: quietus@edu.social.example\n"
        "  - bluesky: {author: maria.test}\n"
        "voices:\n"
        "  trusted: [kate@edu.social.example, kate.test]\n"
        "  outside_sector: [hannah@edu.social.example]\n"
        "  dissenting: [tom@edu.social.example, did:plc:3nbverzsu4lxf763ihwmuws7]\n"  # liwei.test's DID
        "rank:\n"
        "  mix: {outside_sector: 1, dissenting: 1}\n"
        "keep: 10\n" + RULES,
        encoding="utf-8",
    )
    return path


def _suggest(archive: Path, *args: str) -> list[dict]:
    result = _invoke(
        "voices",
        "suggest",
        *args,
        "--db",
        str(archive),
        "--since",
        "2026-01-01",
        "--limit",
        "200",
        "--follows",
        "file:list",
        "--follows",
        "file:hand-list",
        "--format",
        "jsonl",
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_an_account_reposted_by_two_trusted_voices_is_suggested_with_that_reason(archive, voices_filter):
    rows = {row["account"]: row for row in _suggest(archive, str(voices_filter))}
    nadia = rows["nadia@far.example"]
    assert nadia["why"].startswith("reposted 3 times by 2 trusted voices")
    assert nadia["endorsed_by"] == [ADJOA, LIBBY]
    assert nadia["reposts"] == 3
    assert nadia["profile"] == "https://far.example/@nadia"
    assert rows["omar@near.example"]["why"].startswith("reposted 1 time by 1 trusted voice")
    assert list(rows).index("nadia@far.example") < list(rows).index("omar@near.example")


def test_voices_sources_and_followed_authors_are_never_suggested(archive, voices_filter):
    accounts = {row["account"] for row in _suggest(archive, str(voices_filter))}
    followed = {
        "kate@edu.social.example",
        "kate.test",
        "hannah@edu.social.example",
        "tom@edu.social.example",
        "kenji@edu.social.example",
        "maria.test",
        ADJOA,
        LIBBY,
        "marco@edu.social.example",
        "fresh@edu.social.example",
        "liwei.test",  # named by its DID in voices:
    }
    assert accounts and not accounts & followed
    assert "dana@edu.social.example" in accounts  # seen only through hashtags: not followed
    # every post of theirs dropped by the rules (spam, bots): never suggested
    assert not accounts & {
        "cryptodeals@edu.social.example",
        "stuffer.test",
        "growthhacker@edu.social.example",
    }
    # a reply known only by an instance-local id names nobody
    assert all(account and "/api/v1/" not in account for account in accounts)


def test_an_account_whose_tags_do_not_overlap_is_far_and_the_threshold_is_settable(archive, voices_filter):
    rows = {row["account"]: row for row in _suggest(archive, str(voices_filter))}
    assert rows["nadia@far.example"]["group"] == "far"
    assert rows["nadia@far.example"]["overlap"] == 0.0
    assert rows["omar@near.example"]["group"] == "near"
    assert rows["omar@near.example"]["overlap"] == 1.0
    strict = {row["account"]: row for row in _suggest(archive, str(voices_filter), "--near-threshold", "1")}
    partly = [row for row in strict.values() if 0 < row["overlap"] < 1]
    assert all(row["group"] == "far" for row in partly)


def test_the_yaml_snippet_pastes_near_as_trusted_and_far_as_outside_sector(archive, voices_filter, tmp_path):
    out = tmp_path / "new-voices.yaml"
    result = _invoke(
        "voices",
        "suggest",
        str(voices_filter),
        "--db",
        str(archive),
        "--since",
        "2026-01-01",
        "--limit",
        "200",
        "--follows",
        "file:list",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    loaded = parse(out.read_text(encoding="utf-8"), str(out)).voices
    assert "nadia@far.example" in loaded.outside_sector
    assert "omar@near.example" in loaded.trusted
    assert HOSTILE.lower() in loaded.trusted  # a hostile name stays one quoted string
    assert not set(loaded.trusted) & set(loaded.outside_sector)


def test_suggest_rejects_an_unknown_follows_source_and_a_bad_threshold(archive):
    result = _invoke("voices", "suggest", "--db", str(archive), "--follows", "file:nope")
    assert result.exit_code == 2
    assert "file:nope" in result.stderr and "file:list" in result.stderr
    result = _invoke("voices", "suggest", "--db", str(archive), "--near-threshold", "2")
    assert result.exit_code == 2
    result = _invoke("voices", "report", "--db", str(archive), "--quiet-after", "soon")
    assert result.exit_code == 2
    assert "--quiet-after 'soon' is not a duration" in result.stderr


def _report(archive: Path, *args: str, fmt: str = "jsonl"):
    result = _invoke("voices", "report", *args, "--db", str(archive), "--format", fmt)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_followed_voice_with_no_posts_is_reported_quiet(archive, voices_filter):
    text = _report(
        archive,
        str(voices_filter),
        "--since",
        "2026-01-01",
        "--quiet-after",
        "2d",
        "--follows",
        "file:list",
        "--follows",
        "file:hand-list",
    )
    quiet = {row["item"]: row for row in map(json.loads, text.splitlines()) if row["section"] == "quiet"}
    assert quiet["quietus@edu.social.example"]["detail"].startswith("no post in the archive")
    assert ADJOA in quiet  # a list member whose last post is older than --quiet-after
    assert "fresh@edu.social.example" not in quiet  # posted an hour ago
    assert "kate@edu.social.example" not in quiet  # a voice seen only through hashtags is never reported
    assert "dana@edu.social.example" not in quiet


@pytest.fixture
def small_archive(tmp_path) -> Path:
    rows = [_row("a@one.example", n) for n in range(3)]
    rows += [_row("b@one.example", n) for n in range(3, 5)]
    rows += [
        _row(who, n)
        for n, who in enumerate(
            ["c@two.example", "e@three.example", "f@three.example", "g@two.example"], start=5
        )
    ]
    rows += [_row("d.bsky.social", 9, network="bluesky", uri="at://did:plc:d/app.bsky.feed.post/1")]
    rows += [_row("z@one.example", 10, text="spam spam")]  # dropped: not counted
    rows += [_row("old@one.example", 11, hours=24 * 60)]  # kept, but before --since
    rows[-3]["uri"] = "at://did:plc:d/app.bsky.feed.post/1"
    (tmp_path / "small").mkdir()
    return _build(tmp_path / "small", [("small", _write_jsonl(tmp_path / "small.jsonl", rows))])


def test_variety_figures_match_a_hand_count(small_archive, tmp_path):
    mine = tmp_path / "small.yaml"
    mine.write_text(
        "voices:\n  outside_sector: [e@three.example]\n  dissenting: [d.bsky.social]\n"
        "rank:\n  mix: {outside_sector: 2, dissenting: 1}\nkeep: 10\n",
        encoding="utf-8",
    )
    rows = [json.loads(line) for line in _report(small_archive, str(mine), "--since", "30d").splitlines()]
    figures = {row["item"]: row for row in rows if row["section"] in ("variety", "mix")}
    assert figures["kept posts"]["value"] == 10  # 3 + 2 + 1 + 1 + 1 + 1 + 1
    assert figures["distinct authors"]["value"] == 7
    assert figures["distinct instances"]["value"] == 4  # one, two, three.example and bsky.social
    assert figures["share of the top 5 authors"]["value"] == 0.8  # (3 + 2 + 1 + 1 + 1) / 10
    assert figures["share of the top 5 authors"]["detail"].startswith("a@one.example (3), b@one.example (2)")
    assert figures["outside_sector voices"]["value"] == 0.1
    assert "asks for 2 of 10 places (20%)" in figures["outside_sector voices"]["detail"]
    assert figures["dissenting voices"]["value"] == 0.1
    assert "asks for 1 of 10 places (10%)" in figures["dissenting voices"]["detail"]
    stale = [row for row in rows if row["section"] == "stale"]
    assert stale == []  # the one source kept something


def test_a_source_that_kept_nothing_is_listed(tmp_path):
    db = _build(
        tmp_path, [("junk", _write_jsonl(tmp_path / "junk.jsonl", [_row("z@x.example", 1, text="spam")]))]
    )
    rows = [json.loads(line) for line in _report(db, "--since", "30d").splitlines()]
    stale = [row for row in rows if row["section"] == "stale"]
    assert [row["item"] for row in stale] == ["file:junk"]
    assert "kept none" in stale[0]["detail"]


def test_hostile_names_do_not_inject_markup(archive, voices_filter, tmp_path):
    page = _report(archive, str(voices_filter), "--since", "2026-01-01", fmt="html")
    assert "<img" not in page and "href" not in page  # names are text, never tags or links
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page
    markdown = _report(archive, str(voices_filter), "--since", "2026-01-01", fmt="markdown")
    assert "<img" not in markdown.replace("\\<img", "")  # only ever escaped
    assert "\\<img src=x onerror=alert(1)\\>\\*bold\\*\\[a\\](javascript:x)@evil.example" in markdown
    out = tmp_path / "report.html"
    result = _invoke("voices", "report", "--db", str(archive), "--since", "2026-01-01", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_yaml_format_follows_the_shared_output_rules(archive, tmp_path):
    mismatch = _invoke(
        "voices", "suggest", "--db", str(archive), "--format", "json", "-o", str(tmp_path / "s.yaml")
    )
    assert mismatch.exit_code == 2
    assert "a yaml file name" in mismatch.stderr
    columns = _invoke("voices", "suggest", "--db", str(archive), "--format", "yaml", "--columns", "account")
    assert columns.exit_code == 2
    assert "--columns does not apply to yaml" in columns.stderr
    report = _invoke("voices", "report", "--db", str(archive), "-o", str(tmp_path / "r.yaml"))
    assert report.exit_code == 2  # the report has no yaml form
    assert not (tmp_path / "r.yaml").exists()
    chosen = _invoke(
        "voices",
        "suggest",
        "--db",
        str(archive),
        "--since",
        "2026-01-01",
        "--format",
        "csv",
        "--columns",
        "account,group,why",
    )
    assert chosen.exit_code == 0, chosen.output
    assert chosen.stdout.splitlines()[0] == "account,group,why"


def test_a_filter_name_with_a_quote_reaches_the_sql_as_a_bound_value(tmp_path):
    """The filter whose verdicts count is named by a parameter, never written into a statement: a
    quote, a comment marker and a NUL (which no statement's text may hold) in its name change nothing."""
    rows = [_row("a@one.example", n) for n in range(3)] + [_row("b@two.example", 3)]
    rows += [_row("z@one.example", 9, text="spam spam")]  # dropped by the rules
    source = _write_jsonl(tmp_path / "rows.jsonl", rows)
    mine = tmp_path / "quoted.yaml"
    mine.write_text(
        f'name: "it\'s \\"ours\\"\\0; --"\nsources:\n  - file: {source}\n    name: rows\n' + RULES,
        encoding="utf-8",
    )
    db = tmp_path / "archive.db"
    result = _invoke("run", str(mine), "--db", str(db), "--quiet")
    assert result.exit_code == 0, result.output
    report = [json.loads(line) for line in _report(db, str(mine), "--since", "30d").splitlines()]
    figures = {row["item"]: row["value"] for row in report if row["section"] == "variety"}
    assert figures["kept posts"] == 4
    assert figures["distinct authors"] == 2
    assert [row["item"] for row in report if row["section"] == "stale"] == []  # its source kept posts
    result = _invoke("voices", "suggest", str(mine), "--db", str(db), "--since", "30d", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    suggested = {row["account"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert suggested["a@one.example"]["kept_posts"] == 3
    assert suggested["a@one.example"]["why"] == "3 kept posts"
    assert suggested["b@two.example"]["kept_posts"] == 1
    assert "z@one.example" not in suggested  # every post of theirs dropped


def test_an_archive_not_yet_given_the_author_index_answers_the_same(tmp_path):
    """Read-only commands never upgrade an archive: one made before migration m010 has no
    `posts_by_author` index until its next run, and both commands say the same without it."""
    from plnfilter.store import open_archive

    fixture = ROOT / "tests/fixtures/archives/schema-009.db"
    before, after = tmp_path / "before.db", tmp_path / "after.db"
    shutil.copyfile(fixture, before)
    shutil.copyfile(fixture, after)
    open_archive(after).close()
    indexes = "SELECT name FROM sqlite_master WHERE name = 'posts_by_author'"
    assert sqlite3.connect(before).execute(indexes).fetchall() == []
    assert sqlite3.connect(after).execute(indexes).fetchall() == [("posts_by_author",)]
    voices = tmp_path / "voices.yaml"
    voices.write_text("voices:\n  trusted: [kate@edu.social.example, kate.test]\n", encoding="utf-8")
    answers = []
    for db in (before, after):
        common = (str(voices), "--db", str(db), "--since", "2026-01-01", "--format", "jsonl")
        suggested = _invoke("voices", "suggest", *common, "--limit", "100")
        report = _invoke("voices", "report", *common, "--follows", "file:*list*")
        assert suggested.exit_code == 0 and report.exit_code == 0, suggested.output + report.output
        answers.append((suggested.stdout, report.stdout))
    assert answers[0] == answers[1]
    assert len(answers[0][0].splitlines()) == 11  # every author with kept posts but the voice
    assert '"section":"variety","item":"kept posts","value":69' in answers[0][1]
