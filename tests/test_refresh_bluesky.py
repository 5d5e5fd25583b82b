"""Fresh counts on Bluesky without the network: which archived posts a run asks about, how many
`app.bsky.feed.getPosts` requests that takes (25 uris each, at most `refresh_limit`), and what is
saved. Post views are the captured searchPosts answer (tests/fixtures/bluesky), given new record
keys so there are enough of them. The run against the reference network is in test_bluesky_source.py.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from plnfilter import store
from plnfilter.filterfile import parse
from plnfilter.judge import judge
from plnfilter.refresh import RefreshReport, plan_refresh, save_refreshed_item
from plnfilter.rules import compile_rules
from plnfilter.sources import FetchContext, timelines
from plnfilter.sources.bluesky.normalize import to_post
from plnfilter.times import now_utc, to_iso

FIXTURE = Path(__file__).parent / "fixtures" / "bluesky" / "searchPosts.json"


def views(count: int) -> list[dict]:
    """`count` captured post views, newest first, each with its own uri and creation time."""
    captured = json.loads(FIXTURE.read_text(encoding="utf-8"))["posts"]
    made = []
    for n in range(count):
        view = copy.deepcopy(captured[n % len(captured)])
        view["uri"] = view["uri"].rsplit("/", 1)[0] + f"/3refresh{n:04d}"
        moment = to_iso(now_utc() - timedelta(minutes=10 + n))
        view["indexedAt"] = view["record"]["createdAt"] = moment
        view["likeCount"] = view["repostCount"] = 0
        made.append(view)
    return made


class Answers:
    """Stands in for bluesky_session.Connection: getPosts answers from `served`, every call recorded."""

    name = "refresh"

    def __init__(self, served: dict[str, dict]) -> None:
        self.served = served
        self.calls: list[list[str]] = []

    def get(self, nsid: str, params: dict, hint: str = "") -> dict:
        assert nsid == "app.bsky.feed.getPosts"
        self.calls.append(list(params["uris"]))
        return {"posts": [self.served[uri] for uri in params["uris"] if uri in self.served]}


@pytest.fixture
def archive(tmp_path):
    """An archive holding 60 posts an author feed found an hour ago, and the filter file's parts."""

    def make(extra: str = ""):
        filter_file = parse(
            f"name: t\n{extra}sources:\n  - bluesky: {{author: kate.test}}\n", str(tmp_path / "t.yaml")
        )
        found = timelines(filter_file.sources[0])
        db = store.open_archive(tmp_path / "a.db")
        ruleset = compile_rules(filter_file)
        posted = views(60)
        hour_ago = now_utc() - timedelta(hours=1)
        judged = judge([to_post(v, found[0].name) for v in posted], ruleset, filter_file.rank, hour_ago)
        store.save_page(db, found[0], judged, "cursor", to_iso(hour_ago))
        return filter_file, found, db, ruleset, posted

    return make


def refresh(filter_file, found, db, ruleset, answers, monkeypatch) -> tuple[list, RefreshReport]:
    from plnfilter.sources.bluesky import session as bluesky_session

    monkeypatch.setattr(bluesky_session, "connect", lambda name, service, ctx, login: answers)
    jobs = plan_refresh(db, filter_file, found, set(), set(), now_utc())
    entry = RefreshReport()
    for job in jobs:
        for item in job.fetch(FetchContext(since=now_utc(), timeout=5)):
            save_refreshed_item(db, item, ruleset, filter_file.rank, entry, now_utc())
    return jobs, entry


# each post's score from its verdict (one filter here: save_page's and the refresh's default)
SCORES_SQL = "SELECT uri, score FROM posts JOIN verdicts ON verdicts.post_id = posts.id"


def test_the_newest_posts_are_asked_about_25_at_a_time_within_refresh_limit(archive, monkeypatch):
    filter_file, found, db, ruleset, posted = archive("refresh_limit: 2\n")
    served = {v["uri"]: {**v, "likeCount": 3, "repostCount": 1} for v in posted}
    answers = Answers(served)
    before = dict(db.conn.execute(SCORES_SQL).fetchall())
    jobs, entry = refresh(filter_file, found, db, ruleset, answers, monkeypatch)
    (job,) = jobs
    assert job.service == "https://public.api.bsky.app" and not job.login  # anonymous AppView
    assert [len(call) for call in answers.calls] == [25, 25]
    assert [uri for call in answers.calls for uri in call] == [v["uri"] for v in posted[:50]]
    likes = dict(db.conn.execute("SELECT uri, likes FROM posts").fetchall())
    assert [likes[v["uri"]] for v in posted] == [3] * 50 + [0] * 10
    assert (entry.requests, entry.asked, entry.refreshed, entry.changed) == (2, 50, 50, 50)
    scores = dict(db.conn.execute(SCORES_SQL).fetchall())
    assert scores[posted[0]["uri"]] > before[posted[0]["uri"]]  # re-judged with the new engagement
    assert scores[posted[59]["uri"]] == before[posted[59]["uri"]]


def test_default_limit_takes_three_requests_for_60_posts(archive, monkeypatch):
    filter_file, found, db, ruleset, posted = archive()
    answers = Answers({v["uri"]: v for v in posted})
    _, entry = refresh(filter_file, found, db, ruleset, answers, monkeypatch)
    assert [len(call) for call in answers.calls] == [25, 25, 10]
    assert (entry.requests, entry.refreshed, entry.changed) == (3, 60, 0)


def test_deleted_posts_are_noted_and_left_as_archived(archive, monkeypatch):
    filter_file, found, db, ruleset, posted = archive()
    served = {v["uri"]: {**v, "likeCount": 1} for v in posted[1:]}
    _, entry = refresh(filter_file, found, db, ruleset, Answers(served), monkeypatch)
    assert entry.missing == 1 and entry.refreshed == 59
    row = db.conn.execute("SELECT likes, text FROM posts WHERE uri = ?", [posted[0]["uri"]]).fetchone()
    assert row == (0, posted[0]["record"]["text"])
    assert db.conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 60


def test_a_malformed_answer_is_noted_and_the_rest_saved(archive, monkeypatch):
    filter_file, found, db, ruleset, posted = archive()
    served = {v["uri"]: {**v, "likeCount": 2} for v in posted}
    del served[posted[3]["uri"]]["author"]
    _, entry = refresh(filter_file, found, db, ruleset, Answers(served), monkeypatch)
    assert entry.refreshed == 59 and entry.missing == 1 and len(entry.notes) == 1
    assert "malformed" in entry.notes[0]


def test_posts_outside_the_window_or_just_fetched_are_not_asked_about(archive, monkeypatch):
    filter_file, found, db, ruleset, posted = archive("refresh: 30m\n")
    answers = Answers({})
    jobs, _ = refresh(filter_file, found, db, ruleset, answers, monkeypatch)
    assert jobs == [] and answers.calls == []  # first seen an hour ago, the window is 30 minutes
    filter_file, found, db, ruleset, posted = archive()
    just_fetched = {v["uri"] for v in posted[:59]}  # re-seen by this run's timelines: counts are fresh
    (job,) = plan_refresh(db, filter_file, found, set(), just_fetched, now_utc())
    assert [c.uri for c in job.candidates] == [posted[59]["uri"]]


def test_a_source_can_turn_refresh_off_or_on_for_itself(archive, tmp_path):
    filter_file, found, db, ruleset, posted = archive()
    off = parse(
        "name: t\nsources:\n  - bluesky: {author: kate.test, refresh: off}\n", str(tmp_path / "t.yaml")
    )
    assert plan_refresh(db, off, timelines(off.sources[0]), set(), set(), now_utc()) == []
    on = parse(
        "name: t\nrefresh: off\nsources:\n  - bluesky: {author: kate.test, refresh: 2h}\n",
        str(tmp_path / "t.yaml"),
    )
    (job,) = plan_refresh(db, on, timelines(on.sources[0]), set(), set(), now_utc())
    assert len(job.candidates) == 60
    failed = {found[0].name}  # its timeline failed this run: the server is not asked again
    assert plan_refresh(db, filter_file, found, failed, set(), now_utc()) == []
