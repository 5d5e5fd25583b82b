"""Adding a network is one package and one line in the registry (docs/adding-a-network.md): a toy
network, written by this test into a temp directory and registered with one line, is checked in a
filter file, fetched, judged by the rules, ranked and archived with no other change to plnfilter."""

from __future__ import annotations

import sqlite3
import sys
from datetime import timedelta

import pytest

from plnfilter.errors import FilterFileError
from plnfilter.filterfile import parse
from plnfilter.pipeline import run_filter
from plnfilter.sources import registry
from plnfilter.times import now_utc

TOY = '''
"""A network whose timelines serve the words of its filter-file source as posts."""

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.model import SourceSpec
from plnfilter.post import Post
from plnfilter.sources import Page

NAME = "toy"
MAKES_POSTS = True
HAS_COUNTS = False
KIND_SYNONYMS = ("plaything",)
OPTIONS = ("words", "name")


def parse_source(head, options, path, line):
    for key in options:
        if key not in OPTIONS:
            raise FilterFileError(path, options.key_lines[key], f"unknown key {key!r} for a toy source", "use words:")
    return SourceSpec(NAME, str(head), {"words": list(options.get("words") or [])}, line, f"toy {head}")


class ToyTimeline:
    def __init__(self, spec):
        self.name = f"toy:{spec.target}"
        self.network = NAME
        self.host = "toy.invalid"
        self.spec = f"toy: {spec.target}"
        self.words = spec.options["words"]

    def fetch(self, cursor, ctx):
        if cursor != "all":
            yield Page([to_post({"id": i, "text": w}, self.name) for i, w in enumerate(self.words)], "all")


def timelines(spec):
    return [ToyTimeline(spec)]


def recognises(raw):
    return isinstance(raw, dict) and raw.get("toy") is True


def to_post(raw, source=""):
    return Post(
        uri=f"toy://{raw['id']}",
        network=NAME,
        author=f"player{raw['id']}",
        text=raw["text"],
        created_at="2026-12-01T00:00:00Z",
        source=source,
    )


def instance_of(author):
    return ""
'''

FILTER = """name: toys
sources:
  - toy: box
    words: [open textbooks for all, spam spam spam]
exclude:
  - name: no-spam
    words: [spam]
include:
  - name: toys-only
    network: toy
"""


@pytest.fixture
def toy_network(tmp_path, monkeypatch):
    (tmp_path / "toynet").mkdir()
    (tmp_path / "toynet" / "__init__.py").write_text(TOY, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.NETWORKS, "toy", "toynet")  # the one line
    registry.network.cache_clear()
    yield
    registry.network.cache_clear()
    sys.modules.pop("toynet", None)


def test_a_registered_package_is_a_network_for_the_whole_house(toy_network, tmp_path):
    filter_file = parse(FILTER, str(tmp_path / "toys.yaml"))
    assert [spec.kind for spec in filter_file.sources] == ["toy"]
    db = tmp_path / "archive.db"

    report = run_filter(filter_file, db, since=now_utc() - timedelta(days=7))

    entry = report.sources["toy:box"]
    assert (report.status, entry.fetched, entry.new, entry.kept) == ("ok", 2, 2, 1)
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT network, text, kept FROM posts JOIN verdicts ON verdicts.post_id = posts.id ORDER BY text"
        ).fetchall()
        cursor = conn.execute("SELECT cursor FROM sources WHERE name = 'toy:box'").fetchone()
    finally:
        conn.close()
    assert rows == [("toy", "open textbooks for all", 1), ("toy", "spam spam spam", 0)]
    assert cursor == ("all",)
    assert run_filter(filter_file, db, since=now_utc()).sources["toy:box"].fetched == 0  # its cursor held


def test_its_filter_file_checks_and_names_reach_the_messages(toy_network, tmp_path):
    path = str(tmp_path / "toys.yaml")
    with pytest.raises(FilterFileError) as caught:
        parse("name: t\nsources:\n  - toy: box\n    colour: red\n", path)
    assert caught.value.line == 4 and "toy source" in caught.value.message
    with pytest.raises(FilterFileError) as caught:
        parse("name: t\nsources:\n  - plaything: box\n", path)
    assert "'toy'" in caught.value.hint  # its synonym points at its kind
    with pytest.raises(FilterFileError) as caught:
        parse("name: t\nsources:\n  - toy: box\ninclude:\n  - network: toys\n", path)
    assert caught.value.line == 5 and "`network: toy`" in caught.value.hint
