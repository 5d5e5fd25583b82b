"""`plnfilter import-filters`: Mastodon filters and Bluesky muted words become exclude rules that load and work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from plnfilter.cli import PlnGroup
from plnfilter.cli.cmd_digest import COMMANDS
from plnfilter.errors import UsageError
from plnfilter.filterfile import load, parse
from plnfilter.import_filters import import_files, to_filter_yaml
from plnfilter.post import Post
from plnfilter.rules import compile_rules
from plnfilter.times import parse_iso

FIXTURES = Path(__file__).parent / "fixtures" / "filters"
MASTODON_V2 = FIXTURES / "mastodon-v2-filters.json"
MASTODON_V1 = FIXTURES / "mastodon-v1-filters.json"
MASTODON_SOCIAL = FIXTURES / "mastodon-social-v2-filters.json"
BLUESKY = FIXTURES / "bluesky-preferences.json"
AFTER_CAPTURE = parse_iso("2026-11-27T00:00:00Z")  # the short filters captured have expired by then
BEFORE_EXPIRY = parse_iso("2026-11-26T19:40:00Z")


def imported(paths, now=AFTER_CAPTURE):
    result = import_files(list(paths), now)
    text = to_filter_yaml(result, now)
    return result, text, parse(text, "imported.yaml")


def rules_by_name(filter_file):
    return {rule.name: {c.key: c.value for c in rule.conditions} for rule in filter_file.exclude}


def verdict(filter_file, **fields):
    return compile_rules(filter_file).evaluate(Post(uri="x", network="mastodon", **fields), AFTER_CAPTURE)


def test_mastodon_v2_filters_whole_words_substrings_and_skips():
    result, _text, filter_file = imported([MASTODON_V2])
    assert [rule.name for rule in filter_file.exclude] == [
        "crypto-spam",
        "election-fatigue",
        "spoilers-this-week",
    ]
    crypto = rules_by_name(filter_file)["crypto-spam"]
    [words_rule, text_rule] = crypto["any"]
    assert words_rule.conditions[0].key == "words" and words_rule.conditions[0].value == ("airdrop", "NFT")
    assert text_rule.conditions[0].key == "text" and text_rule.conditions[0].value == ("crypto",)
    assert any("'Just a few seconds' expired" in reason for reason in result.skipped)
    assert any("'Mentions only' applies only to notifications" in reason for reason in result.skipped)


def test_imported_mastodon_rules_match_as_mastodon_would():
    _result, _text, filter_file = imported([MASTODON_V2])
    assert verdict(filter_file, text="Claim your AIRDROP now").dropped_by == "crypto-spam"
    assert verdict(filter_file, text="cryptocurrency explained").dropped_by == "crypto-spam"  # substring
    assert verdict(filter_file, text="NFTs are back").kept  # whole word: NFT is not NFTs
    assert verdict(filter_file, text="Results are in #Election2026").dropped_by == "election-fatigue"
    assert verdict(filter_file, text="What the polls say today").dropped_by == "election-fatigue"
    assert verdict(filter_file, text="Open pedagogy reading list").kept


def test_an_expiry_in_the_future_is_imported_and_noted():
    result, text, filter_file = imported([MASTODON_V2], now=BEFORE_EXPIRY)
    assert "just-a-few-seconds" in rules_by_name(filter_file)
    assert "expires 2026-11-26T19:42:45Z on Mastodon" in text
    assert not any("expired" in reason for reason in result.skipped)


def test_mastodon_v1_and_a_real_mastodon_social_answer():
    result, _text, filter_file = imported([MASTODON_V1, MASTODON_SOCIAL])
    rules = rules_by_name(filter_file)
    assert rules["airdrop"] == {"words": ("airdrop",)}
    assert rules["polls-say"] == {"text": ("polls say",)}
    assert rules["animes"] == {"text": ("animes",)}
    assert any("'animes' also hides 1 chosen post" in reason for reason in result.skipped)


def test_bluesky_muted_words_become_tags_words_and_phrases():
    result, text, filter_file = imported([BLUESKY])
    assert rules_by_name(filter_file) == {
        "bluesky-muted-tags": {
            "tags": ("airdrop", "nft", "finale")
        },  # Bluesky checks every muted word against tags
        "bluesky-muted-words": {"words": ("airdrop", "finale")},  # targets include content
        "bluesky-muted-phrases": {"text": ("hot take", "🚀")},  # spaces and single characters: substrings
    }
    assert any("'flashsale' expired" in reason for reason in result.skipped)
    assert "Bluesky skips hot take for people you follow" in text
    assert verdict(filter_file, text="my hot take on rubrics").dropped_by == "bluesky-muted-phrases"
    assert verdict(filter_file, text="new drop", tags=("nft",)).dropped_by == "bluesky-muted-tags"
    assert verdict(filter_file, text="nft").kept  # nft was muted for tags only


def test_several_files_never_give_two_rules_one_name():
    _result, _text, filter_file = imported([MASTODON_V2, MASTODON_V2, BLUESKY, BLUESKY])
    names = [rule.name for rule in filter_file.exclude]
    assert len(names) == len(set(names)) == 12
    assert "crypto-spam-2" in names and "bluesky-muted-tags-2" in names


def test_hostile_titles_and_keywords_stay_data(tmp_path):
    """Hand-written: a title that tries to inject YAML, keywords with YAML and regex syntax."""
    hostile = [
        {
            "id": "1",
            "title": "evil\n- name: keep-everything\n  tags: [x]\u2028# \u0085",
            "context": ["home"],
            "expires_at": None,
            "filter_action": "hide",
            "keywords": [
                {"id": "1", "keyword": "key: value", "whole_word": False},
                {"id": "2", "keyword": "a.*b", "whole_word": True},
                {"id": "3", "keyword": "'quoted' \"both\"", "whole_word": False},
            ],
            "statuses": [],
        }
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(hostile))
    _result, text, filter_file = imported([path])
    assert [rule.name for rule in filter_file.exclude] == ["evil-name-keep-everything-tags-x"]
    assert verdict(filter_file, text="a key: value pair").dropped_by
    assert verdict(filter_file, text="aXXb").kept  # a.*b is a literal word, never a regex
    assert verdict(filter_file, text="say 'quoted' \"both\" here").dropped_by


def test_files_that_are_not_filters_are_refused_with_a_next_step(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text('{"hello": "world"}')
    with pytest.raises(UsageError) as error:
        import_files([path], AFTER_CAPTURE)
    assert "/api/v2/filters" in error.value.hint
    path.write_text("not json")
    with pytest.raises(UsageError):
        import_files([path], AFTER_CAPTURE)


def test_command_writes_a_filter_file_and_will_not_overwrite_one(tmp_path):
    cli = PlnGroup(commands={command.name: command for command in COMMANDS})
    out = tmp_path / "muted.yaml"
    result = CliRunner().invoke(cli, ["import-filters", str(MASTODON_V2), str(BLUESKY), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Wrote" in result.stderr and "exclude rule(s)" in result.stderr and "skipped" in result.stderr
    names = [rule.name for rule in load(out).exclude]
    assert names[:1] == ["crypto-spam"] and "bluesky-muted-phrases" in names
    again = CliRunner().invoke(cli, ["import-filters", str(MASTODON_V2), "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = CliRunner().invoke(cli, ["import-filters", str(MASTODON_V1), "-o", str(out), "--force"])
    assert forced.exit_code == 0
    assert [rule.name for rule in load(out).exclude][0] == "airdrop"
    nothing = CliRunner().invoke(cli, ["import-filters"])
    assert nothing.exit_code == 2 and "nothing to import" in nothing.stderr


@pytest.mark.mastodon
def test_command_fetches_filters_from_a_mastodon_server(tmp_path, monkeypatch):
    from mastodon_mock.testing.server import MockServer

    cli = PlnGroup(commands={command.name: command for command in COMMANDS})
    out = tmp_path / "live.yaml"
    with MockServer() as server:
        alice = server.client("alice")
        alice.create_filter_v2(
            "Crypto spam",
            ["home", "public"],
            "hide",
            keywords_attributes=[{"keyword": "airdrop", "whole_word": True}],
        )
        alice.create_filter_v2(
            "Only mentions",
            ["notifications"],
            "hide",
            keywords_attributes=[{"keyword": "x", "whole_word": False}],
        )
        anonymous = CliRunner().invoke(cli, ["import-filters", "--mastodon", server.base_url, "-o", str(out)])
        assert anonymous.exit_code == 1
        assert "needs your access token" in anonymous.stderr and "plnfilter auth mastodon" in anonymous.stderr
        assert not out.exists()
        monkeypatch.setenv(
            "PLNFILTER_MASTODON_TOKEN", "alice_token"
        )  # mastodon-mock's seeded token for alice
        result = CliRunner().invoke(cli, ["import-filters", "--mastodon", server.base_url, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert rules_by_name(load(out)) == {"crypto-spam": {"words": ("airdrop",)}}
    assert "'Only mentions' applies only to notifications" in result.stderr
