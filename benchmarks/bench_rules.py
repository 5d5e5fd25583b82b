"""Figure 4: the rule engine over the corpus against hand-written loops doing the same checks.

Each hand loop is what someone would write for one filter file and nothing else: the rules
inlined in one function, regexes precompiled with `re`, whole words as one boundary regex.
Every verdict (kept, matched rules, boost) is compared with the engine's, so the loops are
known to do the same work.
"""

from __future__ import annotations

import re
import statistics

from measure import ROOT, Row, rate_ratio, timed

_GIVEAWAY_DIGEST = re.compile(
    r"(?<!\w)(?:giveaways|giveaway|airdrop|free followers|follow back|dm for promo)(?!\w)"
)
_GIVEAWAY_WORDS_DIGEST = ("giveaway", "airdrop", "free followers", "follow back", "dm for promo")
_ASKING = re.compile(r"(?i)(any (tips|ideas|recommendations)|does anyone|has anyone|looking for)")
_RESOURCE_WORDS = re.compile(r"(?<!\w)(?:open textbook|toolkit|template|rubric|guide)(?!\w)")
_RESOURCE_NEEDLES = ("open textbook", "toolkit", "template", "rubric", "guide")
_CRYPTO = frozenset({"crypto", "nft", "web3", "airdrop"})
_TOPICS = frozenset({"edtech", "pln", "librarytwitter", "oer", "edchat", "openeducation"})


def _folded(post) -> str:
    if post.spoiler or post.media_alt:
        return "\n".join((post.text, post.spoiler, *post.media_alt)).casefold()
    return post.text.casefold()


def _searched(pattern: re.Pattern, post) -> bool:
    if pattern.search(post.text):
        return True
    if post.spoiler and pattern.search(post.spoiler):
        return True
    return any(pattern.search(alt) for alt in post.media_alt)


def hand_pln_digest(post) -> tuple[bool, tuple[str, ...], float]:
    """filters/pln-digest.yaml, by hand."""
    tags = post.tags
    if len(tags) >= 6 or post.author_bot or not _CRYPTO.isdisjoint(tags):
        return False, (), 0.0
    has_link = bool(post.links or post.card_url)
    if len(post.text) < 25 and not has_link:
        return False, (), 0.0
    text = _folded(post)
    if any(w in text for w in _GIVEAWAY_WORDS_DIGEST) and _GIVEAWAY_DIGEST.search(text):
        return False, (), 0.0
    matched: list[str] = []
    boost = 0.0
    if not _TOPICS.isdisjoint(tags):
        matched.append("topics")
        boost += 1
    if _searched(_ASKING, post):
        matched.append("asking-the-network")
        boost += 1
    if has_link and (
        "oer" in tags
        or (any(w in text for w in _RESOURCE_NEEDLES) and _RESOURCE_WORDS.search(text) is not None)
    ):
        matched.append("resources")
        boost += 0.5
    if post.reply_to and post.likes + post.reposts + post.replies + post.quotes >= 3:
        matched.append("conversation")
    return bool(matched), tuple(matched), boost


_GIVEAWAY_DEMO = re.compile(r"(?<!\w)(?:connect your wallet|free tokens|free coins|giveaway|airdrop)(?!\w)")
_GIVEAWAY_WORDS_DEMO = ("giveaway", "airdrop", "free tokens", "free coins", "connect your wallet")
_SPAM_TAGS = frozenset({"crypto", "nft", "web3"})
_SPAM_DOMAINS = ("scam.example", "claim.example.com")
_DEMO_TOPICS = frozenset({"edtech", "pln", "oer", "librarytwitter", "like69"})
_CONFERENCE = re.compile(r"(?i)\b(slides?|panel|talk|keynote|workshop)\b")
_QUESTIONS = re.compile(r"(?i)any tips\?|does anyone|who wants to|\?$")


def _spam_link(url: str) -> bool:
    lowered = url.lower()
    if "scam.example" not in lowered and "claim.example.com" not in lowered:
        return False
    host = lowered.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rpartition("@")[2].partition(":")[0].rstrip(".")
    return host in _SPAM_DOMAINS or host.endswith((".scam.example", ".claim.example.com"))


def hand_demo(post) -> tuple[bool, tuple[str, ...], float]:
    """filters/demo.yaml, by hand."""
    tags = post.tags
    text = _folded(post)
    if any(w in text for w in _GIVEAWAY_WORDS_DEMO) and _GIVEAWAY_DEMO.search(text):
        return False, (), 0.0
    if not _SPAM_TAGS.isdisjoint(tags) or any(_spam_link(u) for u in post.links):
        return False, (), 0.0
    if post.card_url and _spam_link(post.card_url):
        return False, (), 0.0
    if len(tags) >= 6:
        return False, (), 0.0
    if post.author_bot:
        author = post.author
        if not (
            author == "oer_feed@edu.social.example"
            or author.lower() == "oer_feed@edu.social.example"
            or post.author_id.lower() == "oer_feed@edu.social.example"
        ):
            return False, (), 0.0
    matched: list[str] = []
    boost = 0.0
    if not _DEMO_TOPICS.isdisjoint(tags):
        matched.append("topics")
        boost += 1
    if "like69" in tags and _searched(_CONFERENCE, post):
        matched.append("conference")
        boost += 2
    if _searched(_QUESTIONS, post):
        matched.append("questions")
        boost += 0.5
    if (post.links or post.card_url) and ("oer" in tags or "pln" in tags):
        matched.append("shared-resources")
        boost += 0.5
    return bool(matched), tuple(matched), boost


HAND_LOOPS = {"pln-digest.yaml": hand_pln_digest, "demo.yaml": hand_demo}


def measure(ctx) -> list[Row]:
    from plnfilter.filterfile import load
    from plnfilter.rules import compile_rules

    posts = ctx.posts_list()
    rows = []
    for name, hand in HAND_LOOPS.items():
        ruleset = compile_rules(load(ROOT / "filters" / name))
        now = ctx.now

        def engine(ruleset=ruleset, now=now) -> None:
            evaluate = ruleset.evaluate
            for post in posts:
                evaluate(post, now)

        def by_hand(hand=hand) -> None:
            for post in posts:
                hand(post)

        disagree = 0
        for post in posts:
            verdict = ruleset.evaluate(post, now)
            kept, matched, boost = hand(post)
            if (verdict.kept, verdict.matched, verdict.boost) != (kept, matched, boost):
                disagree += 1
        ours, theirs = [], []
        for _ in range(ctx.repeat_light):
            ours.append(timed(engine))
            theirs.append(timed(by_hand))
        ours_rate = len(posts) / statistics.median(ours)
        theirs_rate = len(posts) / statistics.median(theirs)
        ratio = rate_ratio(ours_rate, theirs_rate)
        kept = sum(1 for p in posts if ruleset.evaluate(p, now).kept)
        rows.append(
            Row(
                f"4 rules filters/{name}",
                "posts/s",
                ours_rate,
                theirs_rate,
                ratio,
                "ratio <= 1.5",
                ratio <= 1.5 and disagree == 0,
                f"{len(posts):,} posts, {kept:,} kept; verdicts differing from the hand loop: {disagree}",
            )
        )
    return rows
