"""Each card of a digest says which `voices:` group its author is in ("trusted voice", "outside your
sector", "dissenting voice"), in Markdown, HTML and Atom, for `top FILTER`, `top` and `export`; an
author in no group gets no label, and a post that writes a label into its own text does not get one."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from plnfilter.cli import cli

HOSTILE_NAME = '<span class="voice voice-trusted">trusted voice</span> *x · trusted voice*'
AUTHORS = {  # author -> (the label its card must carry, or None; its display name; its text)
    "kate@edu.example": ("trusted voice", "Kate", "Peer feedback that works #edtech"),
    "skeptic@other.example": ("dissenting voice", "Sam Skeptic", "I doubt most #edtech claims"),
    "nurse@health.example": ("outside your sector", "Nora Nurse", "Simulation labs teach feedback #edtech"),
    "cat@misc.example": (None, HOSTILE_NAME, "[trusted voice]\n\n<b>trusted voice</b> #edtech"),
}
FILTER = """\
name: cards
sources:
  - file: statuses.json
include:
  - {name: topics, tags: [edtech]}
voices:
  trusted: ['@Kate@Edu.Example']
  outside_sector: [nurse@health.example]
  dissenting: [skeptic@other.example]
"""
ATOM = "{http://www.w3.org/2005/Atom}"
VOICE_SCHEME = "tag:plnfilter,2024:voice"


def status(number: int, author: str, name: str, text: str) -> dict:
    """A Mastodon status as the API returns it, posted `number` hours ago."""
    user, host = author.split("@")
    created = datetime.now(UTC) - timedelta(hours=number)
    return {
        "id": str(number),
        "uri": f"https://{host}/users/{user}/statuses/{number}",
        "url": f"https://{host}/@{user}/{number}",
        "account": {
            "id": str(number),
            "username": user,
            "acct": author,
            "display_name": name,
            "bot": False,
            "url": f"https://{host}/@{user}",
        },
        "content": "<p>" + text.replace("<", "&lt;").replace("\n", "<br>") + "</p>",
        "created_at": created.isoformat(),
        "visibility": "public",
        "language": "en",
        "tags": [{"name": "edtech"}],
        "favourites_count": 5 - number,
        "reblogs_count": 0,
        "replies_count": 0,
        "media_attachments": [],
        "mentions": [],
        "spoiler_text": "",
        "sensitive": False,
        "reblog": None,
    }


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    """An archive `plnfilter run` made with FILTER, which records FILTER's file."""
    statuses = [status(n, who, name, text) for n, (who, (_, name, text)) in enumerate(AUTHORS.items(), 1)]
    (tmp_path / "statuses.json").write_text(json.dumps(statuses), encoding="utf-8")
    filter_path = tmp_path / "cards.yaml"
    filter_path.write_text(FILTER, encoding="utf-8")
    db = tmp_path / "a.db"
    ran = CliRunner().invoke(cli, ["run", str(filter_path), "--db", str(db), "-q"])
    assert ran.exit_code == 0, ran.output
    return db, filter_path


def markdown_labels(text: str) -> dict[str, str | None]:
    """Author -> the voice label in the card's italic line of facts (network · instance · ...)."""
    found = {}
    for card in text.split("\n---\n"):
        heading = next(line for line in card.splitlines() if line.startswith("## "))
        author = re.search(r"@([\w.]+@[\w.]+)\)? · ", heading).group(1)
        facts = next(
            line
            for line in card.splitlines()
            if line.startswith("*") and line.endswith("*") and not line.endswith("\\*")
        )
        parts = facts.strip("*").split(" · ")
        labels = [part for part in parts if part.endswith(("voice", "sector"))]
        assert len(labels) <= 1, card
        found[author] = labels[0] if labels else None
    return found


class _Cards(HTMLParser):
    """Each <article>'s text, and the text of the `voice` badges (real elements, not escaped text) in it."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict] = []
        self.in_badge = False

    def handle_starttag(self, tag, attrs):
        if tag == "article":
            self.cards.append({"text": "", "badges": []})
        classes = (dict(attrs).get("class") or "").split()
        if tag == "span" and "voice" in classes:
            self.in_badge = True
            self.cards[-1]["badges"].append("")

    def handle_endtag(self, tag):
        if tag == "span":
            self.in_badge = False

    def handle_data(self, data):
        if self.cards:
            self.cards[-1]["text"] += data
            if self.in_badge:
                self.cards[-1]["badges"][-1] += data


def html_labels(text: str) -> dict[str, str | None]:
    parser = _Cards()
    parser.feed(text)
    found = {}
    for card in parser.cards:
        [author] = [who for who in AUTHORS if f"@{who}" in card["text"]]
        assert len(card["badges"]) <= 1, card
        found[author] = card["badges"][0] if card["badges"] else None
    return found


def atom_labels(text: str) -> dict[str, str | None]:
    """Author -> the label of the entry's voice category; the entry's text must open with it too."""
    found = {}
    for entry in ET.fromstring(text).iter(ATOM + "entry"):
        entry_id = entry.find(ATOM + "id").text
        [author] = [who for who in AUTHORS if f"/users/{who.split('@')[0]}/" in entry_id]
        voices = [c for c in entry.iter(ATOM + "category") if c.get("scheme") == VOICE_SCHEME]
        assert len(voices) <= 1
        content = entry.find(ATOM + "content").text
        if voices:
            assert content.startswith(f"[{voices[0].get('label')}]\n\n")
        found[author] = voices[0].get("label") if voices else None
    return found


PARSERS = {"markdown": markdown_labels, "html": html_labels, "atom": atom_labels}
EXPECTED = {who: label for who, (label, _, _) in AUTHORS.items()}


@pytest.mark.parametrize("fmt", list(PARSERS))
@pytest.mark.parametrize("command", ["top FILTER", "top", "export"])
def test_each_card_is_labelled_with_its_authors_voice_group(archive, command, fmt):
    db, filter_path = archive
    args = {
        "top FILTER": ["top", str(filter_path)],
        "top": ["top"],  # the groups of the file the archive records for its filter
        "export": ["export"],
    }[command]
    result = CliRunner().invoke(cli, [*args, "--db", str(db), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert PARSERS[fmt](result.stdout) == EXPECTED
    if fmt == "html":  # the hostile name is shown as text, never as a badge
        assert "&lt;span class=&#34;voice voice-trusted&#34;&gt;" in result.stdout


def test_top_gives_the_voice_group_to_programs_too(archive):
    db, filter_path = archive
    result = CliRunner().invoke(cli, ["top", str(filter_path), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    groups = {row["author"]: row["voice_group"] for row in json.loads(result.stdout)}
    assert groups == {
        "kate@edu.example": "trusted",
        "skeptic@other.example": "dissenting",
        "nurse@health.example": "outside_sector",
        "cat@misc.example": None,
    }
    chosen = CliRunner().invoke(
        cli, ["top", "--db", str(db), "--format", "csv", "--columns", "author,voice_group"]
    )
    assert chosen.exit_code == 0, chosen.output
    assert "kate@edu.example,trusted" in chosen.stdout.splitlines()


def test_readers_without_the_file_label_cards_with_the_groups_of_the_last_run_or_apply(archive):
    db, filter_path = archive
    text = filter_path.read_text(encoding="utf-8")
    filter_path.unlink()  # `export` and `top` never read the file: the archive recorded its groups
    for args in (["export"], ["top"]):
        result = CliRunner().invoke(cli, [*args, "--db", str(db), "--format", "markdown"])
        assert result.exit_code == 0, result.output
        assert markdown_labels(result.stdout) == EXPECTED and result.stderr == ""
    filter_path.write_text(text.replace("  trusted: ['@Kate@Edu.Example']\n", ""), encoding="utf-8")
    given = CliRunner().invoke(cli, ["top", str(filter_path), "--db", str(db), "--format", "markdown"])
    assert given.exit_code == 0, given.output
    assert markdown_labels(given.stdout)["kate@edu.example"] is None  # FILTER's own groups, as they are now
    before = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "markdown"])
    assert markdown_labels(before.stdout)["kate@edu.example"] == "trusted voice"  # as of the last run
    assert CliRunner().invoke(cli, ["apply", str(filter_path), "--db", str(db), "-q"]).exit_code == 0
    after = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "markdown"])
    assert markdown_labels(after.stdout) == {**EXPECTED, "kate@edu.example": None}
