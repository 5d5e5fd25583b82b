"""Canonical URLs and the shared-links digest: one article, counted once per person, across networks."""

from __future__ import annotations

import itertools

import pytest

from plnfilter import links as links_module
from plnfilter.links import aggregate_links, canonical_url, link_key, top_links
from plnfilter.post import Post


@pytest.mark.parametrize(
    ("shared", "canonical"),
    [
        (
            "https://www.Example.org/blog/post/?utm_source=mastodon&utm_medium=social",
            "https://example.org/blog/post",
        ),
        ("HTTPS://EXAMPLE.ORG:443/blog/post#comments", "https://example.org/blog/post"),
        ("http://example.org:80/", "http://example.org"),
        ("https://example.org:8443/x/", "https://example.org:8443/x"),
        ("https://news.example/a?id=7&fbclid=IwAR0&gclid=abc", "https://news.example/a?id=7"),
        ("https://news.example/a?mc_cid=1&mc_eid=2&ref=feed&si=xyz", "https://news.example/a"),
        ("https://news.example/a?b=2&a=1", "https://news.example/a?a=1&b=2"),
        (
            "https://news.example/search?q=open%20education&UTM_Campaign=x",
            "https://news.example/search?q=open%20education",
        ),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&si=tracker", "https://youtube.com/watch?v=dQw4w9WgXcQ"),
        ("mailto:someone@example.org", "mailto:someone@example.org"),
        ("  https://example.org/Case/Kept/  ", "https://example.org/Case/Kept"),
    ],
)
def test_canonical_url_drops_tracking_and_cosmetic_differences(shared, canonical):
    assert canonical_url(shared) == canonical


def test_canonical_url_keeps_a_path_case_and_non_tracking_ref_like_params():
    assert (
        canonical_url("https://example.org/Paper.PDF?reference=3")
        == "https://example.org/Paper.PDF?reference=3"
    )


PLAIN_PARTS = (
    ("http://", "https://", "HTTPS://"),
    ("a.org", "www.a.org", "Www.A.org", "x-y.b.co", "1.2.3.4", "www.www.x", "a.org:443", "a.org.", "u@a.org"),
    ("", "/", "//", "/a", "/a/", "/a//b/", "/A%20b/c:d@e!$&()*+,;=", '/a\\b[c]{d}|^`<>"', "/é"),
    ("", "?", "?a=1", "?b=2&a=1", "?utm_source=x&id=7&fbclid=1", "?&&a", "?x=1?y/z", "?%75tm_source=1&k"),
    ("", "#", "#frag", "#a?b#c"),
)


def test_plain_urls_skip_the_parser_and_give_what_it_gives():
    urls = ["".join(parts) for parts in itertools.product(*PLAIN_PARTS)]
    urls += [f" {url}\n" for url in urls[::7]]
    for url in urls:
        assert links_module._canonical(url) == links_module._parsed(url.strip()), url
        assert canonical_url(url) == links_module._parsed(url.strip())[0], url


def test_a_url_no_parser_reads_is_no_link_and_breaks_nothing():
    scored = [(post("https://m.example/1", "ana@m.example", links=["http://[::1", "https://a.example"]), 1.0)]
    assert [link.url for link in aggregate_links(scored)] == ["https://a.example"]
    assert link_key("http://[::1") == "[::1"


def post(
    uri,
    author,
    network="mastodon",
    links=(),
    card_url="",
    card_title="",
    created_at="2026-11-26T09:00:00Z",
    **kw,
):
    return Post(
        uri=uri,
        network=network,
        url=f"https://web.example/{uri.rsplit('/', 1)[-1]}",
        author=author,
        links=tuple(links),
        card_url=card_url,
        card_title=card_title,
        created_at=created_at,
        text=f"post {uri}",
        **kw,
    )


ARTICLE = "https://blog.example.org/2026/11/open-pedagogy/"


def test_same_article_on_both_networks_counts_each_person_once():
    scored = [
        (post("https://m.example/1", "ana@m.example", links=[ARTICLE + "?utm_source=mastodon"]), 1.0),
        # ana shares it again: still one person
        (
            post(
                "https://m.example/2",
                "ana@m.example",
                links=["http://www.blog.example.org/2026/11/open-pedagogy"],
            ),
            0.5,
        ),
        (
            post(
                "at://did:plc:bo/app.bsky.feed.post/1",
                "bo.bsky.social",
                network="bluesky",
                card_url=ARTICLE + "#top",
                card_title="Open pedagogy in practice",
                links=[ARTICLE + "#top"],
            ),
            2.5,
        ),
        (post("https://m.example/3", "cy@m.example", links=["https://other.example/x"]), 9.0),
    ]
    links = aggregate_links(scored)
    assert [(link.url, link.count) for link in links] == [
        ("https://blog.example.org/2026/11/open-pedagogy", 2),
        ("https://other.example/x", 1),
    ]
    top = links[0]
    assert top.sharers == ["ana@m.example", "bo.bsky.social"]
    assert top.networks == ["mastodon", "bluesky"]
    assert top.posts == 3
    assert top.title == "Open pedagogy in practice"
    assert top.best_uri == "at://did:plc:bo/app.bsky.feed.post/1"  # the highest-scored post about it
    assert top.best_author == "bo.bsky.social"


def test_same_name_on_two_networks_is_two_people():
    scored = [
        (post("https://dana.example/1", "dana@dana.example", links=[ARTICLE]), 1.0),
        (
            post(
                "at://did:plc:dana/app.bsky.feed.post/1", "dana.example", network="bluesky", links=[ARTICLE]
            ),
            1.0,
        ),
    ]
    [link] = aggregate_links(scored)
    assert link.count == 2
    assert link.sharers == ["dana@dana.example", "dana.example"]


def test_https_copy_is_shown_when_someone_shared_it():
    scored = [
        (post("https://m.example/1", "ana@m.example", links=["http://example.org/a"]), 1.0),
        (post("https://m.example/2", "bo@m.example", links=["https://example.org/a/"]), 1.0),
    ]
    [link] = aggregate_links(scored)
    assert link.url == "https://example.org/a"
    assert link.count == 2


def test_ties_are_broken_by_best_score_then_recency_and_limits_apply():
    scored = [
        (
            post(
                "https://m.example/1",
                "ana@m.example",
                links=["https://a.example"],
                created_at="2026-11-26T08:00:00Z",
            ),
            1.0,
        ),
        (
            post(
                "https://m.example/2",
                "bo@m.example",
                links=["https://b.example"],
                created_at="2026-11-26T07:00:00Z",
            ),
            3.0,
        ),
        (
            post(
                "https://m.example/3",
                "cy@m.example",
                links=["https://c.example"],
                created_at="2026-11-26T09:00:00Z",
            ),
            1.0,
        ),
        (
            post(
                "https://m.example/4",
                "cy@m.example",
                links=["https://b.example"],
                created_at="2026-11-26T06:00:00Z",
            ),
            0.1,
        ),
    ]
    assert [link.url for link in aggregate_links(scored)] == [
        "https://b.example",  # two people
        "https://c.example",  # one person, score 1.0, newest
        "https://a.example",
    ]
    assert [link.url for link in top_links(scored, limit=1)] == ["https://b.example"]
    assert [link.url for link in top_links(scored, limit=None, min_sharers=2)] == ["https://b.example"]


def test_card_title_only_names_its_own_link():
    scored = [
        (
            post(
                "https://m.example/1",
                "ana@m.example",
                links=["https://a.example/x", "https://b.example/y"],
                card_url="https://b.example/y",
                card_title="  The B article  ",
            ),
            1.0,
        )
    ]
    titles = {link.url: link.title for link in aggregate_links(scored)}
    assert titles == {"https://a.example/x": "", "https://b.example/y": "The B article"}


def test_post_without_links_or_with_only_non_web_links_adds_nothing():
    scored = [(post("https://m.example/1", "ana@m.example", links=["mailto:a@b.example"]), 1.0)]
    assert aggregate_links(scored) == []


def test_row_is_flat_for_exporters():
    scored = [(post("https://m.example/1", "ana@m.example", links=[ARTICLE]), 1.23456)]
    row = aggregate_links(scored)[0].as_row()
    assert row["count"] == 1
    assert row["shared_by"] == ["ana@m.example"]
    assert row["best_score"] == 1.2346
    assert row["best_post"] == "https://web.example/1"
