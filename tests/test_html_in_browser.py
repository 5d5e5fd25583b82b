"""The HTML digest in a real browser (Debian's headless Chromium): hostile posts run no script.

`tests/browser/install.sh` (run by `make test`) installs Chromium. Without it these tests fail and
say so, unless PLNFILTER_SKIP_BROWSER=1 asks to skip them on a developer machine (never under CI).
Set PLNFILTER_UPDATE_DOCS=1 to rewrite docs/digest.png from the screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from seeded_archive import build_archive, seed_posts, write_filter

from plnfilter import export
from plnfilter.cli.cmd_digest import top
from plnfilter.post import Post
from plnfilter.times import now_utc, to_iso

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    os.environ.get("PLNFILTER_SKIP_BROWSER") == "1" and os.environ.get("CI", "").lower() != "true",
    reason="PLNFILTER_SKIP_BROWSER=1: browser tests not run",
)
DOCS = Path(__file__).resolve().parent.parent / "docs"
TITLE = "PLN digest"
PAYLOAD = "document.title='pwned';document.body.setAttribute('data-pwned','1')"

# Deliberately hostile, hand-written: what an attacker can put in a post on either network.
HOSTILE_HTML = (
    f"<p>Totally normal #edtech post<script>{PAYLOAD}</script></p>"
    f'<p><img src=x onerror="{PAYLOAD}"><a href="javascript:{PAYLOAD}">click</a>'
    f'<svg onload="{PAYLOAD}"></svg><iframe src="javascript:{PAYLOAD}"></iframe></p>'
)
HOSTILE_TEXT = f'Plain text can hold markup too: <script>{PAYLOAD}</script> <img src=x onerror="{PAYLOAD}">'


def hostile_posts(now):
    return [
        Post(
            uri="https://evil.example/users/mallory/statuses/666",
            network="mastodon",
            url=f"javascript:{PAYLOAD}",
            author="mallory@evil.example",
            author_name=f"<script>{PAYLOAD}</script>Mallory",
            created_at=to_iso(now - timedelta(minutes=30)),
            html=HOSTILE_HTML,
            text="Totally normal #edtech post <script> in the HTML",
            tags=("edtech",),
            likes=500,
            reposts=200,
            spoiler=f'<img src=x onerror="{PAYLOAD}">',
            media_alt=(f"</div><script>{PAYLOAD}</script>",),
        ),
        Post(
            uri="at://did:plc:mallory/app.bsky.feed.post/3evil",
            network="bluesky",
            url="https://bsky.app/profile/mallory.bsky.social/post/3evil",
            author="mallory.bsky.social",
            created_at=to_iso(now - timedelta(minutes=40)),
            text=HOSTILE_TEXT + " #edtech",
            tags=("edtech",),
            likes=300,
        ),
    ]


def run_chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed: run tests/browser/install.sh (make test does)"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={user_data}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def digest_page(tmp_path):
    """`plnfilter top --format html` over seeded posts plus two hostile ones."""
    now = now_utc()
    posts = seed_posts(now) + hostile_posts(now)
    # a readable screenshot: give the seeded Mastodon posts names as a server would
    posts = [
        replace(p, author_name=p.author.split("@")[0].title())
        if p.network == "mastodon" and not p.author_name
        else p
        for p in posts
    ]
    archive = build_archive(tmp_path / "archive.db", posts, now)
    page = tmp_path / "digest.html"
    result = CliRunner().invoke(
        top,
        [
            str(write_filter(tmp_path)),
            "--db",
            str(archive),
            "--format",
            "html",
            "-o",
            str(page),
            "--title",
            TITLE,
        ],
    )
    assert result.exit_code == 0, result.output
    return page


def assert_no_script_ran(dom: str, title: str) -> None:
    assert re.search(r"<title>([^<]*)</title>", dom).group(1) == title  # the payload would have renamed it
    assert not re.search(r"<body[^>]*data-pwned", dom)  # ...and marked the body
    assert "<script" not in dom.lower()  # the template has none; any would come from a post
    assert not re.search(r"<(img|svg|iframe)\b[^>]*\bon\w+=", dom, re.I)
    assert "<iframe" not in dom.lower()
    assert 'href="javascript:' not in dom.lower()


def test_hostile_posts_run_no_script_in_the_digest(digest_page, tmp_path):
    result = run_chromium(
        "--virtual-time-budget=3000", "--dump-dom", digest_page.as_uri(), user_data=tmp_path / "profile"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert (
        "Totally normal" in dom and "Plain text can hold markup too" in dom
    )  # the hostile posts are shown...
    assert "&lt;script&gt;" in dom  # ...as text
    assert_no_script_ran(dom, TITLE)


def test_sanitised_post_html_runs_no_script(tmp_path):
    """The exporter's `show_html` path keeps Mastodon's paragraphs and links and drops everything else."""
    now = now_utc()
    rows = [{**post_row, "html": post.html} for post, post_row in ((p, _row(p)) for p in hostile_posts(now))]
    page = tmp_path / "html.html"
    with open(page, "w", encoding="utf-8") as out:
        export.write(rows, "html", out, title=TITLE, show_html=True)
    result = run_chromium(
        "--virtual-time-budget=3000", "--dump-dom", page.as_uri(), user_data=tmp_path / "profile"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Totally normal #edtech post" in result.stdout
    assert_no_script_ran(result.stdout, TITLE)


def _row(post: Post) -> dict:
    from plnfilter.store import Judged, judged_row

    return judged_row(Judged(post, True, 1.0, ("topics",)))


def test_screenshot_of_the_digest(digest_page, tmp_path):
    shot = tmp_path / "digest.png"
    result = run_chromium(
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        "--hide-scrollbars",
        digest_page.as_uri(),
        user_data=tmp_path / "profile",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 1600)
    assert len(data) > 20_000  # a page of text, not a blank canvas
    if os.environ.get("PLNFILTER_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / "digest.png")


def test_the_check_would_catch_a_script_that_ran(tmp_path):
    """Control: under these flags Chromium does run scripts, so a clean DOM above means none ran."""
    page = tmp_path / "unsafe.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><title>{TITLE}</title></head><body>"
        f"<p>x</p><img src=x onerror=\"document.body.setAttribute('data-onerror','1')\"><script>{PAYLOAD}</script>"
        "</body></html>"
    )
    result = run_chromium(
        "--virtual-time-budget=3000", "--dump-dom", page.as_uri(), user_data=tmp_path / "profile"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<title>pwned</title>" in result.stdout
    assert re.search(r"<body[^>]*data-pwned", result.stdout)
    assert re.search(r"<body[^>]*data-onerror", result.stdout)  # onerror handlers run too
    with pytest.raises(AssertionError):
        assert_no_script_ran(result.stdout, TITLE)
