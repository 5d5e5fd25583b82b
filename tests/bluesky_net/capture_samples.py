"""Capture real responses from the reference network: test fixtures and the demo's sample files.

    .venv/bin/python tests/bluesky_net/capture_samples.py

Writes tests/fixtures/bluesky/*.json (the base PLN of scenario.py, one file per XRPC call) and
filters/samples/bluesky-search.json, bluesky-listfeed.json and bluesky-timeline.json (the base PLN plus a busier stream
with spam, hashtag stuffing and other languages), each exactly as the server returned it.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from bluesky_net.network import Network  # noqa: E402
from bluesky_net.scenario import seed_pln  # noqa: E402
from bluesky_net.seed import Seeder  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "bluesky"
SAMPLES = ROOT / "filters" / "samples"

# A busier stream for the demo: (handle, text, langs, extra) with extra in {"", "image", "card"}.
STREAM = [
    (
        "kate.test",
        "Our department switched to ungraded first drafts. Six weeks in, revision rates doubled #edtech #assessment",
        "en",
        "",
    ),
    ("adjoa.test", "Open textbook list for intro statistics, all CC-BY #edtech #OER", "en", "card"),
    (
        "liwei.test",
        "Panel recording from #LIKE69 is online: AI feedback on student writing #edtech",
        "en",
        "card",
    ),
    ("maria.test", "Taller gratuito sobre evaluación formativa el jueves #edtech #PLN", "es", ""),
    (
        "freebies.test",
        "FREE #edtech AIRDROP!!! Connect your wallet to claim 500 tokens https://claim.example.com/x",
        "en",
        "",
    ),
    (
        "stuffer.test",
        "#edtech #edchat #AI #ChatGPT #learning #teachers #education #startup #growth",
        "en",
        "",
    ),
    ("yuki.test", "授業でのフィードバックの工夫をまとめました #edtech #PLN", "ja", ""),
    ("jonas.test", "Unsere Schule testet jetzt digitale Lernportfolios #edtech #Schule", "de", ""),
    ("kate.test", "Slides and notes from today's talk on peer review rubrics #edtech #LIKE69", "en", "image"),
    (
        "adjoa.test",
        "Question for my PLN: what is your favourite low-tech formative check? #edtech #PLN",
        "en",
        "",
    ),
    (
        "freebies.test",
        "Giveaway time! Retweet + follow to win an iPad for your classroom #edtech #giveaway",
        "en",
        "",
    ),
    (
        "liwei.test",
        "Thread: five things we learned running an AI tutor pilot with 300 students #edtech",
        "en",
        "",
    ),
    ("maria.test", "Novo guia de recursos educacionais abertos em português #edtech #REA", "pt", "card"),
    ("jonas.test", "Ateliers numériques pour enseignants, inscriptions ouvertes #edtech", "fr", ""),
    (
        "stuffer.test",
        "#edtech #elearning #mlearning #gamification #AR #VR #metaverse #blockchain #web3",
        "en",
        "",
    ),
    (
        "kate.test",
        "Reminder: accessibility is not an add-on. Alt text, captions, contrast #edtech #a11y",
        "en",
        "image",
    ),
    ("yuki.test", "#LIKE69 のパネルディスカッション、スライドを公開しました #edtech", "ja", "card"),
    ("adjoa.test", "Formative assessment works best when students see the criteria first #edtech", "en", ""),
    (
        "freebies.test",
        "Last chance: free crypto for teachers, airdrop ends tonight #edtech #crypto",
        "en",
        "",
    ),
    ("liwei.test", "Reading group next week: Black & Wiliam, Inside the Black Box #edtech #PLN", "en", ""),
    ("maria.test", "¿Alguien usa rúbricas colaborativas con estudiantes? #edtech", "es", ""),
    ("kate.test", "Office hours for new teachers every Tuesday, DMs open #edtech #PLN", "en", ""),
    ("jonas.test", "Fortbildung zu KI im Unterricht: Folien online #edtech #KI", "de", "card"),
    ("adjoa.test", "Talk proposal accepted for #LIKE69! Topic: feedback literacy #edtech", "en", ""),
    ("yuki.test", "オンライン授業のアンケート結果を共有します #edtech", "ja", "image"),
    (
        "liwei.test",
        "Small study, big caveat: retrieval practice apps helped weaker readers most #edtech",
        "en",
        "card",
    ),
    ("stuffer.test", "#edtech #study #tips #motivation #productivity #students #exam #success", "en", ""),
    ("maria.test", "Resumen del panel de ayer sobre IA y evaluación #edtech #LIKE69", "es", ""),
    (
        "kate.test",
        "We tried exit tickets on paper vs. in the LMS. Paper won on response rate #edtech",
        "en",
        "",
    ),
    ("freebies.test", "🎁 #edtech GIVEAWAY 🎁 win 1 ETH, just follow and like", "en", ""),
    (
        "adjoa.test",
        "Notes from the #LIKE69 slides session: make feedback actionable within 48h #edtech",
        "en",
        "image",
    ),
    ("jonas.test", "Wie gebt ihr Feedback auf Projektarbeiten? #edtech #PLN", "de", ""),
    ("liwei.test", "Our open-source quiz tool now supports screen readers #edtech #a11y", "en", "card"),
    ("kate.test", "Grading less, giving more feedback: one semester in #edtech", "en", ""),
    ("yuki.test", "Moodle と Google Classroom の比較メモ #edtech", "ja", ""),
    ("maria.test", "Comunidad de práctica para docentes de ciencias, ¡únete! #edtech #PLN", "es", ""),
    ("adjoa.test", "Students wrote their own rubric today. Best discussion of the term #edtech", "en", ""),
    (
        "stuffer.test",
        "#edtech #EdTech #EDTECH #edtechchat #edtechteam #edtechlife #edtechie #edtechcoach",
        "en",
        "",
    ),
    (
        "liwei.test",
        "Slides: why learning analytics dashboards rarely change teaching #edtech #LIKE69",
        "en",
        "image",
    ),
    ("kate.test", "Anyone have research on feedback timing in large lectures? #edtech #PLN", "en", ""),
]


def capture(base: str, nsid: str, **params) -> dict:
    response = httpx.get(f"{base}/xrpc/{nsid}", params=params, timeout=30)
    response.raise_for_status()
    return response.json()


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    count = len(data.get("posts") or data.get("feed") or [])
    print(f"{path.relative_to(ROOT)}: {count} posts", file=sys.stderr)


def main() -> None:
    network = Network().start()
    try:
        seeder = Seeder(network.pds, network)
        info = seed_pln(seeder, network)
        appview = network.appview
        write(
            FIXTURES / "searchPosts.json",
            capture(appview, "app.bsky.feed.searchPosts", q="#edtech", limit=100),
        )
        write(FIXTURES / "getListFeed.json", capture(appview, "app.bsky.feed.getListFeed", list=info["list"]))
        write(
            FIXTURES / "getAuthorFeed-reposts.json",
            capture(appview, "app.bsky.feed.getAuthorFeed", actor="curator.test"),
        )
        write(
            FIXTURES / "getAuthorFeed.json",
            capture(appview, "app.bsky.feed.getAuthorFeed", actor="liwei.test"),
        )
        write(
            FIXTURES / "getAuthorFeed-replies.json",
            capture(appview, "app.bsky.feed.getAuthorFeed", actor="adjoa.test"),
        )
        write(FIXTURES / "getFeed.json", capture(appview, "app.bsky.feed.getFeed", feed=info["feed"]))
        write(
            FIXTURES / "getPosts-tags-only.json",
            capture(appview, "app.bsky.feed.getPosts", uris=[info["posts"]["tags_only"]["uri"]]),
        )
        write(
            FIXTURES / "getPosts-mixed-case.json",
            capture(
                appview,
                "app.bsky.feed.getPosts",
                uris=[info["posts"]["assess"]["uri"], info["posts"]["EDTECH_upper"]["uri"]],
            ),
        )

        for index, (handle, text, lang, extra) in enumerate(STREAM):
            age = timedelta(minutes=5 * (len(STREAM) - index))
            images = (f"Slide {index}: a chart of student feedback over a term",) if extra == "image" else ()
            card = (
                (f"https://example.org/pln/{index}", text.split("#")[0].strip()[:60])
                if extra == "card"
                else None
            )
            seeder.post(handle, text, (lang,), images=images, card=card, age=age)
        seeder.repost(
            "maria.test",
            seeder.post("liwei.test", "Short thread on feedback literacy #edtech", age=timedelta(minutes=1)),
        )
        seeder.settle()
        write(
            SAMPLES / "bluesky-search.json",
            capture(appview, "app.bsky.feed.searchPosts", q="#edtech", limit=70),
        )
        write(
            SAMPLES / "bluesky-listfeed.json",
            capture(appview, "app.bsky.feed.getListFeed", list=info["list"], limit=30),
        )
        # getListFeed carries no reposts on this AppView; a following timeline does.
        for subject in ("curator.test", "maria.test"):
            seeder.follow("pln-runner.test", subject)
        seeder.settle()
        runner = seeder.accounts["pln-runner.test"].client
        write(
            SAMPLES / "bluesky-timeline.json",
            runner.invoke_query("app.bsky.feed.getTimeline?limit=25").content,
        )
    finally:
        network.stop()


if __name__ == "__main__":
    main()
