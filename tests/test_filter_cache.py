"""Checked filter files remembered between runs (issue 14's start-up): an unchanged file read again
skips PyYAML, a changed one is always checked again, and errors read as they always did."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from plnfilter.cli import cli
from plnfilter.filterfile import cache, load
from plnfilter.judge import remembered_digest, rules_digest

ROOT = Path(__file__).resolve().parent.parent
FILTERS = sorted((ROOT / "filters").glob("*.yaml"))

RULES = """\
name: cached
sources:
  - file: samples/mastodon-tags.json
include:
  - name: topics
    tags: [edtech]
    boost: 1
  - name: asking
    regex: '(?i)any tips'
    boost: 0.5
"""


def cache_file(home: Path) -> Path:
    return home / "cache" / cache.CACHE_NAME


def write_keeping_time(path: Path, text: str) -> None:
    """Change the file's bytes but not its size or time stamp: only the bytes can tell."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("path", FILTERS, ids=lambda p: p.name)
def test_every_shipped_filter_comes_back_from_the_cache_as_it_was_checked(path, isolated_home):
    checked = load(path)
    assert cache_file(isolated_home).exists()
    remembered = load(path)
    assert remembered is not checked
    assert repr(remembered) == repr(checked)
    assert remembered == checked
    assert rules_digest(remembered) == rules_digest(checked)
    assert remembered_digest(remembered) == rules_digest(checked)


def test_a_changed_file_is_checked_again_even_with_the_same_size_and_time(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    original = load(path)
    assert original.include[0].boost == 1.0
    write_keeping_time(path, RULES.replace("boost: 1\n", "boost: 3\n"))
    changed = load(path)
    assert changed.include[0].boost == 3.0
    assert rules_digest(changed) != rules_digest(original)
    assert remembered_digest(changed) is None  # checked again, so its digest is worked out again
    assert load(path).include[0].boost == 3.0  # and now remembered in its new form


def test_a_file_made_invalid_gives_the_same_error_and_exit_code_as_with_no_cache(tmp_path, isolated_home):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "mastodon-tags.json").write_text("[]", encoding="utf-8")
    checked = CliRunner().invoke(cli, ["check", str(path)])
    assert checked.exit_code == 0, checked.stderr
    assert cache_file(isolated_home).exists()
    write_keeping_time(path, RULES.replace("    tags: [edtech]", "    tagz: [edtech]"))
    with_cache = CliRunner().invoke(cli, ["check", str(path)])
    cache_file(isolated_home).unlink()
    without = CliRunner().invoke(cli, ["check", str(path)])
    assert with_cache.exit_code == without.exit_code == 2
    assert with_cache.stderr == without.stderr
    assert f"Error: {path}:6: unknown key 'tagz' in an include rule" in with_cache.stderr
    assert "did you mean 'tags'?" in with_cache.stderr
    assert not cache_file(isolated_home).exists()  # a file that fails its checks is not remembered


def test_the_same_bytes_under_another_name_are_their_own_filter(tmp_path):
    """The path names the filter (`name:` defaults to its stem) and anchors its `file:` sources."""
    first = tmp_path / "one" / "a.yaml"
    second = tmp_path / "two" / "b.yaml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(RULES.replace("name: cached\n", ""), encoding="utf-8")
    for _ in range(2):
        assert (load(first).name, load(first).sources[0].target) == (
            "a",
            str(first.parent / "samples" / "mastodon-tags.json"),
        )
        assert (load(second).name, load(second).sources[0].target) == (
            "b",
            str(second.parent / "samples" / "mastodon-tags.json"),
        )


def test_the_cache_is_private_and_ignored_when_others_may_write_it(tmp_path, isolated_home):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    load(path)
    stored = cache_file(isolated_home)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    # Someone else's idea of the file, in a cache anyone may write: not used.
    doctored = stored.read_text(encoding="utf-8").replace('"boost": 1.0', '"boost": 9.0')
    assert doctored != stored.read_text(encoding="utf-8")
    stored.write_text(doctored, encoding="utf-8")
    stored.chmod(0o666)
    assert load(path).include[0].boost == 1.0


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"format": 1}',
        b'{"format": 99, "entries": {}}',
        b"\xff\xfe",
    ],
)
def test_a_damaged_cache_is_read_past_and_written_again(tmp_path, isolated_home, damage):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    expected = repr(load(path))
    cache_file(isolated_home).write_bytes(damage)
    assert repr(load(path)) == expected
    assert json.loads(cache_file(isolated_home).read_text(encoding="utf-8"))["format"] == cache.FORMAT
    assert repr(load(path)) == expected


def test_doctored_entries_never_build_anything_but_the_model(tmp_path, isolated_home):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    load(path)
    stored = json.loads(cache_file(isolated_home).read_text(encoding="utf-8"))
    (entry,) = stored["entries"].values()
    for doctored in (
        {"model": "Popen", "fields": {}},
        {"model": "FilterFile", "fields": {"name": "x", "path": "x", "nope": 1}},
        {"set": [1]},
        [1],
        "a string",
    ):
        entry["filter"] = doctored
        cache_file(isolated_home).write_text(json.dumps(stored), encoding="utf-8")
        assert load(path).include[0].name == "topics"


def test_new_code_checks_the_file_again(tmp_path, monkeypatch):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    load(path)
    assert cache.lookup(str(path), path.read_bytes()) is not None
    stamp = cache._code_stamp
    monkeypatch.setattr(cache, "_code_stamp", lambda dependencies: stamp(dependencies) + "\nedited")
    assert cache.lookup(str(path), path.read_bytes()) is None


def test_an_unwritable_cache_is_no_error(tmp_path, isolated_home):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "cache").write_text("a file where the folder would go", encoding="utf-8")
    assert load(path).include[1].conditions[0].value == ("(?i)any tips",)
    assert load(path).include[1].conditions[0].value == ("(?i)any tips",)


def test_a_remembered_filter_loads_neither_pyyaml_nor_regex_nor_its_checks(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(RULES, encoding="utf-8")
    probe = (
        "import sys\n"
        "from plnfilter.filterfile import load\n"
        "from plnfilter.judge import remembered_digest, rules_digest\n"
        "f = load(sys.argv[1])\n"
        "print(rules_digest(f), f.include[0].boost)\n"
        "print(sorted(m for m in ('yaml', 'regex', 'hashlib', 'plnfilter.filterfile.rule_syntax') if m in sys.modules))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, env=os.environ
        )
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    first, second = (run.stdout.splitlines() for run in runs)
    assert first[0] == second[0]  # the same digest, worked out once
    assert first[1] == "['hashlib', 'plnfilter.filterfile.rule_syntax', 'regex', 'yaml']"
    assert second[1] == "[]"
