"""The PLN the integration tests run against: who posts what, who likes and reposts what.

`seed_pln` writes it and returns a JSON-able description (URIs, DIDs and times change on every
start). Search on the reference AppView is a case-sensitive substring match over the text
(see ../../../shared/peers/bluesky.md), so the expected results below say which posts a
`#edtech` search can return and which of those plnfilter must keep.
"""

from __future__ import annotations

from datetime import timedelta

from .seed import Ref, Seeder

PEOPLE = {
    "kate.test": "Kate Educator",
    "adjoa.test": "Adjoa Mensah",
    "liwei.test": "Li Wei",
    "maria.test": "María López",
    "yuki.test": "Yuki Tanaka",
    "jonas.test": "Jonas Becker",
    "freebies.test": "Free Crypto Giveaways",
    "stuffer.test": "Growth Hacker",
    "curator.test": "PLN Curator",
    "pln-runner.test": "Reader",
    "hushed.test": "Hushed Teacher",  # asks apps not to show the account to logged-out people
}
OPTED_OUT = "hushed.test"


def seed_pln(seeder: Seeder, network) -> dict:
    """Write the base PLN; `network` is the running Network (for processAll and the feed generator)."""
    for handle, name in PEOPLE.items():
        seeder.account(handle, name, f"{name} on the test network")
    p: dict[str, Ref] = {}
    post = seeder.post
    p["slides"] = post(
        "kate.test",
        "Slides from my #edtech talk on feedback loops are up: https://example.org/slides",
        card=("https://example.org/slides", "Feedback loops that work"),
        age=timedelta(hours=3),
    )
    p["assess"] = post(
        "adjoa.test",
        "Great discussion on #EdTech and formative assessment today",
        age=timedelta(hours=2, minutes=50),
    )
    p["podcast"] = post(
        "liwei.test",
        "New #edtech podcast episode on AI tutors and what they get wrong",
        images=("Podcast cover: a microphone on a desk",),
        age=timedelta(hours=2, minutes=40),
    )
    p["es"] = post(
        "maria.test",
        "Recursos abiertos para docentes #edtech #PLN",
        ("es",),
        age=timedelta(hours=2, minutes=30),
    )
    p["ja"] = post(
        "yuki.test",
        "教育テクノロジーの勉強会に参加しました #edtech",
        ("ja",),
        age=timedelta(hours=2, minutes=20),
    )
    p["de"] = post(
        "jonas.test",
        "Neue Ideen für den Unterricht #edtech #Schule",
        ("de",),
        age=timedelta(hours=2, minutes=10),
    )
    p["tags_only"] = post(
        "kate.test",
        "Reading list for the week: three papers on peer feedback",
        tags=("EdTech", "PLN"),
        age=timedelta(hours=2),
    )
    p["reply"] = post(
        "adjoa.test",
        "@kate.test thanks for sharing! #edtech",
        reply_to=p["slides"],
        age=timedelta(hours=1, minutes=50),
    )
    p["quote"] = post(
        "liwei.test",
        "Worth reading, especially slide 12 #edtech",
        quote=p["slides"],
        age=timedelta(hours=1, minutes=40),
    )
    p["quote_media"] = post(
        "maria.test",
        "Mi resumen visual #edtech",
        ("es",),
        quote=p["slides"],
        images=("Diagrama de retroalimentación en tres pasos",),
        age=timedelta(hours=1, minutes=30),
    )
    p["spam"] = post(
        "freebies.test",
        "Huge #edtech giveaway! Claim your free airdrop now https://claim.example.com/now",
        age=timedelta(hours=1, minutes=20),
    )
    p["stuffed"] = post(
        "stuffer.test",
        "#edtech #ai #crypto #nft #web3 #learning #teaching #pln follow for more",
        age=timedelta(hours=1, minutes=10),
    )
    p["not_a_tag"] = post(
        "jonas.test", "#edtechnology is not a word, but here we are", age=timedelta(hours=1)
    )
    p["no_facet"] = post(
        "liwei.test",
        "typed by a script: #edtech without a facet",
        facet_tags=False,
        age=timedelta(minutes=50),
    )
    p["bilingual"] = post(
        "yuki.test", "Bilingual notes #edtech / 二か国語のメモ", ("ja", "en"), age=timedelta(minutes=40)
    )
    p["sensitive"] = post(
        "jonas.test",
        "Unblurred photos from the anatomy lab #edtech",
        labels=("graphic-media",),
        age=timedelta(minutes=30),
    )
    p["EDTECH_upper"] = post("adjoa.test", "Shouting about #EDTECH budgets again", age=timedelta(minutes=20))
    p["opted_out"] = post(  # a hashtag of its own: no other test's search or timeline sees it
        OPTED_OUT,
        "Rubric drafts I would rather keep off public pages #rubricnotes",
        age=timedelta(minutes=10),
    )
    # "Discourage apps from showing my account to logged-out users", set after posting, as people do
    seeder.set_profile_labels(OPTED_OUT, ("!no-unauthenticated",))

    likes = {
        "slides": ["adjoa.test", "liwei.test", "maria.test", "yuki.test"],
        "es": ["kate.test"],
        "assess": ["curator.test"],
    }
    for key, who in likes.items():
        for handle in who:
            seeder.like(handle, p[key])
    reposts = {"slides": ["curator.test", "liwei.test"], "es": ["curator.test"]}
    for key, who in reposts.items():
        for handle in who:
            seeder.repost(handle, p[key])
    for subject in ("kate.test", "adjoa.test", "liwei.test"):
        seeder.follow("pln-runner.test", subject)
    list_uri = seeder.curation_list(
        "curator.test", "PLN educators", ["kate.test", "adjoa.test", "maria.test"]
    )

    feed_uri = f"at://{seeder.accounts['curator.test'].did}/app.bsky.feed.generator/pln-picks"
    feed_posts = [p["slides"].uri, p["es"].uri, p["ja"].uri]
    generator_did = network.serve_feed(feed_uri, feed_posts)
    seeder.feed_generator("curator.test", "pln-picks", generator_did, "PLN picks")
    seeder.settle()

    return {
        "accounts": {handle: account.did for handle, account in seeder.accounts.items()},
        "password": "pln-test-password",
        "posts": {key: ref.__dict__ | {"tags": sorted(ref.tags)} for key, ref in p.items()},
        "likes": {key: len(who) for key, who in likes.items()},
        "reposts": reposts,
        "list": list_uri,
        "list_members": ["kate.test", "adjoa.test", "maria.test"],
        "feed": feed_uri,
        "feed_posts": feed_posts,
        "timeline_follows": ["kate.test", "adjoa.test", "liwei.test"],
        "opted_out": OPTED_OUT,
    }
