"""The CLI's promises that hold for every command: help, README, exit codes, streams."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from plnfilter.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def all_commands(group: click.Group = cli, prefix: str = ""):
    for name in group.list_commands(None):
        command = group.get_command(None, name)
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


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "plnfilter",
            "run",
            str(ROOT / "filters" / "demo.yaml"),
            "--db",
            str(db),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return db


READING_COMMANDS = [
    ("query", "--format", "jsonl"),
    ("query", "open", "--format", "csv"),
    ("export", "--format", "jsonl"),
    ("export", "--format", "html"),
    ("top", "--since", "3650d", "--format", "markdown"),
    ("links", "--since", "3650d", "--format", "jsonl"),
    ("voices", "suggest", "--since", "3650d", "--format", "jsonl"),
    ("voices", "report", "--since", "3650d", "--format", "markdown"),
]


def modules_loaded_by(archive: Path, *args: str) -> set[str]:
    """Every module a `plnfilter ARGS --db ARCHIVE` process has imported when it ends (it must succeed
    and print something)."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['plnfilter', *sys.argv[2:], '--db', sys.argv[1]]\n"
        "try:\n    runpy.run_module('plnfilter', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print(__import__('json').dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(archive), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the command printed nothing"
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_reading_commands_import_no_sdk_and_no_sqlite_utils(demo_archive, args):
    """Commands that only read the archive stay fast for cron and pipelines: no atproto, no
    Mastodon.py, not even sqlite-utils (plain sqlite3 reads) or PyYAML (no filter file given)."""
    loaded = {name.split(".")[0] for name in modules_loaded_by(demo_archive, *args)}
    assert loaded & {"atproto", "atproto_client", "mastodon", "sqlite_utils", "yaml"} == set()


def test_each_command_is_found_in_the_module_that_defines_it():
    """The lazy group's map (command -> module) names every command of every cmd_* module, once."""
    from importlib import import_module

    from plnfilter.cli import COMMAND_MODULES

    modules = {path.stem for path in (ROOT / "plnfilter" / "cli").glob("cmd_*.py")}
    assert set(COMMAND_MODULES.values()) == modules
    for module in modules:
        names = {command.name for command in import_module(f"plnfilter.cli.{module}").COMMANDS}
        assert names == {name for name, where in COMMAND_MODULES.items() if where == module}, module


def test_every_command_collects_garbage_but_the_bounded_ones():
    """`main` turns the cyclic collector off while a command loads (it would free nothing; issue 14's
    start-up); every command but UNCOLLECTED's (`top`) turns it back on, so `run` and `watch` collect."""
    probe = (
        "import gc, sys\n"
        "from plnfilter.cli import main\n"
        "sys.argv = ['plnfilter', *sys.argv[1:]]\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "print(gc.isenabled(), file=sys.stderr)\n"
    )
    for args, collecting in (
        (["watch", "--help"], True),
        (["run", "--help"], True),
        (["top", "--help"], False),
    ):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert result.stderr.strip().splitlines()[-1] == str(collecting), (args, result.stderr)


# What the start-up of the everyday reading commands must not load (issue 14: end to end within 1.5x of
# a bare click start-up): other commands' modules, and what only other paths need.
NOT_AT_START = {
    "plnfilter.cli.cmd_run",
    "plnfilter.cli.cmd_watch",
    "plnfilter.cli.cmd_auth",
    "plnfilter.cli.cmd_voices",
    "plnfilter.cli.cmd_prune",
    "plnfilter.store.grams",  # the save path's search_grams: an output row never shows it
    "plnfilter.sources.base",  # Page, FetchContext...: scoring asks the registry, not these
}
DIGEST_NOT_AT_START = {
    "plnfilter.cli.cmd_archive",
    "plnfilter.store.select",  # the query builder: the digest's SQL is store.ranking's and store.read's
    "plnfilter.filterfile.model",  # without a filter file: its rank settings alone (rank_settings)
}
START_UP_COMMANDS = [
    (("query", "--limit", "20", "--format", "jsonl"), {"plnfilter.cli.cmd_digest"}),
    (("top", "--since", "3650d", "--format", "jsonl"), DIGEST_NOT_AT_START),
    (("links", "--since", "3650d", "--format", "jsonl"), DIGEST_NOT_AT_START),
    (  # with a filter file: PyYAML and its checks, but not difflib (only a wrong key asks it)
        ("top", str(ROOT / "filters" / "demo.yaml"), "--since", "3650d", "--format", "jsonl"),
        {"plnfilter.cli.cmd_archive", "plnfilter.store.select", "difflib"},
    ),
]


@pytest.mark.parametrize(
    "args,also_not", START_UP_COMMANDS, ids=lambda v: " ".join(v[:1]) if isinstance(v, tuple) else ""
)
def test_reading_commands_load_only_what_they_use(demo_archive, args, also_not):
    loaded = modules_loaded_by(demo_archive, *args)
    assert loaded & (NOT_AT_START | also_not) == set()


def test_top_builds_no_dataclass_but_the_post_and_its_rank_settings(demo_archive):
    """`@dataclass` compiles each class's methods with `exec` at every start (~1 ms a class): the
    digest's own values (ScoreTerms, Ranked, Ranking, Window, Verdict, Score, Output, Format...)
    are plain classes; Post and RankConfig stay dataclasses (`fields`, and the rules digest)."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['plnfilter', 'top', '--since', '3650d', '--format', 'jsonl', '--db', sys.argv[1]]\n"
        "try:\n    runpy.run_module('plnfilter', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "found = sorted({f'{v.__module__}.{v.__qualname__}' for name, m in list(sys.modules.items())\n"
        "    if name.startswith('plnfilter') for v in vars(m).values()\n"
        "    if isinstance(v, type) and '__dataclass_fields__' in vars(v) and v.__module__ == name})\n"
        "print(__import__('json').dumps(found), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(demo_archive)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == [
        "plnfilter.filterfile.rank_settings.RankConfig",
        "plnfilter.post.Post",
    ]


def test_top_with_a_filter_file_read_before_loads_no_yaml_and_judges_nothing(demo_archive):
    """The second `top FILTER` of an unchanged file: the checked filter comes from the cache (no
    PyYAML, no checks, no hashlib for its rules digest) and current verdicts judge no post (no regex)."""
    args = ("top", str(ROOT / "filters" / "demo.yaml"), "--since", "3650d", "--format", "jsonl")
    first = modules_loaded_by(demo_archive, *args)
    assert {"yaml", "regex"} <= first
    again = modules_loaded_by(demo_archive, *args)
    assert again & {"yaml", "regex", "hashlib", "difflib", "plnfilter.filterfile.yaml_lines"} == set()
    assert (
        again
        & {"plnfilter.filterfile.checks", "plnfilter.filterfile.rule_syntax", "plnfilter.filterfile.describe"}
        == set()
    )
    # Its rules are not compiled (boosts and `depends_on_time` come from the rules themselves), and
    # what only --mark-read, an empty window or a digest without FILTER need is not loaded either.
    assert (
        again
        & {
            "plnfilter.rules.predicates",
            "plnfilter.rules.text_match",
            "plnfilter.rules.regex_safety",
            "plnfilter.store.marks",
            "plnfilter.voice_labels",
        }
        == set()
    )


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_table_keeps_the_text_readable_at_any_width(demo_archive, width):
    env = {**os.environ, "COLUMNS": str(width)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "plnfilter",
            "query",
            "--db",
            str(demo_archive),
            "--limit",
            "5",
            "--format",
            "table",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(len(line) <= width for line in lines)
    header = next(line for line in lines if " text " in line)
    text_cell = header.split("┃")[[cell.strip() for cell in header.split("┃")].index("text")]
    assert len(text_cell) >= min(36, width // 2), header
    first = json.loads(
        subprocess.run(
            [sys.executable, "-m", "plnfilter", "query", "--db", str(demo_archive), "--limit", "1"],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert first["text"].split()[0] in result.stdout


@pytest.mark.parametrize("command", ["sources", "runs"])
def test_sources_and_runs_tables_show_what_a_person_scans_for(demo_archive, command):
    table = subprocess.run(
        [sys.executable, "-m", "plnfilter", command, "--db", str(demo_archive), "--format", "table"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert table.returncode == 0, table.stderr
    assert "sha256:" not in table.stdout and "per_source" not in table.stdout  # cursors and details: json
    assert ("sample-mastodon-tags" if command == "sources" else "demo.yaml") in table.stdout
    full = subprocess.run(
        [sys.executable, "-m", "plnfilter", command, "--db", str(demo_archive), "--format", "jsonl"],
        capture_output=True,
        text=True,
    )
    rows = [json.loads(line) for line in full.stdout.splitlines()]
    assert rows and ("cursor" in rows[0] if command == "sources" else "per_source" in rows[0])


def test_runs_record_the_filter_files_full_path_and_the_table_shows_its_name(tmp_path):
    deep = tmp_path / ("a-long-folder-name-" * 4) / "filters"
    shutil.copytree(ROOT / "filters", deep)
    db = tmp_path / "deep.db"
    ran = subprocess.run(  # from the folder above, as a person would type it
        [sys.executable, "-m", "plnfilter", "run", "filters/demo.yaml", "--db", str(db), "-q"],
        capture_output=True,
        text=True,
        cwd=deep.parent,
    )
    assert ran.returncode == 0, ran.stderr
    history = subprocess.run(
        [sys.executable, "-m", "plnfilter", "runs", "--db", str(db), "--format", "jsonl"],
        capture_output=True,
        text=True,
    )
    assert json.loads(history.stdout)["filter_file"] == str((deep / "demo.yaml").resolve())
    for width in (80, 120):
        table = subprocess.run(
            [sys.executable, "-m", "plnfilter", "runs", "--db", str(db), "--format", "table"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": str(width)},
        )
        assert table.returncode == 0, table.stderr
        row = next(line for line in table.stdout.splitlines() if "264" in line or " ok " in line)
        # at 80 columns what each exclude rule dropped takes some of the file's room: its name stays
        assert "…" in row and ("filters/demo.yaml" if width > 80 else "/demo.yaml") in row, table.stdout


@pytest.mark.parametrize("command", ["query", "export"])
def test_csv_on_stdout_keeps_rfc4180_line_ends_in_process_too(demo_archive, command):
    """Through click's runner (no real file descriptor): CRLF rows, nothing doubled to \\r\\r\\n."""
    result = CliRunner().invoke(cli, [command, "--db", str(demo_archive), "--format", "csv", "--limit", "3"])
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    assert raw.count(b"\r\n") >= 4 and b"\r\r\n" not in raw
    assert raw.startswith(b"uri,network,")


def test_output_rows_have_no_search_grams_column():
    """`judged_row` (top, links, filter) does not work out `search_grams` (None): no output shows it."""
    from plnfilter.store.rows import OUTPUT_COLUMNS

    assert "search_grams" not in OUTPUT_COLUMNS
