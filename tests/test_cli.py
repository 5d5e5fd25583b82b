"""The CLI's promises that hold for every command: help, README, exit codes, streams."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from plnfilter.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def all_commands(group: click.Group = cli, prefix: str = ""):
    for name, command in group.commands.items():
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + name + " ")


@pytest.mark.parametrize("name,command", list(all_commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help_and_readme_entry(name, command):
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert command.help and len(command.help.strip()) > 20
    assert f"`{name.split()[0]}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_top_level_help_documents_exit_codes():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for code in ("0", "1", "2", "3", "75"):
        assert f"  {code} " in result.output


def test_bad_flag_exits_2():
    result = CliRunner().invoke(cli, ["query", "--no-such-flag"])
    assert result.exit_code == 2
    assert "no such option" in result.output.lower()


def test_bad_since_exits_2_with_accepted_forms(tmp_path):
    result = CliRunner().invoke(cli, ["query", "--since", "yesterdayish", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2
    assert "24h" in result.output


def test_query_without_archive_is_an_error_not_a_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["query", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "plnfilter run" in result.output
    assert not (tmp_path / "missing.db").exists()


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "plnfilter", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "plnfilter" in result.stdout


def test_query_imports_neither_sdk(tmp_path):
    """`query` must stay fast for cron and pipelines: no atproto, no Mastodon.py."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['plnfilter', 'query', '--db', sys.argv[1], '--format', 'jsonl']\n"
        "try:\n    runpy.run_module('plnfilter', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(__import__('json').dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('atproto', 'mastodon', 'rich', 'sqlite_utils', 'yaml'))), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "none.db")], capture_output=True, text=True
    )
    loaded = json.loads(result.stderr.strip().splitlines()[-1])
    assert [m for m in loaded if m.split(".")[0] in ("atproto", "mastodon")] == []
