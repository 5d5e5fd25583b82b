"""Feeds as a network, run as cron runs plnfilter: real feed documents (as WordPress, Blogger, GitHub,
JSON Feed and RSS 1.0 generators write them, tests/fixtures/feeds) served by a plain web server on
127.0.0.1 with ETag/Last-Modified, 304, redirects, errors and a slow answer (tests/servers/feed_server.py).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from servers.fault_server import figure_reporter, run_plnfilter
from servers.feed_server import FIXTURES, serving

from plnfilter.store.rows import inflate_raw

RSS = "application/rss+xml; charset=UTF-8"
ATOM = "application/atom+xml; charset=utf-8"
GENERATORS = {  # path -> (fixture, content type, items in it)
    "/wordpress/feed/": ("wordpress-rss2.xml", RSS, 2),
    "/feeds/posts/default": ("blogger-atom.xml", ATOM, 2),
    "/h5p-example/h5p-quiz/releases.atom": ("github-releases.atom", ATOM, 2),
    "/feed.json": ("jsonfeed-1.1.json", "application/feed+json", 2),
    "/rss": ("rss10.rdf", "application/rdf+xml", 2),
}


@pytest.fixture
def server():
    yield from serving()


def write_filter(folder: Path, sources: str, extra: str = "") -> Path:
    path = folder / "feeds.yaml"
    path.write_text(f"name: feeds\nsources:\n{sources}{extra}", encoding="utf-8")
    return path


def run(filter_path: Path, db: Path, *args: str):
    return run_plnfilter("run", filter_path, "--db", db, "--since", "3650d", *args)


def rows(db: Path, sql: str = "SELECT * FROM posts ORDER BY uri") -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def serve_generators(server) -> list[str]:
    for path, (name, content_type, _) in GENERATORS.items():
        server.put_fixture(path, name, content_type)
    return [server.url(path) for path in GENERATORS]


def test_every_generator_is_archived_as_posts(server, tmp_path):
    urls = serve_generators(server)
    filter_path = write_filter(tmp_path, f"  - feeds: [{', '.join(urls)}]\n")
    db = tmp_path / "a.db"
    result = run(filter_path, db)
    assert result.returncode == 0, result.stderr
    posts = {row["uri"]: row for row in rows(db)}
    assert len(posts) == sum(count for _, _, count in GENERATORS.values())
    assert {row["network"] for row in posts.values()} == {"feed"}

    wordpress = posts[server.url("/wordpress/feed/") + "#https://openpedagogy.example/?p=1042"]
    assert wordpress["author"] == "Ruth Okafor"  # dc:creator
    assert wordpress["created_at"] == "2026-12-01T09:12:44Z"
    assert wordpress["text"].startswith("Why we stopped grading homework\n\nAfter a term without marks")
    assert "<p>" not in wordpress["text"]
    assert json.loads(wordpress["tags"]) == ["assessment", "open pedagogy"]
    assert "https://research.example/papers/feedback-2025" in json.loads(wordpress["links"])
    podcast = posts[server.url("/wordpress/feed/") + "#https://openpedagogy.example/?p=1031"]
    assert podcast["has_media"] == 1  # the enclosure
    assert podcast["created_at"] == "2026-11-28T16:30:00Z"  # +0100 in the feed, UTC here

    blogger = posts[
        server.url("/feeds/posts/default")
        + "#tag:blogger.com,1999:blog-7315298440938213741.post-4452301986112045001"
    ]
    assert blogger["author"] == "Mireille Dubois"
    assert blogger["created_at"] == "2026-11-30T19:58:00Z"
    assert blogger["url"] == "https://librarycorner.blogspot.com/2026/11/teaching-lateral-reading.html"

    release = posts[
        server.url("/h5p-example/h5p-quiz/releases.atom") + "#tag:github.com,2008:Repository/481516234/v2.4.0"
    ]
    assert release["author"] == "ana-k" and "screen readers" in release["text"]

    issue = posts[server.url("/feed.json") + "#https://smallteaching.example/issues/48"]
    assert issue["author"] == "Dana Whitfield"  # the feed's author, the item naming none
    assert issue["created_at"] == "2026-11-30T12:00:00Z"
    assert json.loads(issue["tags"]) == ["retrieval practice", "newsletter"]
    read_aloud = posts[server.url("/feed.json") + "#47"]
    assert read_aloud["author"] == "Guest: Priya Raman" and read_aloud["has_media"] == 1

    article = posts[server.url("/rss") + "#https://journal-of-open-ed.example/articles/10.5555/joe.2026.0117"]
    assert article["author"] == "Hollis, J.; Ngata, T." and article["created_at"] == "2026-11-27T00:00:00Z"


def test_an_item_without_an_author_is_by_its_feed(server, tmp_path):
    server.put_fixture("/feed", "hostile-script.xml", RSS)
    filter_path = write_filter(tmp_path, f"  - feed: {server.url('/feed')}\n")
    db = tmp_path / "a.db"
    assert run(filter_path, db).returncode == 0
    (post,) = rows(db)
    assert post["author"] == "Totally Normal Blog"


def test_script_in_a_feed_never_reaches_text_links_or_html(server, tmp_path):
    server.put_fixture("/feed", "hostile-script.xml", RSS)
    filter_path = write_filter(tmp_path, f"  - feed: {server.url('/feed')}\n")
    db = tmp_path / "a.db"
    result = run(filter_path, db)
    assert result.returncode == 0, result.stderr
    (post,) = rows(db)
    assert post["text"] == "Free worksheets\n\nDownload here."
    assert json.loads(post["links"]) == ["https://worksheets.example/free"]  # not the javascript: link
    for bad in ("<script", "onclick", "onerror", "<iframe", "javascript:"):
        assert bad not in post["html"].lower()
    html = tmp_path / "top.html"
    assert run_plnfilter("export", "--db", db, "-o", html).returncode == 0
    page = html.read_text(encoding="utf-8").lower()
    assert "free worksheets" in page
    assert "<script" not in page and "javascript:" not in page and "onerror" not in page


def test_unchanged_feed_costs_one_conditional_request(server, tmp_path, request):
    urls = serve_generators(server)
    filter_path = write_filter(tmp_path, f"  - feeds: [{', '.join(urls)}]\n")
    db = tmp_path / "a.db"
    assert run(filter_path, db).returncode == 0
    first = len(server.log)
    cursors = {row["name"]: json.loads(row["cursor"]) for row in rows(db, "SELECT * FROM sources")}
    assert all(cursor["etag"] and cursor["modified"] for cursor in cursors.values()), cursors
    result = run(filter_path, db)
    assert result.returncode == 0, result.stderr
    second = server.log[first:]
    assert len(second) == len(GENERATORS)
    assert all(entry.conditional and entry.status == 304 for entry in second), second
    figure_reporter(request)(
        f"feeds: first run {first} requests for {len(GENERATORS)} feeds; second run of the unchanged feeds "
        f"{len(second)} requests, {sum(e.conditional for e in second)} conditional, "
        f"{sum(e.status == 304 for e in second)} answered 304"
    )


def test_items_added_edited_and_removed_between_runs_leave_no_gap_and_no_duplicate(server, tmp_path, request):
    template = (FIXTURES / "wordpress-rss2.xml").read_text(encoding="utf-8")
    head, _, rest = template.partition("\t<item>")
    items = ["\t<item>" + part for part in rest.split("\t<item>")]
    tail = "\t</channel>\n</rss>\n"
    items[-1] = items[-1].replace(tail, "")
    new_item = (
        items[0]
        .replace("?p=1042", "?p=1050")
        .replace("Why we stopped grading homework", "Peer review in Year 7")
        .replace("Tue, 01 Dec 2026 09:12:44", "Wed, 02 Dec 2026 06:00:00")
    )
    server.put("/feed", head + "".join(items) + tail, RSS)
    filter_path = write_filter(tmp_path, f"  - feed: {server.url('/feed')}\n")
    db = tmp_path / "a.db"
    assert run(filter_path, db).returncode == 0
    before = {row["uri"] for row in rows(db)}
    assert len(before) == 2

    edited = items[1].replace("OER in vocational schools", "OER in vocational colleges")
    server.put("/feed", head + new_item + edited + tail, RSS)  # one added, one edited, one dropped
    result = run(filter_path, db)
    assert result.returncode == 0, result.stderr
    after = rows(db)
    uris = [row["uri"] for row in after]
    assert len(uris) == len(set(uris)), "a duplicate"
    assert before <= set(uris), "an archived item was lost"
    assert len(uris) == 3  # 2 + the new one
    episode = next(row for row in after if row["uri"].endswith("?p=1031"))
    assert "OER in vocational colleges" in episode["text"]  # the edit updated the archived item
    assert any("Peer review in Year 7" in row["text"] for row in after)
    served = before | {server.url("/feed") + "#https://openpedagogy.example/?p=1050"}
    gaps, duplicates = len(served - set(uris)), len(uris) - len(set(uris))
    assert (gaps, duplicates) == (0, 0)
    figure_reporter(request)(
        f"feeds: two runs with 1 item added, 1 edited, 1 removed between them: {gaps} gaps, {duplicates} duplicates"
    )


def test_redirects_are_followed_and_identity_stays_the_written_address(server, tmp_path):
    server.put_fixture("/new/feed.xml", "wordpress-rss2.xml", RSS)
    server.redirect("/old/feed", 301, server.url("/moved/feed"))
    server.redirect("/moved/feed", 302, server.url("/new/feed.xml"))
    filter_path = write_filter(tmp_path, f"  - feed: {server.url('/old/feed')}\n")
    db = tmp_path / "a.db"
    result = run(filter_path, db)
    assert result.returncode == 0, result.stderr
    assert {row["uri"].partition("#")[0] for row in rows(db)} == {server.url("/old/feed")}


BROKEN = {
    "invalid": (lambda s: s.put_fixture("/broken", "invalid.xml", RSS), "is not well-formed XML at line 4"),
    "wrong charset": (
        lambda s: s.put_fixture("/broken", "wrong-charset.xml", RSS),
        "says it is UTF-8 but is not",
    ),
    "html error page": (
        lambda s: s.put_fixture("/broken", "error-page.html", "text/html; charset=UTF-8"),
        "sent a web page, not a feed",
    ),
    "billion laughs": (
        lambda s: s.put_fixture("/broken", "billion-laughs.xml", RSS),
        "declares its own XML entities",
    ),
    "404": (lambda s: s.fail("/broken", 404), "answered 404 Not Found"),
    "500": (lambda s: s.fail("/broken", 500), "answered 500 Internal Server Error"),
    "redirect loop": (
        lambda s: (s.redirect("/broken", 301, s.url("/again")), s.redirect("/again", 302, s.url("/broken"))),
        "redirects more than 5 times (a redirect loop?)",
    ),
    "huge": (
        lambda s: s.huge.__setitem__("/broken", 3_000_000),
        "is larger than 1 MB, the most a feed may be",
    ),
    "slow": (lambda s: s.slow.add("/broken"), "no answer from 127.0.0.1"),
    "gzip bomb": (lambda s: s.bomb("/broken"), "is larger than 1 MB, the most a feed may be"),
    "trickle": (lambda s: s.trickle.add("/broken"), "took more than 3s to arrive"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_feed_is_one_clear_line_and_exit_3_while_the_others_are_saved(server, tmp_path, kind):
    arrange, message = BROKEN[kind]
    arrange(server)
    server.put_fixture("/good", "rss10.rdf", "application/rdf+xml")
    filter_path = write_filter(
        tmp_path, f"  - feed: {server.url('/broken')}\n    max_size: 1 MB\n  - feed: {server.url('/good')}\n"
    )
    db = tmp_path / "a.db"
    result = run(filter_path, db, "--timeout", "0.5", "--max-time", "10")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if message in line]
    assert len(lines) == 1, result.stderr
    assert f"feed:{server.url('/broken')}" in lines[0]
    assert len(rows(db)) == 2  # the good feed's items


def test_opml_subscriptions_are_fetched_and_a_missing_file_is_named_by_check(server, tmp_path):
    serve_generators(server)
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n  <head><title>Feeds exported from NetNewsWire</title></head>\n'
        "  <body>\n"
        f'    <outline text="Open Pedagogy Notes" title="Open Pedagogy Notes" type="rss" xmlUrl="{server.url("/wordpress/feed/")}" htmlUrl="https://openpedagogy.example"/>\n'
        '    <outline text="Research" title="Research">\n'
        f'      <outline text="Journal" type="rss" xmlUrl="{server.url("/rss")}"/>\n'
        f'      <outline text="Small Teaching" type="rss" xmlUrl="{server.url("/feed.json")}"/>\n'
        "    </outline>\n  </body>\n</opml>\n",
        encoding="utf-8",
    )
    filter_path = write_filter(tmp_path, "  - opml: subscriptions.opml\n")
    db = tmp_path / "a.db"
    result = run(filter_path, db)
    assert result.returncode == 0, result.stderr
    assert {row["uri"].partition("#")[0] for row in rows(db)} == {
        server.url(path) for path in ("/wordpress/feed/", "/rss", "/feed.json")
    }
    missing = write_filter(tmp_path, "  - opml: gone.opml\n")
    checked = run_plnfilter("check", missing)
    assert checked.returncode != 0
    assert "gone.opml does not exist" in checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("  - feed: ftp://example.org/feed\n", 3, "'ftp://example.org/feed' is not an http(s) address"),
        ("  - feeds: []\n", 3, "'feeds' needs a list of text, not an empty list"),
        ("  - feed: https://example.org/feed\n    max_size: lots\n", 4, "max_size 'lots' is not a size"),
        ("  - feed: https://example.org/feed\n    hashtags: [x]\n", 4, "unknown key 'hashtags'"),
        (
            "  - feed: https://example.org/feed\n    opml: x.opml\n",
            4,
            "one source has both 'feed' and 'opml'",
        ),
    ],
)
def test_filter_file_mistakes_name_file_and_line(tmp_path, source, line, message):
    filter_path = write_filter(tmp_path, source)
    result = run_plnfilter("check", filter_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"feeds.yaml:{line}: {message}" in result.stderr


def test_rules_query_export_links_and_top_work_on_feed_items(server, tmp_path):
    urls = serve_generators(server)
    filter_path = write_filter(
        tmp_path,
        f"  - feeds: [{', '.join(urls)}]\n",
        "exclude:\n  - name: bots\n    authors: ['github-actions*']\n"
        "include:\n  - name: open\n    words: [open]\n    network: feed\n    boost: 2\n  - name: rest\n    network: feed\n",
    )
    db = tmp_path / "a.db"
    assert run(filter_path, db).returncode == 0
    kept = {
        row["author"]
        for row in rows(
            db,
            "SELECT author FROM posts JOIN verdicts ON verdicts.post_id = posts.id WHERE verdicts.kept = 1",
        )
    }
    assert "github-actions[bot]" not in kept and "Ruth Okafor" in kept
    article = server.url("/rss") + "#https://journal-of-open-ed.example/articles/10.5555/joe.2026.0117"
    explained = run_plnfilter("explain", article, filter_path, "--db", db, "--since", "3650d")
    assert explained.returncode == 0, explained.stderr
    assert "open" in explained.stdout and "engagement" in explained.stdout
    queried = run_plnfilter("query", "open textbooks", "--db", db, "--network", "feed", "--format", "json")
    assert queried.returncode == 0, queried.stderr
    assert {row["author"] for row in json.loads(queried.stdout)} >= {"Hollis, J.; Ngata, T."}
    links = run_plnfilter("links", "--db", db, "--since", "3650d", "--format", "json")
    assert links.returncode == 0, links.stderr
    assert "https://research.example/papers/feedback-2025" in links.stdout
    top = run_plnfilter("top", filter_path, "--db", db, "--since", "3650d", "--format", "json")
    assert top.returncode == 0, top.stderr
    chosen = json.loads(top.stdout)
    assert any(row["text"].startswith("Why we stopped grading homework") for row in chosen)
    assert all(row["network"] == "feed" for row in chosen)
    digest = run_plnfilter("top", filter_path, "--db", db, "--since", "3650d", "--format", "markdown")
    assert digest.returncode == 0, digest.stderr
    assert "Why we stopped grading homework" in digest.stdout
    exported = tmp_path / "feeds.atom"
    assert run_plnfilter("export", "--db", db, "-o", exported).returncode == 0
    assert "Why we stopped grading homework" in exported.read_text(encoding="utf-8")


def test_ranking_neither_buries_nor_lifts_a_network_without_counts():
    from datetime import UTC, datetime

    from plnfilter.filterfile.model import RankConfig
    from plnfilter.post import Post
    from plnfilter.rank import score

    now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    when = "2026-12-02T07:00:00Z"
    rank = RankConfig()
    item = score(Post("https://blog.example/feed#1", "feed", created_at=when), None, now, rank)
    unliked = score(Post("https://m.example/1", "mastodon", created_at=when), None, now, rank)
    typical = score(
        Post("https://m.example/2", "mastodon", created_at=when, likes=1, reposts=1), None, now, rank
    )
    popular = score(
        Post("https://m.example/3", "mastodon", created_at=when, likes=40, reposts=9), None, now, rank
    )
    assert unliked.total < item.total == typical.total < popular.total
    # counts a feed item somehow carries are not believed: feeds have none
    padded = score(Post("https://blog.example/feed#2", "feed", created_at=when, likes=900), None, now, rank)
    assert padded.total == item.total


def test_saved_feed_items_replay_through_a_file_source(server, tmp_path):
    urls = serve_generators(server)
    db = tmp_path / "a.db"
    assert run(write_filter(tmp_path, f"  - feeds: [{', '.join(urls)}]\n"), db).returncode == 0
    archived = rows(
        db, "SELECT uri, text, raw FROM posts JOIN post_raw ON post_raw.post_id = posts.id ORDER BY uri"
    )
    saved = tmp_path / "items.jsonl"  # post_raw keeps each raw API object zlib-compressed (preset dictionary)
    saved.write_text("".join(inflate_raw(row["raw"]).decode() + "\n" for row in archived), encoding="utf-8")
    replay = tmp_path / "replay.db"
    replayed = run(write_filter(tmp_path, "  - file: items.jsonl\n"), replay)
    assert replayed.returncode == 0, replayed.stderr
    again = rows(replay, "SELECT uri, text, network FROM posts ORDER BY uri")
    assert [(row["uri"], row["text"]) for row in again] == [(row["uri"], row["text"]) for row in archived]
    assert {row["network"] for row in again} == {"feed"}


def test_charsets_as_servers_really_send_them_are_read(server, tmp_path):
    """`text/xml` without a charset (RFC 3023 would say us-ascii), a declared ISO-8859-1 feed, a
    UTF-16 feed, a post about XML entities and `&nbsp;` in a title: all ordinary feeds, all read."""
    item = "<item><title>{title}</title><guid>{guid}</guid><description>{text}</description></item>"

    def rss(declaration: str, title: str, text: str = "") -> str:
        return (
            f'<?xml version="1.0"{declaration}?><rss version="2.0"><channel><title>Café</title>'
            + item.format(title=title, guid=title[:8], text=text)
            + "</channel></rss>"
        )

    server.put("/text-xml", rss(' encoding="UTF-8"', "Réforme du collège"), "text/xml")
    server.put(
        "/latin",
        rss(' encoding="ISO-8859-1"', "Élèves à l'oeuvre").encode("latin-1"),
        "text/xml",
    )
    server.put(
        "/utf16", rss(' encoding="UTF-16"', "Lernen über Grenzen").encode("utf-16"), "application/rss+xml"
    )
    server.put(
        "/entities",
        rss("", "Why XML parsers refuse entities", "&lt;!ENTITY lol &quot;lol&quot;&gt; is how it starts"),
        "application/rss+xml",
    )
    server.put("/nbsp", rss("", "Open&nbsp;day at the library"), "application/rss+xml")
    urls = [server.url(path) for path in ("/text-xml", "/latin", "/utf16", "/entities", "/nbsp")]
    db = tmp_path / "a.db"
    result = run(write_filter(tmp_path, f"  - feeds: [{', '.join(urls)}]\n"), db)
    assert result.returncode == 0, result.stderr
    titles = sorted(row["text"].split("\n\n")[0] for row in rows(db))
    assert titles == [
        "Lernen über Grenzen",
        "Open\xa0day at the library",  # `&nbsp;` is HTML, not XML: read leniently, and the run says so
        "Réforme du collège",
        "Why XML parsers refuse entities",
        "Élèves à l'oeuvre",
    ]
    assert "read leniently: HTML entities that XML does not define" in result.stderr
