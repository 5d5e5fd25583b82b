"""`plnfilter check` on the mistakes people really make: each gets its own FILE:LINE and fix, all the
validation errors of a file come at once in line order, and the quoting advice never contradicts."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from plnfilter.cli import cli


def check(tmp_path, text: str, name: str = "pln.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(cli, ["check", str(path)]), str(path)


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


# (file text, the line named, the message, the fix)
OWN_MESSAGES = [
    pytest.param(
        "name: x\nsources:\n\t- file: a.json\n",
        3,
        "YAML syntax error: a tab indents this line, and YAML indents with spaces only",
        "replace the tab with spaces (two per level)",
        id="tab",
    ),
    pytest.param(
        "include:\n  - name: x\n  \ttags: [a]\n",
        3,
        "YAML syntax error: a tab indents this line",
        "replace the tab with spaces",
        id="tab-after-spaces",
    ),
    pytest.param(
        "name:\tx\ninclude:\n  - tags: [a]\n",
        1,
        "YAML syntax error: a tab in column 6, where YAML allows only spaces",
        "replace the tab with spaces",
        id="tab-after-key",
    ),
    pytest.param(
        "include:\n  - name: x\n     tags: [a]\n",
        3,
        "the key 'tags' is indented 1 space more than 'name' on line 2",
        "line 'tags:' up with 'name:' (start it in column 5)",
        id="over-indented-key",
    ),
    pytest.param(
        "name: x\n sources:\n  - file: a.json\n",
        2,
        "the key 'sources' is indented 1 space more than 'name' on line 1",
        "line 'sources:' up with 'name:' (start it in column 1)",
        id="over-indented-top-key",
    ),
    pytest.param(
        "sources:\n  - mastodon: m.example\n    # the tags\n\n       hashtags: [a]\n",
        5,
        "the key 'hashtags' is indented 3 spaces more than 'mastodon' on line 2",
        "start it in column 5",
        id="over-indented-after-comment",
    ),
    pytest.param(
        "include:\n  - name: x\n   tags: [a]\n",
        3,
        "the key 'tags' is indented 1 space less than 'name' on line 2",
        "line 'tags:' up with 'name:'",
        id="under-indented-key",
    ),
    pytest.param(
        "include:\n  - regex: a: b\n",
        2,
        "YAML syntax error: mapping values are not allowed here",
        "put values that contain ': ' in single quotes (for example regex: 'a: b')",
        id="colon-in-value",
    ),
    pytest.param(
        "include:\n  - tags:\n      - #edtech\n      - pln\n",
        3,
        "the item '- #edtech' is empty: YAML reads ' #' as the start of a comment",
        "put it in single quotes: - '#edtech' (or leave out the '#': - edtech)",
        id="dash-hashtag",
    ),
    pytest.param(
        "name: x\ndescription: all about #edtech\n",
        2,
        "YAML reads ' #edtech' as the start of a comment, so 'description' is cut to 'all about'",
        "put the whole value in single quotes: description: 'all about #edtech'",
        id="hash-in-text",
    ),
    pytest.param(
        "include:\n  - {name: x, words: [a]}\n  - text: it's free #giveaway\n",
        3,
        "YAML reads ' #giveaway' as the start of a comment, so 'text' is cut to \"it's free\"",
        "put the whole value in single quotes: text: 'it''s free #giveaway'",
        id="hash-in-text-with-apostrophe",
    ),
    pytest.param(
        "include:\n  - tags: edtech #pln\n",
        2,
        "YAML reads ' #pln' as the start of a comment, so 'tags' is cut to 'edtech'",
        "write each hashtag as a list item, without the '#': tags: [edtech, pln]",
        id="hash-after-tag",
    ),
    pytest.param(
        "include:\n  - tags:\n      - edtech #pln\n",
        3,
        "YAML reads ' #pln' as the start of a comment, so this item is cut to 'edtech'",
        "tags: [edtech, pln]",
        id="hash-after-tag-item",
    ),
    pytest.param(
        "include:\n  - tags: [#edtech, pln]\n",
        2,
        "YAML reads ' #' as the start of a comment, so this hashtag cut the line short",
        "put hashtags in single quotes ('#edtech') or leave out the '#'",
        id="hashtag-in-flow-list",
    ),
]


@pytest.mark.parametrize(("text", "line", "message", "fix"), OWN_MESSAGES)
def test_each_mistake_gets_its_own_message_line_and_fix(tmp_path, text, line, message, fix):
    result, path = check(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    shown = errors(result.stderr)
    assert len(shown) == 1, result.stderr
    assert shown[0].startswith(f"Error: {path}:{line}: {message}"), result.stderr
    assert fix in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "keep: 100  # a note\nname: x  # #hash in a real comment\n",
        "include:\n  - {name: x, words: [a]}  #edtech after a flow mapping is a comment\n",
        "description: 'all about #edtech'\nkeep: 10 # ten\n",
        "description: \"all about #edtech\"\ninclude:\n  - tags: ['#edtech', pln]\n",
        "description: all about C#, F# and issue#12\n",
    ],
)
def test_real_comments_and_quoted_hashes_are_fine(tmp_path, text):
    result, _ = check(tmp_path, text)
    assert result.exit_code == 0, result.stderr


def test_all_validation_errors_are_reported_in_line_order(tmp_path):
    text = (
        "sourcse: []\n"  # 1
        "description: all about #edtech\n"  # 2
        "include:\n"
        "  - {name: a, tag: [x], wrods: [y]}\n"  # 4: two unknown keys
        "  - {regex: '(bad'}\n"  # 5
        "  - {min_likes: -1, bot: maybe}\n"  # 6: two bad values
        "  - tags:\n"
        "      - #edtech\n"  # 8
        "sources:\n"
        "  - mastodon: m.example\n"
        "    hashtag: [a]\n"  # 11
        "  - file: x.json\n"
        "    nme: y\n"  # 13
        "keep: 0\n"  # 14
    )
    result, path = check(tmp_path, text)
    assert result.exit_code == 2
    shown = errors(result.stderr)
    lines = [int(re.match(rf"Error: {re.escape(path)}:(\d+): ", line).group(1)) for line in shown]
    assert lines == [1, 2, 4, 4, 5, 6, 6, 8, 11, 13, 14], result.stderr
    assert "unknown key 'tag'" in shown[2] and "unknown key 'wrods'" in shown[3]
    assert "'min_likes'" in shown[5] and "'bot'" in shown[6]
    assert "the item '- #edtech' is empty" in shown[7]
    assert "must be text, not nothing" not in result.stderr  # the cut explains line 8, once
    assert len(result.stderr.splitlines()) == 2 * len(shown)  # every error has its fix below it


def test_a_yaml_syntax_error_is_reported_alone(tmp_path):
    result, path = check(tmp_path, "sourcse: []\nkeep: 0\ninclude:\n  - {tags: [a]\n")
    assert result.exit_code == 2
    shown = errors(result.stderr)
    assert len(shown) == 1 and shown[0].startswith(f"Error: {path}:5: YAML syntax error"), result.stderr


def test_many_errors_show_twenty_then_a_count(tmp_path):
    text = "include:\n" + "".join(f"  - {{name: r{n}, min_likes: -1}}\n" for n in range(25))
    result, path = check(tmp_path, text)
    assert result.exit_code == 2
    shown = errors(result.stderr)
    assert len(shown) == 21
    assert shown[0].startswith(f"Error: {path}:2: ") and shown[19].startswith(f"Error: {path}:21: ")
    assert shown[20] == f"Error: and 5 more problems in {path}; fix these and check again"


def test_quoting_advice_never_contradicts_itself(tmp_path):
    """Every hint that tells how to quote says single quotes, the quoting that keeps backslashes."""
    texts = [
        "include:\n  - regex: '(unclosed'\n",
        'include:\n  - regex: "\\bslides\\b"\n',
        'include:\n  - regex: "\\d+ tips"\n',
        "include:\n  - regex: a: b\n",
        "include:\n  - tags: [#edtech]\n",
        "include:\n  - tags:\n      - #edtech\n",
        "description: all about #edtech\n",
        "include:\n  - all: 5\n",
        "include:\n  - text: 5\n",
    ]
    for text in texts:
        result, _ = check(tmp_path, text)
        assert result.exit_code == 2
        assert "double quotes" not in result.stderr.replace("in double quotes YAML reads", ""), result.stderr
        if "quote" in result.stderr.lower():
            assert "single quotes" in result.stderr or "'" in result.stderr


def test_check_reports_missing_file_sources(tmp_path):
    (tmp_path / "here.json").write_text("[]")
    (tmp_path / "folder").mkdir()
    text = "sources:\n  - file: here.json\n  - file: nope.json\n  - file: folder\n"
    result, path = check(tmp_path, text)
    assert result.exit_code == 2
    assert result.stdout == ""
    shown = errors(result.stderr)
    assert shown == [
        f"Error: {path}:3: the file source {tmp_path / 'nope.json'} does not exist",
        f"Error: {path}:4: the file source {tmp_path / 'folder'} is a directory, not a file",
    ]
    assert f"a relative path is read from the filter file's folder ({tmp_path})" in result.stderr
    (tmp_path / "nope.json").write_text("[]")
    result, _ = check(tmp_path, "sources:\n  - file: here.json\n  - file: nope.json\n")
    assert result.exit_code == 0, result.stderr
    assert "file" in result.stdout
