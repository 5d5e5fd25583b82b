"""Exporters: valid output in every format, streamed, with attacker-written text made harmless."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from calendar import timegm

import feedparser
import pytest

from plnfilter.errors import UsageError
from plnfilter.export import FORMATS, write
from plnfilter.export.to_atom import entry_id
from plnfilter.export.to_html import sanitise_html
from plnfilter.post import Post
from plnfilter.query import OUTPUT_COLUMNS
from plnfilter.store import Judged, judged_row


def row(n: int = 1, **changes) -> dict:
    post = Post(
        uri=f"https://example.social/users/kate/statuses/{n}",
        network="mastodon",
        url=f"https://example.social/@kate/{n}",
        author="kate@example.social",
        author_name="Kate",
        author_id="https://example.social/@kate",
        created_at="2026-11-26T09:30:00Z",
        text=f"Post {n}: slides from the panel",
        tags=("edtech", "pln"),
        links=("https://oer.example/slides",),
        likes=4,
    )
    data = judged_row(Judged(post, True, 2.5, ("topics",)), now="2026-11-26T10:00:00Z")
    data.update(changes)
    return data


HOSTILE_TEXT = '<script>alert("x")</script> & <b>bold</b>\n<img src=x onerror=alert(1)>'
HOSTILE_HTML = (
    '<p>Hi <script>alert(1)</script><img src="x" onerror="alert(2)">'
    '<a href="javascript:alert(3)">click</a> <a href="https://ok.example/" onclick="alert(4)">ok</a>'
    '<span class="invisible">https://</span><iframe src="https://evil.example"></iframe></p>'
)


def render(rows, fmt, **options) -> str:
    out = io.StringIO(newline="")
    write(iter(rows), fmt, out, **options)
    return out.getvalue()


def test_formats_and_unknown_format():
    assert set(FORMATS) == {"csv", "json", "jsonl", "markdown", "html", "atom", "parquet"}
    with pytest.raises(UsageError, match="unknown format"):
        write([], "xlsx", io.StringIO())


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "markdown", "html", "atom"])
def test_writers_stream_rows_as_they_come(fmt):
    """Each row reaches the output before the next one is even produced."""
    out = io.StringIO(newline="")

    def rows():
        for n in range(1, 6):
            if n > 2:
                assert f"statuses/{n - 2}" in out.getvalue() or f"@kate/{n - 2}" in out.getvalue(), (
                    f"row {n - 2} was not written before row {n} was requested"
                )
            yield row(n)

    assert write(rows(), fmt, out) == 5


# --- CSV


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tindent", "\rcr"]
)
def test_csv_neutralises_formula_cells(text):
    parsed = list(csv.DictReader(io.StringIO(render([row(text=text, author_name=text)], "csv"), newline="")))
    assert parsed[0]["text"] == "'" + text
    assert parsed[0]["author_name"] == "'" + text


def test_csv_is_rfc4180_with_lists_joined_and_numbers_kept():
    tricky = 'line one, "quoted"\nline two'
    text = render([row(text=tricky, score=-1.5), row(2)], "csv")
    assert text.startswith("uri,network,created_at,")
    assert "\r\n" in text
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["uri"] for r in parsed] == [row(1)["uri"], row(2)["uri"]]
    assert parsed[0]["text"] == tricky
    assert parsed[0]["tags"] == "edtech pln"
    assert parsed[0]["score"] == "-1.5"
    assert parsed[0]["kept"] == "true"
    assert list(parsed[0]) == list(OUTPUT_COLUMNS)


def test_csv_bom_only_when_asked_and_header_for_no_rows():
    assert render([row()], "csv", bom=True).startswith("\ufeffuri,")
    assert not render([row()], "csv").startswith("\ufeff")
    assert render([], "csv").strip() == ",".join(OUTPUT_COLUMNS)
    assert render([row()], "csv", columns=["uri", "tags"]).splitlines()[1] == f"{row()['uri']},edtech pln"


# --- JSON and JSONL


@pytest.mark.parametrize("count", [0, 1, 10_000])
def test_json_is_one_array(count):
    parsed = json.loads(render((row(n) for n in range(count)), "json"))
    assert isinstance(parsed, list) and len(parsed) == count
    if count:
        assert parsed[-1]["uri"] == row(count - 1)["uri"]
        assert parsed[0]["tags"] == ["edtech", "pln"]


def test_jsonl_is_one_object_per_line_and_keeps_hostile_text_exact():
    text = render([row(1, text=HOSTILE_TEXT + "\u2028 ünïcode 🎓"), row(2)], "jsonl")
    lines = text.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["text"] == HOSTILE_TEXT + "\u2028 ünïcode 🎓"
    assert render([], "jsonl") == ""


# --- Markdown


def test_markdown_digest_has_author_date_text_and_link():
    text = render([row(1), row(2)], "markdown", title="Weekly PLN")
    assert text.startswith("# Weekly PLN\n")
    assert "Kate (@kate@example.social) · 2026-11-26 09:30 UTC" in text
    assert "> Post 1: slides from the panel" in text
    assert "[link](https://example.social/@kate/1)" in text
    assert text.count("\n---\n") == 1


def test_markdown_says_counts_in_words_and_leaves_zeros_out():
    text = render([row(1, likes=1, reposts=0, replies=1), row(2, likes=2, reposts=3, replies=2)], "markdown")
    assert "[link](https://example.social/@kate/1) · 1 like · 1 reply · " in text
    assert "[link](https://example.social/@kate/2) · 2 likes · 3 reposts · 2 replies · " in text
    assert "0 reposts" not in text


def test_markdown_escapes_markup_and_refuses_script_links():
    text = render(
        [row(text="# not a heading\n<script>x</script> [a](javascript:b)", url="javascript:alert(1)")],
        "markdown",
    )
    assert "<script>" not in text
    assert "\\<script\\>" in text
    assert "\\# not a heading" in text
    assert "(javascript:alert(1))" not in text
    assert "[link]" not in text


# --- HTML


def test_html_is_one_self_contained_page_with_text_escaped():
    page = render(
        [row(text=HOSTILE_TEXT, author_name="<i>Kate</i>", tags=["<b>x</b>"])], "html", title="<Digest>"
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>&lt;Digest&gt;</title>" in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "<style>" in page and "<link" not in page  # inline CSS, nothing fetched
    assert 'href="https://example.social/@kate/1" rel="noopener nofollow"' in page


def test_html_from_posts_is_sanitised_when_shown():
    page = render([row(html=HOSTILE_HTML)], "html", show_html=True)
    assert "<script" not in page
    assert "onerror" not in page and "onclick" not in page
    assert "javascript:" not in page
    assert "<iframe" not in page and "<img" not in page
    assert '<a href="https://ok.example/" rel="noopener nofollow">ok</a>' in page
    assert '<span class="invisible">https://</span>' in page


def test_sanitiser_keeps_only_text_paragraphs_and_web_links():
    clean = sanitise_html(
        '<p><a href="data:text/html,x">d</a><a href="//evil">e</a><span style="x" class="h-card evil">s</span></p>'
    )
    assert "data:" not in clean and "style" not in clean and "evil" not in clean.replace("//evil", "")
    assert clean.startswith("<p>")


def test_html_images_are_alt_text_unless_asked():
    raw = {
        "media_attachments": [
            {"type": "image", "preview_url": "https://files.example/a.png", "description": "A chart"}
        ]
    }
    data = row(media_alt=["A chart"], has_media=True, raw=raw)
    plain = render([data], "html")
    assert "Image: A chart" in plain
    assert "files.example" not in plain
    shown = render([data], "html", images=True)
    assert '<img src="https://files.example/a.png" alt="A chart"' in shown
    bad = row(raw={"media_attachments": [{"type": "image", "preview_url": "javascript:alert(1)"}]})
    assert "<img" not in render([bad], "html", images=True)


def test_html_groups_say_counts_in_words_and_who_shared_it():
    rows = [
        row(1, likes=1, reposts=0, replies=2, group="conference"),
        row(2, likes=2, reposts=1, replies=1, group="conference", reposted_by=["<b>omar</b>@edu.example"]),
        row(3, group="#edtech"),
    ]
    page = render(rows, "html")
    assert page.count('<h2 class="group">') == 2
    assert (
        page.index(">conference</h2>")
        < page.index("Post 1")
        < page.index("Post 2")
        < page.index(">#edtech</h2>")
    )
    assert "1 like · 0 reposts · 2 replies" in page
    assert "2 likes · 1 repost · 1 reply" in page
    assert "Shared by &lt;b&gt;omar&lt;/b&gt;@edu.example" in page
    assert '<h2 class="group">' not in render([row(1)], "html")


def test_html_with_no_posts_says_so():
    assert "No posts." in render([], "html")


# --- Atom


def test_atom_parses_as_a_feed_with_ids_titles_links_and_dates():
    bluesky = row(
        2,
        uri="at://did:plc:adjoa/app.bsky.feed.post/3k1",
        network="bluesky",
        url="https://bsky.app/profile/adjoa.bsky.social/post/3k1",
        author="adjoa.bsky.social",
        author_name="",
        author_id="did:plc:adjoa",
        created_at="2026-11-25T08:00:00Z",
        text="word " * 40,
    )
    feed_text = render([row(1), bluesky], "atom", title="PLN & friends", updated="2026-11-26T12:00:00Z")
    ET.fromstring(feed_text.encode("utf-8"))  # well-formed XML
    feed = feedparser.parse(feed_text)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "PLN & friends"
    assert feed.feed.id.startswith("tag:plnfilter,")
    assert timegm(feed.feed.updated_parsed) == timegm((2026, 11, 26, 12, 0, 0, 0, 0, 0))
    first, second = feed.entries
    assert first.id == row(1)["uri"]
    assert second.id == "at://did:plc:adjoa/app.bsky.feed.post/3k1"
    assert first.title == "Post 1: slides from the panel"
    assert len(second.title) <= 81 and second.title.endswith("…")
    assert first.link == "https://example.social/@kate/1"
    assert second.link == "https://bsky.app/profile/adjoa.bsky.social/post/3k1"
    assert first.author == "Kate" and second.author == "adjoa.bsky.social"
    assert timegm(second.updated_parsed) == timegm((2026, 11, 25, 8, 0, 0, 0, 0, 0))
    assert [t.term for t in first.tags] == ["edtech", "pln"]
    assert first.content[0].type == "text/plain"


def test_atom_entries_carry_their_digest_group():
    feed = feedparser.parse(render([row(1, group="conference"), row(2)], "atom"))
    first, second = feed.entries
    assert [(t.term, t.scheme) for t in first.tags][0] == ("conference", "tag:plnfilter,2024:group")
    assert [t.term for t in second.tags] == ["edtech", "pln"]


def test_atom_survives_hostile_text_and_odd_uris():
    data = row(
        text=HOSTILE_TEXT + " \x00\x01\x0b control ]]> &amp;",
        uri="not a uri <at all>",
        url="javascript:alert(1)",
    )
    feed_text = render([data], "atom")
    ET.fromstring(feed_text.encode("utf-8"))
    feed = feedparser.parse(feed_text)
    assert not feed.bozo, feed.get("bozo_exception")
    (entry,) = feed.entries
    assert entry.id.startswith("tag:plnfilter,2024:post:")
    assert "<script>" in entry.content[0].value  # as text, for the reader to show, not run
    assert "javascript" not in feed_text
    assert entry_id("at://did:plc:x/app.bsky.feed.post/1") == "at://did:plc:x/app.bsky.feed.post/1"


def test_atom_with_no_rows_is_still_a_valid_feed():
    feed = feedparser.parse(render([], "atom"))
    assert not feed.bozo and feed.entries == [] and feed.feed.title == "plnfilter digest"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"text": "lone \ud800 surrogate", "tags": ("a\udfffb", "pln"), "author_bot": True, "sensitive": True},
        {"html": "<p>hi</p>", "reposted_by": ("x@y",), "media_alt": ("", "a picture"), "has_media": True},
        {"url": "", "lang": "", "reply_to": "", "visibility": "followers", "author_opt_out": True},
    ],
)
def test_judged_row_is_the_stored_row_of_the_post_decoded(changes):
    """An output row is what `post_to_row` stores of the post, with the verdict, as `decode_row` reads
    it back (judged_row takes a shorter way there: `top` makes 50 a run)."""
    from dataclasses import replace

    from plnfilter.store.rows import ROW_COLUMNS, decode_row, dump_list, post_to_row

    post = replace(
        Post(
            uri="https://example.social/users/kate/statuses/1",
            network="mastodon",
            author="kate@example.social",
        ),
        **changes,
    )
    now = "2026-11-26T10:00:00Z"
    stored = dict(zip(ROW_COLUMNS, post_to_row(post, now, grams=False), strict=True))
    stored.update(kept=1, score=2.5, matched=dump_list(("topics", "x\ud800")), dropped_by=None)
    expected = decode_row({name: stored[name] for name in OUTPUT_COLUMNS})
    got = judged_row(Judged(post, True, 2.5, ("topics", "x\ud800")), now=now)
    assert list(got) == list(expected) and got == expected
