"""`voices:` groups in rules: trusted people are kept without listing them twice; `explain` names
a post's language, visibility and voice group."""

from __future__ import annotations

from click.testing import CliRunner

from plnfilter.cli import cli
from plnfilter.filterfile import parse
from plnfilter.post import Post
from plnfilter.rules import compile_rules

FILTER = """\
name: voices
exclude:
  - {name: no-dissent-on-sundays, all: [{voices: [dissenting]}, {words: [sunday]}]}
include:
  - {name: edtech, tags: [edtech]}
  - {name: people-i-trust, voices: [trusted]}
voices:
  trusted: ['@Kate@Edu.Example', adjoa.bsky.social]
  dissenting: [skeptic@other.example]
"""


def post(author: str, text: str = "hello", tags: tuple[str, ...] = ()) -> Post:
    return Post(uri=f"u:{author}:{text}", network="mastodon", author=author, text=text, tags=tags)


def test_a_voices_condition_matches_the_people_of_the_groups_named():
    rules = compile_rules(parse(FILTER))
    kept = rules.evaluate(post("kate@edu.example"))
    assert kept.kept and kept.matched == ("people-i-trust",)
    assert rules.evaluate(post("adjoa.bsky.social")).kept
    assert not rules.evaluate(post("someone@else.example")).kept
    assert rules.evaluate(post("skeptic@other.example", tags=("edtech",))).kept
    dropped = rules.evaluate(post("skeptic@other.example", "see you sunday", ("edtech",)))
    assert not dropped.kept and dropped.dropped_by == "no-dissent-on-sundays"


def test_an_unknown_voice_group_is_refused_at_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("include:\n  - {name: mine, voices: [friends]}\n")
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2" in result.output and "unknown voice group 'friends'" in result.output
    assert "trusted, outside_sector, dissenting" in result.output


def test_check_shows_the_voices_condition(tmp_path):
    path = tmp_path / "voices.yaml"
    path.write_text(FILTER)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0 and "by the voices trusted" in result.output


def test_explain_names_language_visibility_and_voice_group(tmp_path):
    from seeded_archive import FILTER_YAML, build_archive, write_filter

    db = build_archive(tmp_path / "a.db")
    filter_path = write_filter(tmp_path)
    assert "kate@edu.example" in FILTER_YAML
    query = CliRunner().invoke(
        cli, ["query", "--db", str(db), "--author", "kate@edu.example", "--format", "jsonl"]
    )
    uri = query.output.splitlines()[0].split('"uri":"')[1].split('"')[0]
    result = CliRunner().invoke(cli, ["explain", uri, str(filter_path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "visible to public" in result.output and "voice group trusted" in result.output
    assert "language " in result.output
