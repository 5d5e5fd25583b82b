"""Datasette serving an archive with `plnfilter datasette-metadata`, as the README tells a user to:
the real server on a loopback port, read through its JSON API and its pages, and compared with
what plnfilter's own `query` and `links` say about the same archive."""

from __future__ import annotations

import html
import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from servers.mastodon_mock import free_port

from plnfilter.cli import cli
from plnfilter.links import link_key

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90
# A second filter on the same archive, so the views hold the verdicts of two filters.
SECOND = """\
name: second
sources:
  - file: {samples}/mastodon-list.json
exclude:
  - {{name: no-bots, bot: true}}
include:
  - {{name: open-resources, tags: [oer]}}
"""
POST_FACETS = {"network": "column", "tags": "array", "lang": "column", "author": "column"}


@dataclass
class Served:
    base: str
    db: Path
    metadata: dict
    env: dict

    def json(self, path: str, **params) -> dict:
        response = requests.get(f"{self.base}{path}", params=params, timeout=60)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()

    def page(self, path: str) -> str:
        response = requests.get(f"{self.base}{path}", timeout=60)
        assert response.status_code == 200, (path, response.status_code)
        return response.text

    def rows(self, table: str, **params) -> list[dict]:
        """Every row of a table or view the way a client pages through it: `_next` until there is none."""
        rows, params = [], {"_shape": "objects", "_size": "max", **params}
        while True:
            found = self.json(f"/pln/{table}.json", **params)
            rows += found["rows"]
            if not found.get("next"):
                return rows
            params["_next"] = found["next"]

    def plnfilter(self, *args) -> list[dict]:
        """A plnfilter command on the served archive, its JSON lines parsed."""
        command = [*map(str, args), "--format", "jsonl", "--db", str(self.db)]
        result = CliRunner().invoke(cli, command, env=self.env)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]


def invoke(env: dict, *args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def start_datasette(db: Path, metadata: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`datasette serve` on a free loopback port, waited for by polling /-/versions.json. The machine
    is shared, so its time limits are raised: a busy moment must not cut a facet short."""
    for _attempt in range(3):  # a free port can be taken before the server binds it: try another
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(db),
            "--metadata",
            str(metadata),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--setting",
            "sql_time_limit_ms",
            "60000",
            "--setting",
            "facet_time_limit_ms",
            "60000",
            "--setting",
            "suggest_facets",
            "off",
        ]
        with open(log, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/-/versions.json", timeout=5).ok:
                    return process, base
            except requests.RequestException:
                pass
            time.sleep(0.1)
        stop(process)
    raise RuntimeError(f"datasette did not start: {log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The demo archive with a second filter applied, its metadata written by the CLI, served."""
    work = tmp_path_factory.mktemp("datasette")
    env = {"PLNFILTER_HOME": str(work / "home"), "PLNFILTER_DB": None}
    db = work / "pln.db"
    invoke(env, "run", ROOT / "filters" / "demo.yaml", "--db", db, "-q")
    second = work / "second.yaml"
    second.write_text(SECOND.format(samples=ROOT / "filters" / "samples"), encoding="utf-8")
    invoke(env, "apply", second, "--db", db, "-q")
    metadata = work / "metadata.json"
    metadata.write_text(invoke(env, "datasette-metadata", "--db", db), encoding="utf-8")
    process, base = start_datasette(db, metadata, work / "datasette.log")
    try:
        yield Served(base, db, json.loads(metadata.read_text(encoding="utf-8")), env)
    finally:
        stop(process)


def tables_of(served: Served) -> dict:
    return served.metadata["databases"]["pln"]["tables"]


def test_every_table_and_view_shows_its_title_and_description(served):
    database = served.json("/pln.json")
    visible = [t["name"] for t in database["tables"] if not t["hidden"]] + [
        v["name"] for v in database["views"]
    ]
    assert {"posts", "verdicts", "kept_posts", "dropped_posts", "link_sharers"} <= set(visible)
    configured = tables_of(served)
    for name in visible:
        entry = configured.get(name)
        assert entry and entry.get("title") and entry.get("description"), f"{name} has no title/description"
        page = html.unescape(served.page(f"/pln/{name}"))
        assert f"<h1>{entry['title']}" in page and entry["description"] in page, name
    hidden = {t["name"] for t in database["tables"] if t["hidden"]}
    assert {"posts_fts", "_migrations", "settings"} <= hidden
    index = served.page("/")
    assert (
        html.escape(served.metadata["title"]) in index
        and html.escape(served.metadata["description"]) in index
    )


@pytest.mark.parametrize("words", ["edtech", "rubric", "open textbooks"])
def test_full_text_search_finds_the_posts_plnfilter_query_finds(served, words):
    found = served.rows("posts", _search=words, _col="uri")
    expected = served.plnfilter(
        "query", words, "--exact", "--all", "--filter", "demo", "--limit", 100_000, "--columns", "uri"
    )
    assert expected, f"the demo archive has no post with {words!r}"
    assert sorted(r["uri"] for r in found) == sorted(r["uri"] for r in expected)
    counted = served.json("/pln/posts.json", _search=words, _size=0)["filtered_table_rows_count"]
    assert counted == len(expected)


def facets(served: Served, table: str, **params) -> dict[str, dict]:
    found = served.json(f"/pln/{table}.json", _size=0, _facet_size="max", **params)
    assert not found.get("facets_timed_out"), found.get("facets_timed_out")
    results = found["facet_results"]
    for name, result in results.items():
        assert not result["truncated"], name
    return results


def counts(result: dict) -> Counter:
    return Counter({r["value"]: r["count"] for r in result["results"]})


def test_every_configured_facet_is_served(served):
    for table, entry in tables_of(served).items():
        wanted = {
            (f["array"], "array") if isinstance(f, dict) else (f, "column") for f in entry.get("facets", [])
        }
        served_facets = {(name, r["type"]) for name, r in facets(served, table).items()}
        assert served_facets == wanted, table


@pytest.mark.parametrize("search", [None, "edtech"], ids=["all posts", "searched"])
def test_post_facets_count_what_plnfilter_query_reads(served, search):
    params = {"_search": search} if search else {}
    results = facets(served, "posts", **params)
    assert POST_FACETS.items() <= {name: r["type"] for name, r in results.items()}.items()
    words = [search, "--exact"] if search else []
    posts = served.plnfilter(
        "query",
        *words,
        "--all",
        "--filter",
        "demo",
        "--limit",
        100_000,
        "--columns",
        "uri,network,tags,lang,author,visibility",
    )
    for name in ("network", "lang", "author", "visibility"):
        assert counts(results[name]) == Counter(p[name] for p in posts if p[name] is not None), name
    assert counts(results["tags"]) == Counter(tag for p in posts for tag in set(p["tags"]))
    assert sum(counts(results["network"]).values()) == len(posts)


@pytest.mark.parametrize("name", ["demo", "second"])
def test_kept_posts_view_holds_each_filters_kept_posts_with_score_and_reasons(served, name):
    rows = served.rows("kept_posts", filter=name)
    expected = served.plnfilter(
        "query", "--filter", name, "--limit", 100_000, "--columns", "uri,score,matched,network,lang,author"
    )
    assert expected
    assert sorted((r["uri"], r["score"], json.loads(r["matched"])) for r in rows) == sorted(
        (p["uri"], p["score"], p["matched"]) for p in expected
    )
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)  # the metadata's sort: best first
    results = facets(served, "kept_posts", filter=name)
    assert counts(results["filter"]) == Counter({name: len(expected)})
    for column in ("network", "lang", "author"):
        assert counts(results[column]) == Counter(p[column] for p in expected if p[column] is not None)
    kept = {f["name"]: f["kept"] for f in served.plnfilter("filters")}
    assert counts(facets(served, "kept_posts")["filter"]) == Counter(kept)


@pytest.mark.parametrize("name", ["demo", "second"])
def test_dropped_posts_view_names_the_rule_that_dropped_each_post(served, name):
    rows = served.rows("dropped_posts", filter=name)
    expected = served.plnfilter(
        "query", "--dropped", "--filter", name, "--limit", 100_000, "--columns", "uri,dropped_by"
    )
    assert any(p["dropped_by"] for p in expected)
    assert sorted((r["uri"], r["dropped_by"]) for r in rows) == sorted(
        (p["uri"], p["dropped_by"]) for p in expected
    )
    by_rule = Counter(p["dropped_by"] for p in expected if p["dropped_by"] is not None)
    assert counts(facets(served, "dropped_posts", filter=name)["dropped_by"]) == by_rule


def test_link_sharers_view_holds_every_link_with_its_sharer(served):
    rows = served.rows("link_sharers")
    posts = served.plnfilter(
        "query", "--all", "--filter", "demo", "--limit", 100_000, "--columns", "uri,author,links"
    )
    assert sorted((r["uri"], r["author"], r["link"]) for r in rows) == sorted(
        (p["uri"], p["author"], link) for p in posts for link in p["links"]
    )
    # `plnfilter links` counts the people who shared each link in the filter's kept posts (the demo's
    # link cards are among the posts' links): the view, narrowed to those posts, names the same people
    kept = {
        p["uri"]
        for p in served.plnfilter("query", "--filter", "demo", "--limit", 100_000, "--columns", "uri")
    }
    sharers: dict[str, set[str]] = {}
    for row in rows:
        if row["uri"] in kept:
            sharers.setdefault(link_key(row["link"]), set()).add(row["author"].lower())
    shared = served.plnfilter(
        "links", "--filter", "demo", "--as-of", "newest", "--since", "2000-01-01", "--limit", 100_000
    )
    assert len(shared) > 1 and any(link["count"] > 1 for link in shared)
    assert {link_key(link["url"]): {a.lower() for a in link["shared_by"]} for link in shared} == sharers
    link = next(link for link in shared if link["count"] > 1)
    by_author = counts(facets(served, "link_sharers", link=link["url"])["author"])
    assert {a.lower() for a in by_author} == {a.lower() for a in link["shared_by"]}


def test_a_run_writes_while_datasette_serves_and_datasette_sees_it(served, tmp_path):
    """Datasette opens the archive read-only: a writer is not blocked, and its rows show at once."""
    db = tmp_path / "pln.db"
    with sqlite3.connect(served.db) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    copy.close()
    process, base = start_datasette(db, served.db.parent / "metadata.json", tmp_path / "datasette.log")
    try:
        here = Served(base, db, served.metadata, served.env)
        assert set(counts(facets(here, "kept_posts")["filter"])) == {"demo", "second"}
        third = tmp_path / "third.yaml"
        third.write_text(
            (served.db.parent / "second.yaml").read_text().replace("second", "third"), encoding="utf-8"
        )
        invoke(served.env, "apply", third, "--db", db, "-q", "--wait", 0)
        kept = {f["name"]: f["kept"] for f in here.plnfilter("filters")}
        assert counts(facets(here, "kept_posts")["filter"]) == Counter(kept) and "third" in kept
    finally:
        stop(process)
