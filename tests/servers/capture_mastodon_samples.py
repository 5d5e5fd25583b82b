"""Regenerate the Mastodon demo samples and test fixtures from a seeded mastodon-mock, through its HTTP API.

    .venv/bin/python tests/servers/capture_mastodon_samples.py

    .venv/bin/python tests/servers/capture_mastodon_samples.py instance2   # only the second instance

Writes `filters/samples/mastodon-tags.json` and `filters/samples/mastodon-list.json` (a realistic
PLN stream with noise: giveaway spam, a bot, hashtag stuffing, several languages, replies, content
warnings, link cards, images with alt text, boosts) and `tests/fixtures/mastodon/*.json` (the test
community's pages). Every file holds statuses exactly as the API returned them; only `created_at`
is spread over the last two days in the mock's database before capture, so recency ranking has
something to rank (recency is relative: the demo runs at any later date).

`filters/samples/mastodon-instance2.json` is a home timeline on a second instance,
fosstodon.example, that holds a federated copy of a status from edu.social.example's list sample
(tom's question, boosted there by priya) and a local boost of it (by ravi): the same post reached
through two instances. The copy is made as in the tests (`federate_copy`: origin's uri, HTML,
language and time written into the second mock's database, which is all the mock cannot do itself).
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from servers.mastodon_mock import (  # noqa: E402
    MockInstance,
    seed_community,
    seed_config,
    start_mock,
    start_with_federated_copy,
)

from plnfilter.html_text import html_to_text  # noqa: E402

DEMO_DOMAIN = "edu.social.example"
DEMO_TAGS = ["edtech", "pln", "like69", "librarytwitter", "oer"]

DEMO_ACCOUNTS = [
    ("kate", "Kate Okafor · teacher", False, None),
    ("adjoa", "Adjoa Mensah", False, None),
    ("marco", "Marco Rossi (he/him)", False, None),
    ("priya", "Priya Natarajan", False, None),
    ("tom", "Tom Becker", False, None),
    ("libby", "Libby the Librarian", False, None),
    ("sofia", "Sofía Márquez", False, None),
    ("hannah", "Hannah Weber", False, None),
    ("claire", "Claire Dubois", False, None),
    ("kenji", "田中 健二", False, None),
    ("oer_feed", "OER Feed (automated)", True, None),
    ("edtech_news", "EdTech Headlines Bot", True, None),
    ("cryptodeals", "🚀 FREE AIRDROP 🚀", False, None),
    ("growthhacker", "Growth Hacker", False, None),
    ("sam", "Sam Idowu", False, None),
    ("noor", "Noor Haddad", False, None),
    ("dana", "Dana at the District", False, None),
    ("ravi", "Ravi K", False, "fosstodon.example"),
    ("julia", "Julia Novak", False, "scholar.example"),
]
REMOTE = [
    ("ravi", "Self-hosting Moodle on a Raspberry Pi for our maker club. Notes in the thread #EdTech #OER"),
    (
        "ravi",
        "Open textbooks keep getting better. Today: an intro stats book with runnable notebooks #OER #PLN",
    ),
    ("julia", "Our #LIKE69 panel slides on feedback literacy are up, thanks to everyone who came #PLN"),
    ("julia", "Peer review of teaching, done kindly: a short protocol we use #EdTech #PLN"),
]

# (account, text, extra fields) for the demo stream; "{link}" placeholders become real URLs
POSTS: list[tuple[str, str, dict]] = [
    (
        "kate",
        "Retrieval practice in 5 minutes a day changed my Year 9 class. Write-up: https://blog.example.edu/retrieval-practice #EdTech #PLN",
        {"language": "en"},
    ),
    (
        "adjoa",
        "Slides from my #LIKE69 talk on student agency with AI tools: https://slides.example.org/agency-ai #EdTech",
        {"language": "en"},
    ),
    (
        "marco",
        "Who else is at #LIKE69 this week? Looking for people to chat about assessment design #PLN",
        {"language": "en"},
    ),
    (
        "priya",
        "Thread: what I learned moving a whole department to open textbooks #OER #EdTech",
        {"language": "en"},
    ),
    ("tom", "Hot take: most #EdTech dashboards measure clicks, not learning", {"language": "en"}),
    ("libby", "New display for banned books week is up! Come say hi #LibraryTwitter", {"language": "en"}),
    (
        "libby",
        "Our makerspace is now open after school on Thursdays #LibraryTwitter #EdTech",
        {"language": "en"},
    ),
    (
        "sofia",
        "Comparto mi plantilla para rúbricas colaborativas https://docs.example.es/rubricas #EdTech #OER",
        {"language": "es"},
    ),
    (
        "hannah",
        "Heute im Kollegium: digitale Lernpfade mit offenen Materialien #EdTech #OER",
        {"language": "de"},
    ),
    (
        "claire",
        "Retour d'expérience : la classe inversée en lycée professionnel https://blog.example.fr/classe-inversee #EdTech #PLN",
        {"language": "fr"},
    ),
    (
        "kenji",
        "授業でのICT活用について勉強会を開きました。資料はこちら https://example.jp/ict #EdTech",
        {"language": "ja"},
    ),
    (
        "oer_feed",
        "New OER: Introductory Biology (CC BY) https://oer.example.org/bio-101 #OER",
        {"language": "en"},
    ),
    (
        "oer_feed",
        "New OER: Statistics for Social Sciences (CC BY-SA) https://oer.example.org/stats #OER",
        {"language": "en"},
    ),
    (
        "edtech_news",
        "Headline: District adopts new learning platform https://news.example.com/district-platform #EdTech",
        {"language": "en"},
    ),
    (
        "edtech_news",
        "Headline: Survey finds teachers want fewer apps https://news.example.com/fewer-apps #EdTech",
        {"language": "en"},
    ),
    (
        "cryptodeals",
        "🎁 GIVEAWAY 🎁 Free tokens for teachers! Claim your airdrop now https://scam.example/claim #EdTech #PLN #OER",
        {"language": "en"},
    ),
    (
        "cryptodeals",
        "Airdrop live!! Connect your wallet for free NFT certificates #EdTech #LIKE69",
        {"language": "en"},
    ),
    (
        "growthhacker",
        "10x your classroom!!! #EdTech #PLN #OER #LIKE69 #LibraryTwitter #AI #Growth #Marketing #K12",
        {"language": "en"},
    ),
    (
        "growthhacker",
        "Want more followers? #EdTech #PLN #edchat #teachers #school #learning #success #mindset",
        {"language": "en"},
    ),
    (
        "sam",
        "Our school's AI policy draft is open for comments, feedback welcome https://school.example/ai-policy #EdTech #PLN",
        {"language": "en"},
    ),
    ("noor", "Reading group this Friday: 'Teaching to Transgress'. DM me to join #PLN", {"language": "en"}),
    ("dana", "District PD day recap: the best sessions were teacher-led #EdTech #PLN", {"language": "en"}),
    (
        "priya",
        "Open pedagogy means students write the textbook with you. Our pilot results: https://openped.example.org/pilot #OER #PLN",
        {"language": "en"},
    ),
    (
        "marco",
        "Notes from the #LIKE69 keynote on learning analytics ethics https://notes.example.net/like69-keynote #EdTech",
        {"language": "en"},
    ),
    ("kate", "Small wins: a shy student presented her podcast today #PLN", {"language": "en"}),
    (
        "adjoa",
        "Collecting examples of good alt text in course materials, please share! #EdTech #PLN",
        {"language": "en"},
    ),
    (
        "tom",
        "Does anyone have a good rubric for evaluating #EdTech tools for accessibility?",
        {"language": "en"},
    ),
    ("libby", "Book club picks for spring are in #LibraryTwitter", {"language": "en"}),
    ("sofia", "Mañana taller sobre recursos educativos abiertos en la biblioteca #OER", {"language": "es"}),
    ("hannah", "Gute Erfahrungen mit Peer-Feedback in der Oberstufe #PLN", {"language": "de"}),
    (
        "claire",
        "Quelqu'un a des ressources sur l'évaluation par compétences ? #PLN #EdTech",
        {"language": "fr"},
    ),
    ("kenji", "#PLN のみなさん、おすすめのポッドキャストはありますか？", {"language": "ja"}),
    ("sam", "Parents' evening tonight, wish me luck #PLN", {"language": "en"}),
    (
        "noor",
        "Our #LIKE69 workshop on inclusive syllabi: slides https://slides.example.org/inclusive #PLN",
        {"language": "en"},
    ),
    (
        "dana",
        "Procurement tip: ask vendors for their data deletion policy before the demo #EdTech",
        {"language": "en"},
    ),
]
TOPIC_TEMPLATES = [
    "Trying {thing} with my {group} next week. Any tips? #EdTech",
    "Quick reflection on {thing}: students loved it, I need to tweak the timing #PLN",
    "Resource share: a free guide to {thing} https://resources.example.org/{slug} #OER #EdTech",
    "Library session on {thing} went well today #LibraryTwitter",
    "Session idea for #LIKE69: {thing} in practice, who wants to co-present?",
    "Read this on {thing} and it made me rethink my planning https://reading.example.com/{slug} #PLN",
]
THINGS = [
    "spaced practice",
    "digital portfolios",
    "peer assessment",
    "podcasting",
    "open textbooks",
    "project-based learning",
    "AI feedback tools",
    "inquiry circles",
    "student-led conferences",
    "escape rooms",
    "flipped lessons",
    "accessibility checks",
    "media literacy",
    "coding clubs",
]
GROUPS = ["Year 7s", "first-years", "Grade 5", "adult learners", "sixth form", "pre-service teachers"]
SPAM = [
    "🎁 Giveaway! Retweet and follow to win an iPad #EdTech #PLN",
    "AIRDROP ALERT 🚀 teachers get free coins #EdTech #OER",
]


def seed_demo(mock: MockInstance, rng: random.Random) -> dict[str, str]:
    """About 150 statuses across the demo tags, with noise, and engagement that differs."""
    posted: list[dict] = []
    users = [
        name
        for name, _, bot, domain in DEMO_ACCOUNTS
        if not domain and not bot and name not in ("cryptodeals", "growthhacker")
    ]
    for user, text, fields in POSTS:
        posted.append(mock.post(user, text, **fields))
    for number in range(85):
        thing = rng.choice(THINGS)
        text = rng.choice(TOPIC_TEMPLATES).format(
            thing=thing, group=rng.choice(GROUPS), slug=thing.replace(" ", "-").lower()
        )
        posted.append(mock.post(rng.choice(users), text, language="en"))
        if number % 17 == 0:
            posted.append(mock.post("cryptodeals", rng.choice(SPAM), language="en"))
    # content warnings, images with alt text, replies, unlisted/private noise
    posted.append(
        mock.post(
            "noor",
            "Long thread on burnout and workload, take care if you read it #PLN",
            spoiler_text="teacher burnout",
            language="en",
        )
    )
    media = mock.image(
        "kate", "Students' sticky notes on a whiteboard grouped into three themes: time, feedback, choice"
    )
    posted.append(
        mock.post("kate", "Exit tickets from today, sorted #EdTech #PLN", media_ids=[media], language="en")
    )
    media = mock.image(
        "libby", "A library display of banned books wrapped in brown paper with hand-written blurbs"
    )
    posted.append(
        mock.post("libby", "Blind date with a banned book #LibraryTwitter", media_ids=[media], language="en")
    )
    media = mock.image("oer_feed", "")
    posted.append(mock.post("oer_feed", "Weekly OER roundup #OER", media_ids=[media], language="en"))
    first = posted[0]
    for user, text in [
        ("adjoa", "@kate this matches what we saw with Year 8, thanks for writing it up #EdTech"),
        ("marco", "@kate do you do it at the start or end of the lesson? #PLN"),
        ("kate", "@marco start, as a warm-up, 5 minutes max #PLN"),
    ]:
        posted.append(mock.post(user, text, in_reply_to_id=first["id"], language="en"))
    mock.post("kate", "Quiet note to self #EdTech", visibility="unlisted")
    mock.post("kate", "Followers-only rant about timetabling #EdTech", visibility="private")
    # engagement: a few popular posts, a long tail
    likers = users + ["ravi"] * 0
    for status in posted:
        if status["account"]["acct"] in ("cryptodeals", "growthhacker"):
            continue
        for user in rng.sample(users, k=min(len(users), int(rng.paretovariate(1.5)) - 1)):
            if user != status["account"]["acct"]:
                mock.favourite(user, status["id"])
    for status in rng.sample(posted[:40], k=8):
        booster = rng.choice([u for u in likers if u != status["account"]["acct"]])
        mock.boost(booster, status["id"])
    return {"list": mock.make_list("kate", "Learning Tech", ["adjoa", "marco", "priya", "libby", "sofia"])}


INSTANCE2_DOMAIN = "fosstodon.example"
INSTANCE2_READER = "mei"  # her home timeline is the sample
INSTANCE2_ACCOUNTS = [
    ("ravi", "Ravi K", False, None),
    ("mei", "Mei Chen", False, None),
    ("femi", "Femi Adeyemi", False, None),
    ("release_notes", "FOSS Release Notes", True, None),
]
INSTANCE2_POSTS = [
    ("ravi", "Moodle on a Raspberry Pi, part 2: backups are the hard part, not the install #EdTech #OER"),
    (
        "femi",
        "The free and open source tools I use in my physics class, a list https://femi.example.org/foss #EdTech #OER",
    ),
    ("mei", "Starting a reading group on open pedagogy at our uni. Who is in? #PLN"),
    (
        "release_notes",
        "Released: Kolibri 0.19 with offline sync improvements https://releases.example.org/kolibri #EdTech",
    ),
    ("ravi", "Jupyter notebooks in Year 11 maths, week 3: students now fork each other's work #EdTech"),
    ("femi", "Does anyone run Nextcloud for a whole school? Looking for war stories #EdTech #PLN"),
    ("mei", "Our library now lends Linux laptops to students, 40 so far #LibraryTwitter"),
]
BOOSTED_ON_BOTH = "tom"  # the list sample's boost of this author's status is federated to instance 2


def spread_times(db_path: Path, rng: random.Random, span_hours: float = 40.0) -> None:
    """Give statuses plausible times over the last `span_hours`, keeping id order = time order."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with sqlite3.connect(db_path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM statuses ORDER BY id")]
        moments = sorted(now - timedelta(hours=rng.uniform(0.2, span_hours)) for _ in ids)
        conn.executemany(
            "UPDATE statuses SET created_at = ? WHERE id = ?", list(zip(moments, ids, strict=True))
        )


def spread_times_between(
    db_path: Path, rng: random.Random, start: datetime, end: datetime, keep: str
) -> None:
    """Times for every status but `keep` (the federated copy) inside the origin's sample window, in id order."""
    start, end = (moment.astimezone(UTC).replace(tzinfo=None) for moment in (start, end))
    span = (end - start).total_seconds()
    with sqlite3.connect(db_path) as conn:
        ids = [
            row[0] for row in conn.execute("SELECT id FROM statuses WHERE id != ? ORDER BY id", (int(keep),))
        ]
        moments = sorted(start + timedelta(seconds=rng.uniform(60, span)) for _ in ids)
        conn.executemany(
            "UPDATE statuses SET created_at = ? WHERE id = ?", list(zip(moments, ids, strict=True))
        )


def capture_tags(mock: MockInstance, tags: list[str]) -> list[dict]:
    """Each tag timeline in full, newest first, de-duplicated by id (a status can carry several tags)."""
    seen: set[str] = set()
    statuses: list[dict] = []
    for tag in tags:
        for status in mock.tag_timeline(tag):
            if status["id"] not in seen:
                seen.add(status["id"])
                statuses.append(status)
    return statuses


def get_page(mock: MockInstance, path: str, user: str | None = None) -> list[dict]:
    return mock.call("GET", path, user, params={"limit": 40})


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({len(data) if isinstance(data, list) else 1} items)")


def capture_demo() -> None:
    rng = random.Random(69)
    config = f'domain = "{DEMO_DOMAIN}"\nurl_scheme = "https"\n[database]\npath = "DBPATH"\n'
    config += seed_config(DEMO_ACCOUNTS, REMOTE)
    mock = start_mock(config, in_memory=False)
    try:
        seeded = seed_demo(mock, rng)
        spread_times(Path(mock.workdir) / "mock.sqlite", rng)
        write_json(ROOT / "filters/samples/mastodon-tags.json", capture_tags(mock, DEMO_TAGS))
        write_json(
            ROOT / "filters/samples/mastodon-list.json",
            get_page(mock, f"/api/v1/timelines/list/{seeded['list']}", "kate"),
        )
    finally:
        mock.stop()


def capture_instance2() -> None:
    """A second instance's home timeline with a local boost of a status federated from edu.social.example."""
    rng = random.Random(2)
    origin_list = json.loads((ROOT / "filters/samples/mastodon-list.json").read_text(encoding="utf-8"))
    origin_times = json.loads((ROOT / "filters/samples/mastodon-tags.json").read_text(encoding="utf-8"))
    boosts = [
        s["reblog"]
        for s in origin_list
        if (s["reblog"] or {}).get("account", {}).get("acct") == BOOSTED_ON_BOTH
    ]
    if not boosts:
        raise SystemExit(f"mastodon-list.json has no boost of {BOOSTED_ON_BOTH}'s: change BOOSTED_ON_BOTH")
    original = boosts[0]
    head = f'domain = "{INSTANCE2_DOMAIN}"\nurl_scheme = "https"\n'
    mock, copy_id = start_with_federated_copy(
        original, html_to_text(original["content"]), DEMO_DOMAIN, INSTANCE2_ACCOUNTS, head
    )
    try:
        for name in ("ravi", "femi", "release_notes"):
            mock.follow(INSTANCE2_READER, name)
        for user, text in INSTANCE2_POSTS[:4]:
            mock.post(user, text, language="en")
        # a boost and no favourite: the copy's counts then match the origin's (0 likes, 1 boost), so the
        # demo's row is the same whichever sample is saved last (the tests cover counts that differ)
        mock.boost("ravi", copy_id)
        for user, text in INSTANCE2_POSTS[4:]:
            mock.post(user, text, language="en")
        own = [s for name in ("ravi", "femi") for s in mock.statuses_of(name) if not s["reblog"]]
        for status in own[:2] + own[-1:]:
            mock.favourite(INSTANCE2_READER, status["id"])
        end = max(datetime.fromisoformat(s["created_at"]) for s in origin_times + origin_list)
        spread_times_between(mock.database, rng, datetime.fromisoformat(original["created_at"]), end, copy_id)
        home = get_page(mock, "/api/v1/timelines/home", INSTANCE2_READER)
        if not any((s["reblog"] or {}).get("uri") == original["uri"] for s in home):
            raise SystemExit("the boost of the federated copy is missing from the home timeline")
        write_json(ROOT / "filters/samples/mastodon-instance2.json", home)
    finally:
        mock.stop()


def capture_test_fixtures() -> None:
    mock = start_mock()
    try:
        seeded = seed_community(mock)
        fixtures = ROOT / "tests/fixtures/mastodon"
        write_json(fixtures / "mock-tag-edtech.json", get_page(mock, "/api/v1/timelines/tag/edtech"))
        write_json(
            fixtures / "mock-list-learning-tech.json",
            get_page(mock, f"/api/v1/timelines/list/{seeded['list_id']}", "kate"),
        )
    finally:
        mock.stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["instance2"]:
        capture_test_fixtures()
        capture_demo()
    capture_instance2()
