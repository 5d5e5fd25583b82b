"""The links of a post are links in the HTML digest, as headless Chromium reads the page: http(s)
only, rel="noopener nofollow", tracking parameters gone, and no script run by hostile post HTML.

Chromium comes from `tests/browser/install.sh` (run by `make test`); PLNFILTER_SKIP_BROWSER=1 skips
these on a developer machine, never under CI (as in test_html_in_browser.py).
"""

from __future__ import annotations

import html
import os
import re
from datetime import timedelta

import pytest
from seeded_archive import NOW, build_archive, write_filter
from test_html_in_browser import PAYLOAD, assert_no_script_ran, run_chromium
from test_reading import plnfilter

from plnfilter.post import Post
from plnfilter.times import to_iso

pytestmark = pytest.mark.skipif(
    os.environ.get("PLNFILTER_SKIP_BROWSER") == "1" and os.environ.get("CI", "").lower() != "true",
    reason="PLNFILTER_SKIP_BROWSER=1: browser tests not run",
)
TITLE = "Links digest"
MASTODON_HTML = (
    '<p>Read <a href="https://blog.example.org/post?utm_source=mastodon&amp;id=7&amp;fbclid=abc" '
    'target="_blank" onclick="' + PAYLOAD + '">blog.example.org/post</a> and '
    '<a href="https://edu.example/tags/edtech" class="mention hashtag" rel="tag">#<span>edtech</span></a>'
    f'<script>{PAYLOAD}</script><img src=x onerror="{PAYLOAD}"></p>'
    f'<p><a href="javascript:{PAYLOAD}">javascript link</a> <a href="data:text/html,hi">data link</a> '
    f'<a href="//evil.example/x">relative link</a><style>body{{display:none}}</style></p>'
)


def link_posts():
    when = to_iso(NOW - timedelta(minutes=20))
    return [
        Post(
            uri="https://edu.example/users/kate/statuses/1",
            network="mastodon",
            url="https://edu.example/@kate/1",
            author="kate@edu.example",
            created_at=when,
            html=MASTODON_HTML,
            text="Read blog.example.org/post and #edtech",
            tags=("edtech",),
            links=("https://blog.example.org/post?utm_source=mastodon&id=7&fbclid=abc",),
            likes=30,
        ),
        Post(
            uri="at://did:plc:bo/app.bsky.feed.post/3kb1",
            network="bluesky",
            url="https://bsky.app/profile/bo.bsky.social/post/3kb1",
            author="bo.bsky.social",
            created_at=when,
            # Bluesky shows long links shortened; the facets (Post.links) hold the real targets
            text="Slides: example.org/slides/feedb... and more at https://oer.example/x?utm_medium=social. #edtech",
            tags=("edtech",),
            links=(
                "https://example.org/slides/feedback-loops?utm_campaign=like69",
                "https://oer.example/x?utm_medium=social",
                "https://extra.example/page?gclid=1&page=2",
            ),
            likes=20,
        ),
        Post(
            uri="at://did:plc:mallory/app.bsky.feed.post/3evil",
            network="bluesky",
            url="https://bsky.app/profile/mallory.bsky.social/post/3evil",
            author="mallory.bsky.social",
            created_at=when,
            text=f'Look https://evil.example/"><script>{PAYLOAD}</script> javascript:{PAYLOAD} #edtech',
            tags=("edtech",),
            links=(f"javascript:{PAYLOAD}",),
            likes=10,
        ),
    ]


def anchors(dom: str) -> list[tuple[str, str, str]]:
    """(href, rel, text) of every link in the rendered page."""
    found = []
    for match in re.finditer(r"<a\b([^>]*)>(.*?)</a>", dom, re.S):
        attributes = match.group(1)
        href = re.search(r'href="([^"]*)"', attributes)
        rel = re.search(r'rel="([^"]*)"', attributes)
        text = re.sub(r"<[^>]+>", "", match.group(2))
        found.append(
            (html.unescape(href.group(1)) if href else "", rel.group(1) if rel else "", html.unescape(text))
        )
    return found


def test_post_links_are_clickable_clean_and_safe_in_chromium(tmp_path):
    archive = build_archive(tmp_path / "links.db", link_posts())
    page = tmp_path / "digest.html"
    result = plnfilter("top", write_filter(tmp_path), "--db", archive, "-o", page, "--title", TITLE)
    assert result.exit_code == 0, result.output
    shown = run_chromium(
        "--virtual-time-budget=3000", "--dump-dom", page.as_uri(), user_data=tmp_path / "profile"
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = shown.stdout
    assert_no_script_ran(dom, TITLE)
    links = anchors(dom)
    targets = {href: text for href, _, text in links}
    # Mastodon's own anchors, minus the trackers; the hashtag link stays a link
    assert targets["https://blog.example.org/post?id=7"] == "blog.example.org/post"
    assert targets["https://edu.example/tags/edtech"] == "#edtech"
    # Bluesky's text: a shortened link and a whole URL become links to the real targets
    assert targets["https://example.org/slides/feedback-loops"] == "example.org/slides/feedb..."
    assert targets["https://oer.example/x"] == "https://oer.example/x?utm_medium=social"
    assert targets["https://extra.example/page?page=2"]  # in the facets, not the text: listed under it
    # only web links, each marked as leading off the page, none carrying a tracker
    for href, rel, text in links:
        if not href:  # the sanitiser took a javascript:, data: or relative target away: no longer a link
            assert text in ("javascript link", "data link", "relative link"), text
            continue
        assert href.startswith(("https://", "http://")), href
        assert {"noopener", "nofollow"} <= set(rel.split()), (href, rel)
        assert not re.search(r"[?&](utm_|fbclid|gclid)", href), href
    assert not any("evil.example" in href and "script" in href.lower() for href, _, _ in links)
    assert "javascript link" in dom and "data link" in dom  # their text stays, as text
    assert "&lt;script&gt;" in dom  # Mallory's markup is shown as text
