"""Outputs that do what they say: the format from -o's extension, --bom and --columns wherever CSV is
written, scores rounded for people, Atom feeds with a self link and an id that stays, `-` for
stdin/stdout, and readers that refuse a missing archive. All through the CLI."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from seeded_archive import FILTER_YAML, build_archive, seed_posts, write_filter

from plnfilter.cli import cli
from plnfilter.export import formats
from plnfilter.times import now_utc

ATOM = {"a": "http://www.w3.org/2005/Atom"}
BLUESKY_PREFERENCES = Path(__file__).parent / "fixtures" / "filters" / "bluesky-preferences.json"
SINCE = ("--since", "30d")


def plnfilter(*args, input: str | bytes | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The seeded posts dated relative to the real clock (the commands score at the current time)."""
    folder = tmp_path_factory.mktemp("formats")
    return build_archive(folder / "archive.db", seed_posts(now_utc()), now_utc())


@pytest.fixture(scope="module")
def filter_path(archive) -> Path:
    return write_filter(archive.parent)


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


# --- the format from the file name ----------------------------------------------------------------


def _is_html(text: str) -> bool:
    return text.startswith("<!DOCTYPE html>")


def _is_markdown(text: str) -> bool:
    return text.startswith("# ") and "<!DOCTYPE" not in text


def _is_atom(text: str) -> bool:
    return ET.fromstring(text.encode()).tag == "{http://www.w3.org/2005/Atom}feed"


def _is_csv(text: str) -> bool:
    return "\r\n" in text and len(read_csv(text)) > 0


def _is_json(text: str) -> bool:
    return isinstance(json.loads(text), list)


def _is_jsonl(text: str) -> bool:
    return all(isinstance(json.loads(line), dict) for line in text.splitlines()) and text.count("\n") > 1


@pytest.mark.parametrize(
    "command,name,check",
    [
        (("top", "FILTER", *SINCE), "week.html", _is_html),
        (("top", "FILTER", *SINCE), "week.md", _is_markdown),
        (("top", "FILTER", *SINCE), "week.xml", _is_atom),
        (("top", "FILTER", *SINCE), "week.atom", _is_atom),
        (("top", "FILTER", *SINCE), "week.csv", _is_csv),
        (("export",), "week.csv", _is_csv),
        (("export",), "week.json", _is_json),
        (("export",), "week.jsonl", _is_jsonl),
        (("export",), "WEEK.HTML", _is_html),
        (("export",), "week.markdown", _is_markdown),
        (("query",), "found.csv", _is_csv),
        (("links", *SINCE), "links.md", _is_markdown),
        (("links", *SINCE), "links.json", _is_json),
        (("sources",), "sources.csv", _is_csv),
        (("runs",), "runs.json", lambda text: json.loads(text) == []),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_o_takes_the_format_from_the_extension(
    archive, filter_path, tmp_path, isolated_home, command, name, check
):
    args = [filter_path if arg == "FILTER" else arg for arg in command]
    out = tmp_path / name
    result = plnfilter(*args, "--db", archive, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = out.read_bytes().decode("utf-8")  # as written: CSV's \r\n kept
    assert check(text), text[:300]
    # no temp file left behind (the user directory, where a checked filter file is cached, aside)
    assert [p.name for p in tmp_path.iterdir() if p != isolated_home] == [name]


@pytest.mark.parametrize(
    "command,name,lists,omits",
    [
        (("export",), "week.xyz", [".csv", ".jsonl", ".md", ".html", ".xml"], []),
        (("top",), "week", [".html", ".xml", ".md", ".csv"], []),
        (("query",), "week.html", [".csv", ".json", ".jsonl"], [".html", ".md"]),
        (("links",), "links.xml", [".md", ".csv", ".json"], [".html", ".xml"]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_an_extension_naming_no_format_it_writes_exits_2_listing_the_known_ones(
    archive, tmp_path, command, name, lists, omits
):
    out = tmp_path / name
    result = plnfilter(*command, "--db", archive, "-o", out)
    assert result.exit_code == 2, result.output
    assert name in result.stderr
    message = result.stderr.split("\n", 1)[1]  # the hint line lists what this command writes
    for extension in lists:
        assert f"{extension} (" in message
    for extension in omits:
        assert f"{extension} (" not in message
    assert not out.exists()


@pytest.mark.parametrize(
    "command,fmt,name",
    [(("export",), "json", "x.csv"), (("top", *SINCE), "html", "week.md"), (("query",), "jsonl", "q.json")],
)
def test_format_and_extension_must_agree(archive, tmp_path, command, fmt, name):
    out = tmp_path / name
    result = plnfilter(*command, "--db", archive, "--format", fmt, "-o", out)
    assert result.exit_code == 2, result.output
    assert f"--format {fmt} does not match" in result.stderr and name in result.stderr
    assert not out.exists()


def test_format_given_for_a_file_whose_extension_names_no_format(archive, tmp_path):
    """--format says it; an extension that names no format cannot disagree."""
    out = tmp_path / "posts.txt"
    result = plnfilter("export", "--db", archive, "--format", "csv", "-o", out)
    assert result.exit_code == 0, result.output
    assert _is_csv(out.read_bytes().decode())


def test_a_table_is_for_the_terminal_not_a_file(archive, tmp_path):
    result = plnfilter("top", "--db", archive, "--format", "table", "-o", tmp_path / "week.md")
    assert result.exit_code == 2
    assert "table" in result.stderr and not (tmp_path / "week.md").exists()


def test_dash_is_stdout(archive, filter_path):
    result = plnfilter("export", "--db", archive, "--format", "csv", "-o", "-")
    assert result.exit_code == 0 and _is_csv(result.stdout_bytes.decode())
    result = plnfilter("top", filter_path, *SINCE, "--db", archive, "-o", "-")  # piped: Markdown
    assert result.exit_code == 0 and result.stdout.startswith("# plnfilter top posts\n")
    result = plnfilter("import-filters", BLUESKY_PREFERENCES, "-o", "-")
    assert result.exit_code == 0, result.output
    assert "exclude:" in result.stdout and not Path("-").exists()


# --- --bom and --columns wherever CSV is written --------------------------------------------------


@pytest.mark.parametrize(
    "command,columns",
    [
        (("query",), "score,author,uri"),
        (("export",), "text,created_at"),
        (("top", "FILTER", *SINCE), "score,rank,author,group"),
        (("links", *SINCE), "best_score,count,url"),
        (("filter", "FILTER"), "kept,uri"),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else v,
)
def test_every_csv_writer_takes_bom_and_columns_in_their_order(archive, filter_path, command, columns):
    args = [filter_path if arg == "FILTER" else arg for arg in command]
    stdin = None
    if command[0] == "filter":  # posts on stdin, no archive
        stdin = plnfilter("query", "--all", "--db", archive, "--format", "jsonl").stdout
    else:
        args += ["--db", archive]
    result = plnfilter(*args, "--format", "csv", "--bom", "--columns", columns, input=stdin)
    assert result.exit_code == 0, result.output
    written = result.stdout_bytes.decode("utf-8")
    assert written.startswith("\ufeff" + columns + "\r\n")
    rows = read_csv(written)
    assert rows and all(list(row) == columns.split(",") for row in rows)
    plain = plnfilter(*args, "--format", "csv", "--columns", columns, input=stdin)
    assert plain.stdout_bytes.decode("utf-8") == written.removeprefix("\ufeff")


@pytest.mark.parametrize(
    "command,known",
    [
        (("query",), "uri"),
        (("export",), "card_title"),
        (("top", *SINCE), "rank"),
        (("links", *SINCE), "best_score"),
        (("sources",), "last_error"),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else v,
)
def test_an_unknown_column_exits_2_listing_the_known_ones(archive, command, known):
    result = plnfilter(*command, "--db", archive, "--format", "csv", "--columns", f"{known},nosuch")
    assert result.exit_code == 2, result.output
    assert "'nosuch'" in result.stderr and known in result.stderr
    assert result.stdout == ""


def test_columns_choose_json_keys_and_table_columns_too(archive, filter_path):
    result = plnfilter(
        "top", filter_path, *SINCE, "--db", archive, "--format", "json", "--columns", "author,rank"
    )
    rows = json.loads(result.stdout)
    assert rows and all(list(row) == ["author", "rank"] for row in rows)
    result = plnfilter("query", "--db", archive, "--format", "table", "--columns", "author,likes")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[1]
    assert header.index("author") < header.index("likes") and "text" not in header


def test_the_columns_offered_are_the_columns_written(archive, filter_path):
    """What --columns may name is what the rows hold, so no chosen column comes out empty by mistake."""
    from plnfilter.links import ROW_FIELDS
    from plnfilter.store import OUTPUT_COLUMNS

    [link] = json.loads(plnfilter("links", *SINCE, "--db", archive, "--format", "json").stdout)
    assert tuple(link) == ROW_FIELDS
    rows = json.loads(plnfilter("top", filter_path, *SINCE, "--db", archive, "--format", "json").stdout)
    assert set(rows[0]) == {"rank", "group", "voice_group", "html", *OUTPUT_COLUMNS}


def test_columns_do_not_apply_to_a_digest_page(archive, tmp_path):
    result = plnfilter("export", "--db", archive, "-o", tmp_path / "d.html", "--columns", "uri")
    assert result.exit_code == 2 and "--columns" in result.stderr
    assert not (tmp_path / "d.html").exists()


# --- scores for people, and for programs ----------------------------------------------------------


def test_scores_rounded_in_csv_and_tables_whole_in_json(archive, filter_path):
    whole = [
        json.loads(line)
        for line in plnfilter("query", "--db", archive, "--format", "jsonl").stdout.splitlines()
    ]
    assert any(len(repr(row["score"]).split(".")[1]) > 3 for row in whole)  # there is something to round
    table = plnfilter("query", "--db", archive, "--format", "csv", "--columns", "uri,score").stdout
    rounded = {row["uri"]: row["score"] for row in read_csv(table)}
    for row in whole:
        assert rounded[row["uri"]] == repr(round(row["score"], 3))
    for command in (("top", filter_path, *SINCE), ("links", *SINCE)):
        data = json.loads(plnfilter(*command, "--db", archive, "--format", "json").stdout)
        cells = read_csv(plnfilter(*command, "--db", archive, "--format", "csv").stdout)
        key = "score" if command[0] == "top" else "best_score"
        assert [float(cell[key]) for cell in cells] == [round(row[key], 3) for row in data]
        assert all(len(cell[key].split(".")[-1]) <= 3 for cell in cells)
    top_json = json.loads(plnfilter("top", filter_path, *SINCE, "--db", archive, "--format", "json").stdout)
    assert any(len(repr(row["score"]).split(".")[1]) > 4 for row in top_json)  # not cut to 4 places
    screen = plnfilter("query", "--db", archive, "--format", "table").stdout
    assert repr(whole[0]["score"]) not in screen and f"{whole[0]['score']:.2f}" in screen


# --- Atom: a self link and an id that stays --------------------------------------------------------


def feed(path: Path) -> tuple[str, list[tuple[str | None, str | None]]]:
    root = ET.parse(path).getroot()
    links = [(link.get("rel"), link.get("href")) for link in root.findall("a:link", ATOM)]
    return root.find("a:id", ATOM).text, links


def test_atom_self_link_and_id_from_self_url(archive, filter_path, tmp_path):
    out = tmp_path / "pln.xml"
    url = "https://example.org/pln/feed.xml"
    result = plnfilter("top", filter_path, *SINCE, "--db", archive, "-o", out, "--self-url", url)
    assert result.exit_code == 0, result.output
    feed_id, links = feed(out)
    assert feed_id == url and ("self", url) in links
    bad = plnfilter("top", "--db", archive, "-o", out, "--self-url", "javascript:alert(1)")
    assert bad.exit_code == 2 and "--self-url" in bad.stderr
    html = plnfilter("top", "--db", archive, "-o", tmp_path / "p.html", "--self-url", url)
    assert html.exit_code == 2 and "Atom" in html.stderr


def test_atom_id_is_stable_for_an_archive_and_filter_and_unique_to_them(archive, filter_path, tmp_path):
    def atom_id(*args) -> str:
        out = tmp_path / "feed.xml"
        result = plnfilter(*args, "-o", out)
        assert result.exit_code == 0, result.output
        feed_id, links = feed(out)
        assert "self" not in [rel for rel, _ in links]
        return feed_id

    first = atom_id("top", filter_path, *SINCE, "--db", archive)
    assert first.startswith("urn:uuid:")
    assert atom_id("top", filter_path, *SINCE, "--db", archive) == first  # again
    assert atom_id("top", filter_path, *SINCE, "--db", archive, "--title", "Lunch reading") == first
    assert atom_id("top", filter_path, "--since", "7d", "--limit", "3", "--db", archive) == first
    other_filter = tmp_path / "other.yaml"
    other_filter.write_text(FILTER_YAML.replace("name: digest-test", "name: other-digest"))
    assert atom_id("top", other_filter, *SINCE, "--db", archive) != first
    assert atom_id("top", *SINCE, "--db", archive) != first
    second = build_archive(tmp_path / "second.db", seed_posts(now_utc()), now_utc())
    assert atom_id("top", filter_path, *SINCE, "--db", second) != first
    export = atom_id("export", "--tag", "edtech", "--db", archive)
    assert atom_id("export", "--tag", "edtech", "--db", archive, "--title", "Renamed") == export
    assert atom_id("export", "--tag", "pln", "--db", archive) not in (export, first)


def test_an_archive_from_before_feed_ids_gets_one_once(tmp_path, filter_path):
    old = build_archive(tmp_path / "old.db", seed_posts(now_utc()), now_utc())
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE settings")
    conn.execute("DELETE FROM _migrations WHERE name = 'm006_settings'")
    conn.commit()
    conn.close()
    ids = set()
    for _ in range(2):
        result = plnfilter("top", filter_path, *SINCE, "--db", old, "-o", tmp_path / "feed.atom")
        assert result.exit_code == 0, result.output
        ids.add(feed(tmp_path / "feed.atom")[0])
    assert len(ids) == 1
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT count(*) FROM settings WHERE key = 'archive_id'").fetchone() == (1,)


# --- readers never create an archive -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("query",),
        ("apply", "FILTER"),
        ("top",),
        ("links",),
        ("export",),
        ("sources",),
        ("runs",),
        ("explain", "x"),
    ],
    ids=lambda c: c[0],
)
def test_a_missing_archive_is_refused_like_query_does_and_not_created(
    tmp_path, isolated_home, filter_path, command
):
    args = [filter_path if arg == "FILTER" else arg for arg in command]
    typo = tmp_path / "typo.db"
    expected = plnfilter("query", "--db", typo)
    result = plnfilter(*args, "--db", typo)
    assert result.exit_code == expected.exit_code == 1
    assert result.stderr == expected.stderr
    assert "no archive at" in result.stderr and "Traceback" not in result.output
    assert [p for p in tmp_path.iterdir() if p != isolated_home] == []  # (its filter file's cache aside)


# --- `-` is stdin where a file is read ---------------------------------------------------------------


def test_filter_file_from_stdin(archive):
    result = plnfilter("check", "-", input=FILTER_YAML)
    assert result.exit_code == 0, result.output
    assert "topics" in result.stdout
    result = plnfilter("top", "-", *SINCE, "--db", archive, "--format", "json", input=FILTER_YAML)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)
    bad = plnfilter("check", "-", input="name: x\nexclude: [\n")
    assert bad.exit_code == 2 and "<stdin>" in bad.stderr
    both = plnfilter("filter", "-", input=FILTER_YAML)
    assert both.exit_code == 2 and "stdin" in both.stderr


def test_import_filters_reads_stdin(tmp_path):
    saved = (BLUESKY_PREFERENCES).read_text()
    result = plnfilter("import-filters", "-", input=saved)
    assert result.exit_code == 0, result.output
    assert "<stdin>" in result.stdout and "exclude:" in result.stdout


def test_db_dash_is_a_usage_error(tmp_path):
    result = plnfilter("query", "--db", "-")
    assert result.exit_code == 2 and "--db" in result.stderr


# --- one registry entry is a format -----------------------------------------------------------------


def _write_tsv(rows, out, columns=None) -> int:
    count = 0
    for row in rows:
        names = columns or list(row)
        if not count:
            out.write("\t".join(names) + "\n")
        out.write("\t".join(str(row.get(n, "")).replace("\t", " ").replace("\n", " ") for n in names) + "\n")
        count += 1
    return count


def _write_gzip(rows, out) -> int:
    import gzip

    rows = list(rows)
    out.write(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    return len(rows)


def _write_folder(rows, folder: Path) -> int:
    count = 0
    for count, row in enumerate(rows, start=1):
        (folder / f"{count:04d}.txt").write_text(str(row.get("text")), encoding="utf-8")
    return count


def test_a_format_is_one_registry_entry(archive, tmp_path, monkeypatch):
    """Text, bytes and a folder of files: each added as one entry, then in --format, -o and the writers."""
    import gzip

    for entry in (
        formats.Format("tsv", (".tsv",), formats.TEXT, formats.RECORDS, _write_tsv, ("columns",)),
        formats.Format("jsonl.gz", (".jsonl.gz",), formats.BYTES, formats.RECORDS, _write_gzip),
        formats.Format("pages", (".pages",), formats.FOLDER, formats.POSTS, _write_folder),
    ):
        monkeypatch.setitem(formats.REGISTRY, entry.name, entry)
    assert plnfilter("query", "--db", archive, "--format", "tsv").stdout.startswith("uri\tnetwork\t")
    result = plnfilter("query", "--db", archive, "-o", tmp_path / "q.tsv", "--columns", "author,likes")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "q.tsv").read_text().startswith("author\tlikes\n")
    result = plnfilter("export", "--db", archive, "-o", tmp_path / "all.jsonl.gz")
    assert result.exit_code == 0, result.output
    lines = gzip.decompress((tmp_path / "all.jsonl.gz").read_bytes()).decode().splitlines()
    assert len(lines) > 3 and json.loads(lines[0])["uri"]
    assert plnfilter("export", "--db", archive, "--format", "jsonl.gz").stdout_bytes[:2] == b"\x1f\x8b"
    for _ in range(2):  # the second export replaces the first folder whole
        result = plnfilter("export", "--db", archive, "-o", tmp_path / "week.pages", "--limit", "3")
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "week.pages").iterdir()) == ["0001.txt", "0002.txt", "0003.txt"]
    (tmp_path / "folder").mkdir()
    not_a_folder = plnfilter("export", "--db", archive, "--format", "csv", "-o", tmp_path / "folder")
    assert not_a_folder.exit_code == 2 and "is a folder" in not_a_folder.stderr
    refused = plnfilter("export", "--db", archive, "--format", "pages")
    assert refused.exit_code == 2 and "-o" in refused.stderr
    assert "pages" not in plnfilter("query", "--help").stdout  # posts only: not offered for records
    assert "tsv" in plnfilter("query", "--help").stdout and "pages" in plnfilter("export", "--help").stdout
