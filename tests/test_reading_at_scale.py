"""Reads that must not touch every post of a large archive give the rows reading everything gives.

`query WORD --limit N` in score order walks the filter's kept posts by score when the word is common
(instead of joining and sorting every match), `--order relevance --limit N` ranks a bounded pool of
matches, and `top` scores candidates best first by a bound until its choice is settled. Each is
checked against the exhaustive answer on an archive made by `plnfilter run` and `apply`; the plan
checks guard the design (no sort of every match), not a timing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from plnfilter.digest import Ranking, build_digest, rescore, top_posts
from plnfilter.filterfile import load
from plnfilter.links import shared_links, top_links
from plnfilter.query import Selection, build_sql, select
from plnfilter.store import open_readonly
from plnfilter.store.select import plan
from plnfilter.times import parse_iso, to_iso

NOW = parse_iso("2026-11-26T12:00:00Z")
POSTS = 1300  # enough matches of the common word for the walk (its threshold is at least 1,000)
HOSTS = [
    "edu.example",
    "big.example",
    "other.example",
    "tiny.example",
    "a.example",
    "b.example",
    "c.example",
    "d.example",
]

FILTER_YAML = """\
name: scale-test
sources:
  - file: {posts}
exclude:
  - {{name: giveaways, words: [giveaway]}}
include:
  - {{name: topics, tags: [edtech, pln], boost: 1}}
  - {{name: resources, words: [toolkit, rubric], boost: 0.5}}
  - {{name: people, authors: [user7@edu.example], boost: 2}}
  - {{name: rest, words: [common]}}
voices:
  trusted: [user3@big.example, user11@other.example]
  outside_sector: [user5@tiny.example]
  dissenting: [user9@other.example]
rank:
  half_life: 6h
  weights: {{engagement: 1, recency: 2, boost: 1, trusted: 1.5}}
  max_per_author: 2
  max_per_instance: 5
  mix: {{outside_sector: 1, dissenting: 1}}
keep: 25
"""


def plnfilter(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "plnfilter", *map(str, args)], capture_output=True, text=True, check=False
    )


def _row(i: int) -> dict:
    """Post i: every one says `common`, one in 250 says `scarce`; counts, tags, links and times vary."""
    author = f"user{i % 23}@{HOSTS[i % len(HOSTS)]}"
    words = ["common", "words", ["toolkit", "rubric", "notes", "slides"][i % 4]]
    if i % 250 == 0:
        words.append("scarce")
    if i % 97 == 0:
        words.append("giveaway")
    return {
        "uri": f"https://{HOSTS[i % len(HOSTS)]}/users/u/statuses/{i}",
        "network": "mastodon",
        "author": author,
        "author_id": f"https://{HOSTS[i % len(HOSTS)]}/@u{i % 23}",
        "created_at": to_iso(NOW - timedelta(minutes=(i * 37) % (36 * 60))),
        "text": " ".join(words) + f" number {i}",
        "tags": [["edtech"], ["pln"], [], ["oer", "edtech"]][i % 4],
        "links": ([f"https://blog.example.org/{i % 40}"] if i % 3 == 0 else [])
        # and now and then two links no one else shares: tied on everything but their URLs (whose
        # order, http before https, is not their keys')
        + ([f"http://zz.example/{i}", f"https://aa.example/{i}"] if i % 11 == 0 else []),
        # Cards: the same articles written otherwise (one link per person with the post's), titled
        "card_url": f"http://www.blog.example.org/{i % 40}/?utm_source=x" if i % 5 == 0 else "",
        "card_title": f"Article {i % 40}, take {i % 3}" if i % 5 == 0 else "",
        "likes": (i * 7919) % 53,
        "reposts": (i * 104729) % 11,
        "replies": i % 5,
        "visibility": "followers" if i % 31 == 0 else "public",
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, Path]:
    """(archive, filter file): POSTS posts saved by `run`, judged by the filter."""
    folder = tmp_path_factory.mktemp("scale")
    posts = folder / "posts.jsonl"
    posts.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(POSTS)), encoding="utf-8")
    filter_file = folder / "scale-test.yaml"
    filter_file.write_text(FILTER_YAML.format(posts=posts), encoding="utf-8")
    path = folder / "archive.db"
    result = plnfilter("run", filter_file, "--db", path)
    assert result.returncode == 0, result.stderr
    return path, filter_file


def _uris(lines: str) -> list[str]:
    return [json.loads(line)["uri"] for line in lines.splitlines()]


def _plan(conn: sqlite3.Connection, selection: Selection) -> list[str]:
    sql, params = build_sql(selection, conn=conn)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def test_a_common_word_with_a_limit_walks_the_score_index_and_finds_the_top_posts(archive):
    path, _ = archive
    limited = plnfilter("query", "common", "--limit", "20", "--format", "jsonl", "--db", path)
    everything = plnfilter("query", "common", "--format", "jsonl", "--db", path)
    assert limited.returncode == everything.returncode == 0, limited.stderr + everything.stderr
    assert len(_uris(everything.stdout)) > 1000
    assert _uris(limited.stdout) == _uris(everything.stdout)[:20]
    conn = open_readonly(path)
    selection = Selection(text="common", syntax="catalogue", limit=20, filter="scale-test")
    assert plan(conn, selection) == "walk"
    steps = _plan(conn, selection)
    # The filter's kept posts in score order, each one asked of the index: no sort of every match.
    assert "verdicts_kept_by_score" in steps[0] and steps[0].startswith("SEARCH verdicts")
    assert "USE TEMP B-TREE FOR ORDER BY" not in steps


def test_a_rare_word_joins_its_few_matches_instead(archive):
    path, _ = archive
    conn = open_readonly(path)
    selection = Selection(text="scarce", syntax="catalogue", limit=3, filter="scale-test")
    assert plan(conn, selection) == "join"
    assert _plan(conn, selection)[0].startswith("SCAN posts_search")
    everything = [r["uri"] for r in select(conn, replace(selection, limit=None))]
    assert 3 < len(everything) < 10
    assert [r["uri"] for r in select(conn, selection)] == everything[:3]


@pytest.mark.parametrize(
    "flags", [{}, {"network": "mastodon"}, {"since": "2026-11-26T00:00:00Z"}, {"kept": None}]
)
def test_every_way_of_reading_a_common_word_gives_the_first_rows_of_the_whole_answer(archive, flags):
    path, _ = archive
    conn = open_readonly(path)
    selection = Selection(text="common", syntax="catalogue", limit=20, filter="scale-test", **flags)
    whole = [r["uri"] for r in select(conn, replace(selection, limit=None))]
    assert [r["uri"] for r in select(conn, selection)] == whole[:20]
    marked = list(select(conn, replace(selection, highlight=True)))  # the table's path, words marked
    assert [r["uri"] for r in marked] == whole[:20] and all(r["_highlight"] == ["common"] for r in marked)
    lines = select(conn, selection).json_lines()  # JSON Lines made by SQLite, as `--format jsonl` reads
    assert [json.loads(line)["uri"] for line in lines] == whole[:20]


def test_relevance_with_a_limit_ranks_the_newest_pool_of_matches(archive, monkeypatch):
    import plnfilter.store.select as select_module

    path, _ = archive
    conn = open_readonly(path)
    selection = Selection(text="common", syntax="catalogue", limit=10, filter="scale-test", order="relevance")
    ranked = [r["uri"] for r in select(conn, replace(selection, limit=None))]  # every match, best first
    assert [r["uri"] for r in select(conn, selection)] == ranked[:10]  # fewer than the pool: exact
    monkeypatch.setattr(select_module, "RELEVANCE_POOL", 100)
    newest = {
        uri
        for (uri,) in sqlite3.connect(path).execute(
            "SELECT p.uri FROM posts p JOIN verdicts v ON v.post_id = p.id AND v.kept = 1 "
            "WHERE p.text LIKE '%common%' ORDER BY p.id DESC LIMIT 100"
        )
    }
    assert [r["uri"] for r in select(conn, selection)] == [uri for uri in ranked if uri in newest][:10]


def _exhaustive(conn, ranking: Ranking, since, limit: int, public_only: bool = False):
    left_out: list[int] = []
    chosen = top_posts(
        rescore(conn, ranking, NOW, since, NOW, public_only=public_only, left_out=left_out),
        ranking.config,
        limit,
    )
    return [(item.post.uri, item.score.total) for item in chosen], left_out


def _scored(monkeypatch) -> list[int]:
    """Counts the posts `top` scores."""
    import plnfilter.digest as digest

    calls = [0]
    score = digest.score

    def counting(*args, **kwargs):
        calls[0] += 1
        return score(*args, **kwargs)

    monkeypatch.setattr(digest, "score", counting)
    return calls


@pytest.mark.parametrize("hours", [3, 24, 48])
@pytest.mark.parametrize("with_filter", [True, False])
@pytest.mark.parametrize("public_only", [False, True])
def test_top_scores_few_candidates_and_chooses_what_scoring_all_chooses(
    archive, monkeypatch, hours, with_filter, public_only
):
    path, filter_path = archive
    conn = open_readonly(path)
    filter_file = load(filter_path) if with_filter else None
    ranking = Ranking.from_filter(filter_file, "scale-test")
    since = NOW - timedelta(hours=hours)
    expected, hidden = _exhaustive(conn, ranking, since, 25, public_only)
    candidates = sum(1 for _ in rescore(conn, ranking, NOW, since, NOW))
    calls = _scored(monkeypatch)
    left_out: list[int] = []
    rows = build_digest(
        conn,
        filter_file,
        NOW,
        since,
        limit=25,
        filter_name="scale-test",
        public_only=public_only,
        left_out=left_out,
    )
    assert [(row["uri"], row["score"]) for row in rows] == expected
    assert left_out == hidden
    assert calls[0] < candidates / 2  # the bound settled the choice long before the last candidate


@pytest.mark.parametrize("hours", [3, 24, 48])
@pytest.mark.parametrize("public_only", [False, True])
def test_top_reads_the_window_by_time_or_by_id_range_and_chooses_the_same(
    archive, monkeypatch, hours, public_only
):
    import plnfilter.store.ranking as ranking_module

    path, filter_path = archive
    conn = open_readonly(path)
    filter_file = load(filter_path)
    since = NOW - timedelta(hours=hours)
    expected, hidden = _exhaustive(conn, Ranking.from_filter(filter_file), since, 25, public_only)
    plans = set()
    for clustered in (0.0, 1e9):  # never the id range; always (whatever the window's ids span)
        monkeypatch.setattr(ranking_module, "_CLUSTERED", clustered)
        plans.add(ranking_module._source(conn, "scale-test", since, NOW)[0].split()[0])
        left_out: list[int] = []
        rows = build_digest(
            conn, filter_file, NOW, since, limit=25, public_only=public_only, left_out=left_out
        )
        assert [(row["uri"], row["score"]) for row in rows] == expected
        assert left_out == hidden
    assert plans == {"posts", "verdicts"}


def test_the_window_sorted_in_two_queries_is_the_window_sorted_in_one(archive, monkeypatch):
    import plnfilter.digest as digest
    import plnfilter.store.ranking as ranking_module

    path, filter_path = archive
    conn = open_readonly(path)
    ranking = Ranking.from_filter(load(filter_path))
    terms = digest._score_terms(conn, ranking)
    since = NOW - timedelta(hours=48)

    def every_row(sorted_at_first: int, first_chunk: int) -> list[tuple[str, float, bool]]:
        monkeypatch.setattr(ranking_module, "_SORTED", sorted_at_first)
        rows, _ = ranking_module.best_first(
            conn,
            "scale-test",
            terms,
            NOW,
            since,
            None,
            None,
            current_only=True,
            public_only=False,
            first_chunk=first_chunk,
        )
        return [(row["uri"], bound, current) for row, bound, current in rows]

    whole = every_row(10**9, 64)
    assert len(whole) > 100 and len({uri for uri, _, _ in whole}) == len(whole)
    assert [bound for _, bound, _ in whole] == sorted((bound for _, bound, _ in whole), reverse=True)
    assert every_row(0, 1) == whole  # 4 rows sorted by the first query, the rest by the second


def test_top_judges_again_a_post_saved_after_its_verdict(archive, tmp_path):
    path, filter_path = archive
    copy = tmp_path / "archive.db"
    copy.write_bytes(path.read_bytes())
    filter_file = load(filter_path)
    since = NOW - timedelta(hours=24)
    conn = open_readonly(copy)
    best = build_digest(conn, filter_file, NOW, since, limit=5, filter_name="scale-test")[0]
    conn.close()
    # Another filter's run fetches the best post again, now a giveaway: scale-test's verdict on it
    # (kept) is older than the post's last save, so its rules must judge the post again.
    again = _row(int(best["uri"].rsplit("/", 1)[1]))
    again["text"] += " giveaway"
    posts = tmp_path / "again.jsonl"
    posts.write_text(json.dumps(again) + "\n", encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text(f"name: other\nsources:\n  - file: {posts}\n", encoding="utf-8")
    assert plnfilter("run", other, "--db", copy).returncode == 0
    conn = open_readonly(copy)
    rows = build_digest(conn, filter_file, NOW, since, limit=5, filter_name="scale-test")
    assert best["uri"] not in [row["uri"] for row in rows]
    expected, _ = _exhaustive(conn, Ranking.from_filter(filter_file), since, 5)
    assert [(row["uri"], row["score"]) for row in rows] == expected


def test_links_reads_only_posts_with_links_but_still_tells_an_empty_window(archive):
    path, _ = archive
    result = plnfilter("links", "--as-of", to_iso(NOW), "--since", "24h", "--format", "jsonl", "--db", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "No posts in this window" not in result.stderr
    empty = plnfilter("links", "--as-of", "2026-12-30T00:00:00Z", "--since", "24h", "--db", path)
    assert empty.returncode == 0 and "No posts in this window" in empty.stderr


@pytest.mark.parametrize("hours", [2, 24, None])
@pytest.mark.parametrize(("limit", "min_sharers"), [(1, 1), (5, 1), (20, 2), (None, 1), (3, 9)])
def test_links_grouped_by_sqlite_are_the_links_grouping_every_post_gives(archive, hours, limit, min_sharers):
    # 40 articles shared by 23 authors over and over: ties on sharers, best score and last share
    path, _ = archive
    conn = open_readonly(path)
    since = None if hours is None else NOW - timedelta(hours=hours)
    ranked = rescore(conn, Ranking.from_filter(None, "scale-test"), NOW, since, NOW, with_links=True)
    expected = top_links(
        ((item.post, item.score.total) for item in ranked), limit=limit, min_sharers=min_sharers
    )
    found = shared_links(conn, "scale-test", NOW, since, NOW, limit=limit, min_sharers=min_sharers)
    assert [link.as_row() for link in found] == [link.as_row() for link in expected]
    assert expected or min_sharers > 1


def test_links_cut_among_ties_as_grouping_every_post_cuts(archive):
    path, _ = archive
    conn = open_readonly(path)
    since = NOW - timedelta(hours=24)
    ranked = rescore(conn, Ranking.from_filter(None, "scale-test"), NOW, since, NOW, with_links=True)
    every = top_links(((item.post, item.score.total) for item in ranked), limit=None)
    facts = [(link.count, link.best_score, link.last_shared) for link in every]
    cut = next(p for p in range(1, len(facts)) if facts[p - 1] == facts[p])  # the limit falls inside a tie
    found = shared_links(conn, "scale-test", NOW, since, NOW, limit=cut)
    assert [link.as_row() for link in found] == [link.as_row() for link in every[:cut]]


def test_links_count_a_person_whose_name_sqlite_cannot_lower_once(tmp_path):
    # SQLite's lower() folds ASCII only: Ünal and ünal are one person, as Python's lower() says, so
    # Bo and Cy's link (two people) comes before theirs (one, better scored)
    shares = [
        ("Ünal@edu.example", "https://a.example/1", 10),
        ("ünal@EDU.example", "https://a.example/1", 9),
        ("Bo@edu.example", "https://b.example/1", 0),
        ("cy@edu.example", "https://b.example/1", 1),
    ]
    rows = [
        {
            "uri": f"https://edu.example/s/{i}",
            "network": "mastodon",
            "author": author,
            "text": "common",
            "created_at": to_iso(NOW - timedelta(minutes=i + 1)),
            "links": [link],
            "likes": likes,
        }
        for i, (author, link, likes) in enumerate(shares)
    ]
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    filter_file = tmp_path / "names.yaml"
    filter_file.write_text(f"name: names\nsources:\n  - file: {posts}\n", encoding="utf-8")
    path = tmp_path / "archive.db"
    assert plnfilter("run", filter_file, "--db", path).returncode == 0
    conn = open_readonly(path)
    [found] = shared_links(conn, "names", NOW, None, NOW, limit=1)
    assert (found.url, found.sharers) == ("https://b.example/1", ["cy@edu.example", "Bo@edu.example"])
    [again] = shared_links(conn, "names", NOW, None, NOW, limit=2, min_sharers=2)
    assert again.url == "https://b.example/1"
