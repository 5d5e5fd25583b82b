"""`export --format csv` makes its lines from SQLite a batch at a time (`store/csv_lines.py`): for
hostile and damaged cells spread over many small batches, every column set gives byte for byte what
the row dicts give through the csv module (the path every other selection takes)."""

from __future__ import annotations

import io
import sqlite3
from dataclasses import dataclass

import pytest

from plnfilter.export import write
from plnfilter.post import Post
from plnfilter.query import ALL_COLUMNS, OUTPUT_COLUMNS, Selection, select
from plnfilter.store import Judged, open_archive, open_readonly, save_page

HOSTILE = (
    "=SUM(A1:A9)",
    "+1 caller",
    "-2, said nobody",
    "@everyone look",
    "\tindented",
    "\rcarriage first",
    'say "cheese", then "more"',
    "line one\nline two",
    "cr only\rhere",
    "crlf\r\nthere",
    "nul\x00inside",
    "\x00=nul first",
    "lone \ud800 surrogate",
    "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J",
    "[bold red]rich[/] [link=https://evil.example]x[/link]",
    "é 🎓 \u202eevil\u202c \u2028 \u2029 العربية",
    "back\\slash and \x01\x1f\x7f controls",
    "",
    "plain words",
    "a,b",
)


@dataclass
class FakeTimeline:
    name: str = "file:hostile.json"
    network: str = "file"
    spec: str = "file: hostile.json"


def _post(n: int) -> Post:
    """Mostly clean posts; every seventh takes one hostile string into every text field it has."""
    bad = HOSTILE[n % len(HOSTILE)] if n % 7 == 3 else None
    text = bad if bad is not None else f"post {n}, plain text"
    return Post(
        uri=f"https://example.social/users/u{n}/statuses/{n}" + (bad or ""),
        network="mastodon",
        url=f"https://example.social/@u{n}/{n}" + (bad or ""),
        author=(bad or "") + f"u{n}@example.social",
        author_name=bad if bad is not None else f"User {n}",
        author_id=f"https://example.social/@u{n}",
        created_at=f"2026-11-{1 + n % 28:02d}T09:00:{n % 60:02d}Z",
        text=text,
        html=f"<p>{text}</p>",
        lang=bad if bad is not None and n % 2 else "en",
        tags=("edtech", bad) if bad is not None else ("edtech", f"t{n}"),
        links=(f"https://oer.example/{n}", *((bad,) if bad is not None else ())),
        mentions=(),
        reposted_by=(bad,) if bad is not None and n % 3 else (),
        has_media=n % 2 == 0,
        media_alt=(bad if bad is not None else f"chart {n}, bars",) if n % 2 == 0 else (),
        spoiler=bad if bad is not None and n % 5 else "",
        card_url=f"https://card.example/{n}" if n % 4 == 0 else "",
        card_title=bad if bad is not None else (f"Card {n}" if n % 4 == 0 else ""),
        likes=n,
        reposts=n % 3,
        source=bad if bad is not None else "file",
    )


@pytest.fixture
def hostile_archive(tmp_path):
    path = tmp_path / "archive.db"
    db = open_archive(path)
    posts = [_post(n) for n in range(150)]
    scores = (0.0625, -0.0004, 2.0005, 1 / 3, -7.5, 1e6 + 0.0005, 0.0, 123456.7895)
    judged = [
        Judged(
            p, n % 4 > 0, scores[n % len(scores)], (HOSTILE[n % len(HOSTILE)],) if n % 9 == 0 else ("topics",)
        )
        for n, p in enumerate(posts)
    ]
    save_page(db, FakeTimeline(), judged, None, "2026-11-26T00:00:00Z")
    db.close()
    damage = sqlite3.connect(path)  # cells only another tool could write: raw NUL and damage in lists
    ids = [row[0] for row in damage.execute("SELECT id FROM posts ORDER BY id")]
    for column, value, post_id in (
        ("url", "https://a.example/\x00tail", ids[10]),
        ("lang", "e\x00n", ids[20]),
        ("tags", '["a"]\x00junk', ids[30]),
        ("links", '["a","b\x00c"]', ids[40]),
        ("media_alt", '["alt"]\x00", "x"]', ids[50]),
        ("reposted_by", '["a",  "b"]', ids[60]),
        ("tags", '["tab\there"]', ids[70]),
        ("likes", -3, ids[80]),
        ("replies", "12", ids[90]),
        ("sensitive", 2, ids[100]),
        ("author_name", b"\x00blob", ids[110]),
    ):
        damage.execute(f"UPDATE posts SET {column} = ? WHERE id = ?", [value, post_id])  # noqa: S608
    damage.commit()
    damage.close()
    return path


def _column_sets():
    every = tuple(c for c in ALL_COLUMNS if c != "raw")
    yield None  # the default columns
    yield (*OUTPUT_COLUMNS, "html")  # what --format html asks for, as CSV
    yield every
    yield tuple(reversed(every))
    yield ("text", "score", "uri")
    yield ("score", "likes")
    yield ("media_alt", "kept", "text", "card_title")
    for name in every:  # each column alone (one empty cell is written "")
        yield (name,)


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_csv_from_sqlite_equals_the_csv_module_for_hostile_cells(hostile_archive, monkeypatch, batch):
    import plnfilter.store.select as reading
    from plnfilter.export.to_csv import _number_cells

    monkeypatch.setattr(reading, "CSV_BATCH", batch)
    conn = open_readonly(hostile_archive)
    for columns in _column_sets():
        selection = Selection(columns=columns, kept=None, order="oldest" if columns else "score")
        rows = list(select(conn, selection))
        from_dicts, from_sqlite = io.StringIO(), io.StringIO()
        assert write(iter(rows), "csv", from_dicts) == len(rows) == 150
        assert select(conn, selection).csv_lines is not None
        assert write(select(conn, selection), "csv", from_sqlite) == len(rows), columns
        assert from_sqlite.getvalue() == from_dicts.getvalue(), columns
    made = list(select(conn, Selection(kept=None)).csv_lines(_number_cells))
    slow = [item for item in made if isinstance(item, dict)]
    assert sum(item[1] for item in made if isinstance(item, tuple)) + len(slow) == 150
    assert len(slow) <= 22 + 11  # at most the hostile posts and the damaged cells go the slow path
    conn.close()


def test_csv_export_command_writes_what_the_csv_module_writes(hostile_archive, tmp_path):
    """The command end to end (-o FILE and stdout), against the csv module's writing of the same rows."""
    from click.testing import CliRunner

    from plnfilter.cli import cli

    conn = open_readonly(hostile_archive)
    expected = io.StringIO()
    write(iter(list(select(conn, Selection(kept=None)))), "csv", expected)
    conn.close()
    out = tmp_path / "all.csv"
    args = ["export", "--all", "--format", "csv", "--db", str(hostile_archive)]
    result = CliRunner().invoke(cli, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected.getvalue().encode("utf-8")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == expected.getvalue().encode("utf-8")
    result = CliRunner().invoke(cli, [*args, "--bom", "-o", str(out)])  # the BOM, then the lines in order
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == ("\ufeff" + expected.getvalue()).encode("utf-8")
    text = expected.getvalue()
    assert "'=SUM(A1:A9)" in text and '"say ""cheese"", then ""more"""' in text and "nul\x00inside" in text
