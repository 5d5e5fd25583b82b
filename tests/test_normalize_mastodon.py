"""Mastodon status JSON to Post: real Mastodon 4.x responses, mastodon-mock pages, and hostile HTML."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plnfilter.html_text import html_to_text, shared_links
from plnfilter.sources.mastodon.normalize import to_post

FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
REAL = json.loads((FIXTURES / "mastodon-4x-cassettes.json").read_text(encoding="utf-8"))
INSTANCE = "http://localhost:3000"


def test_hashtag_link_reads_as_the_tag_and_local_author_gets_the_host():
    post = to_post(REAL["hashtag"], INSTANCE, "mastodon:localhost:3000/tag/hoot")
    assert post.text == "#hoot (hashtag toot)"
    assert post.tags == ("hoot",)
    assert post.links == ()
    assert post.author == "mastodonpy_test_2@localhost:3000"
    assert post.author_id == "http://localhost:3000/@mastodonpy_test_2"
    assert post.uri == REAL["hashtag"]["uri"] and post.url.endswith("/117440841601474392")
    assert post.created_at == "2026-10-14T19:10:29Z"
    assert post.lang == "ja" and post.source == "mastodon:localhost:3000/tag/hoot"


def test_link_card_and_hidden_url_parts():
    post = to_post(REAL["card"], INSTANCE)
    assert post.text == "example.org/"
    assert post.links == ("http://example.org/",)
    assert (post.card_url, post.card_title) == ("http://example.org/", "Example Domain")
    assert post.author_name == "John Lennon"


def test_quote_is_kept_as_quote_of_and_its_fallback_paragraph_hidden():
    post = to_post(REAL["quote"], INSTANCE)
    assert post.quote_of == REAL["quote"]["quote"]["quoted_status"]["uri"]
    assert post.text == "yoooooooo"
    assert post.links == ()


def test_mentions_read_as_handles_and_are_not_links():
    post = to_post(REAL["mention"], INSTANCE)
    assert post.text == "@admin Direct account status"
    assert post.mentions == ("admin@localhost:3000",)
    assert post.links == ()


def test_boost_is_stored_as_the_original_with_the_booster():
    wrapper = REAL["reblog"]
    post = to_post(wrapper, INSTANCE)
    assert post.uri == wrapper["reblog"]["uri"] != wrapper["uri"]
    assert post.text == "Toot!"
    assert post.reposted_by == (wrapper["account"]["acct"] + "@localhost:3000",)
    assert post.raw is wrapper
    json.dumps(post.raw)  # plain JSON, unlike Mastodon.py entities with datetimes


def test_media_without_description_has_media_but_no_alt():
    post = to_post(REAL["media"], INSTANCE)
    assert post.has_media and post.media_alt == ()


def test_mock_page_converts_with_replies_counts_and_content_warnings():
    page = json.loads((FIXTURES / "mock-tag-edtech.json").read_text(encoding="utf-8"))
    instance = page[0]["uri"].split("/@")[0]
    posts = [to_post(status, instance) for status in page]
    assert len({post.uri for post in posts}) == len(page)
    assert all(post.tags and "edtech" in post.tags for post in posts)
    replies = [post for post in posts if post.reply_to]
    assert len(replies) == 1 and replies[0].reply_to.startswith(instance + "/api/v1/statuses/")
    warned = [post for post in posts if post.spoiler]
    assert warned and warned[0].sensitive
    assert any(post.author_bot for post in posts)
    assert any(post.media_alt for post in posts)
    assert {post.lang for post in posts} >= {"en", "de", "fr", "ja"}


def test_list_page_boost_wrapper():
    page = json.loads((FIXTURES / "mock-list-learning-tech.json").read_text(encoding="utf-8"))
    instance = page[0]["uri"].split("/@")[0]
    boosted = [to_post(status, instance) for status in page if status["reblog"]]
    assert len(boosted) == 1 and boosted[0].reposted_by[0].startswith("omar@")
    assert boosted[0].likes == 2


def test_status_without_uri_is_refused():
    with pytest.raises(ValueError, match="no uri"):
        to_post({"id": "1", "content": "<p>x</p>"}, "mastodon.social")


def test_bare_host_instance_and_missing_optional_fields():
    post = to_post({"uri": "https://a.example/users/x/statuses/1", "account": {"acct": "x"}}, "a.example")
    assert post.author == "x@a.example" and post.url == post.uri
    assert (post.likes, post.tags, post.text, post.created_at) == (0, (), "", "")


# Deliberately hostile or malformed HTML, hand-written: a server may send anything.
@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<p>one<br>two<br />three</p>", "one\ntwo\nthree"),
        ("<p>x<script>alert(1)</script>y</p>", "xy"),
        ("<P>Upper<BR>case</P>", "Upper\ncase"),
        ("<p>&lt;script&gt; &amp; &#x1F600;</p>", "<script> & \U0001f600"),
        ("<p>unclosed <a href='x'", "unclosed"),
        ("<style>p{}</style><!-- hidden --><p>shown</p>", "shown"),
        ("plain &amp; simple", "plain & simple"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<p>raw\nnewline</p>", "raw newline"),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_shared_links_skip_scripts_mentions_tags_and_relative():
    html = (
        '<a href="javascript:alert(1)">x</a><a href="/relative">r</a>'
        '<a href="https://h/@u" class="u-url mention">@u</a><a href="https://h/tags/t" rel="tag">#t</a>'
        '<a href="https://ok.example/a?b=1&amp;c=2">ok</a><a href="https://ok.example/a?b=1&amp;c=2">again</a>'
    )
    assert shared_links(html) == ["https://ok.example/a?b=1&c=2"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=200))
def test_escaped_text_comes_back_as_written(text):
    assert html_to_text(f"<p>{escape(text)}</p>") == text.strip()
