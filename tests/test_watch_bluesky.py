"""`plnfilter watch` on Bluesky against the reference network: its PDS firehose
(`com.atproto.sync.subscribeRepos`) directly, and Jetstream frames made from what that firehose
emitted (tests/servers/jetstream_relay.py: there is no Jetstream server here). Posts made while
watch runs are archived; a stream position is kept so a restart resumes; a cut stream loses and
duplicates nothing; the Jetstream decoder makes the same Post as the REST fetch."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from servers.jetstream_relay import JetstreamRelay

pytestmark = pytest.mark.bluesky
PLNFILTER = Path(sys.executable).with_name("plnfilter")


@pytest.fixture
def env(bluesky_net, monkeypatch):
    """Point plnfilter at the network and log in as pln-runner.test through the environment."""
    monkeypatch.setenv("PLNFILTER_BSKY_SERVICE", bluesky_net.pds)
    monkeypatch.setenv("PLNFILTER_BSKY_APPVIEW", bluesky_net.appview)
    monkeypatch.setenv("PLNFILTER_BSKY_HANDLE", "pln-runner.test")
    monkeypatch.setenv("PLNFILTER_BSKY_PASSWORD", bluesky_net.info["password"])
    from plnfilter.sources.bluesky.session import forget_clients

    forget_clients()
    return bluesky_net


@pytest.fixture
def relay(env):
    started = JetstreamRelay(env.pds)
    yield started
    started.close()


class Watching:
    """A `plnfilter watch` subprocess printing JSONL, its lines collected as they come."""

    def __init__(self, filter_file: Path, db: Path) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(PLNFILTER), "watch", str(filter_file), "--db", str(db), "--format", "jsonl"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def printed(self) -> list[str]:
        return [json.loads(line)["uri"] for line in list(self.lines)]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.stderr = self.process.stderr.read()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for(condition, what: str, watching: Watching | None = None, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if watching is not None and watching.process.poll() is not None:
            raise AssertionError(
                f"watch exited {watching.process.returncode}: {watching.process.stderr.read()}"
            )
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def archived(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT uri FROM posts")]
        except sqlite3.OperationalError:
            return []


def positions(db: Path) -> dict[str, str | None]:
    result = subprocess.run(
        [str(PLNFILTER), "sources", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    return {row["name"]: row["stream_position"] for row in json.loads(result.stdout)}


def write_filter(path: Path, source: str) -> Path:
    path.write_text(f"name: live-sky\nsources:\n  - bluesky: {source}\n", encoding="utf-8")
    return path


def test_the_pds_firehose_brings_posts_live_and_a_restart_resumes_without_gap_or_duplicate(env, tmp_path):
    seeder = env.seeder
    before = seeder.post("kate.test", "Before the panel #LiveSky").uri
    env.network.process_all()
    filter_file = write_filter(
        tmp_path / "f.yaml", f"{{hashtags: [LiveSky], stream: firehose, stream_url: '{env.pds}'}}"
    )
    db = tmp_path / "a.db"
    watching = Watching(filter_file, db)
    try:
        wait_for(lambda: before in archived(db), "the catch-up", watching)
        live = [seeder.post("adjoa.test", f"Live {n} from the panel #LiveSky").uri for n in range(3)]
        other = seeder.post("adjoa.test", "Not for this panel #Elsewhere").uri
        wait_for(lambda: set(live) <= set(archived(db)), "the live posts", watching)
        wait_for(lambda: any(positions(db).values()), "a saved stream position", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    saved_position = next(value for value in positions(db).values() if value)
    assert saved_position.isdigit()
    assert other not in archived(db)

    while_stopped = [seeder.post("maria.test", f"While watch was stopped {n} #LiveSky").uri for n in range(3)]
    watching = Watching(filter_file, db)
    try:
        wait_for(lambda: set(while_stopped) <= set(archived(db)), "the posts made while stopped", watching)
        after = seeder.post("kate.test", "After the restart #LiveSky").uri
        wait_for(lambda: after in archived(db), "a post after the restart", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    uris = archived(db)
    assert sorted(uris) == sorted({before, *live, *while_stopped, after})
    assert int(next(value for value in positions(db).values() if value)) > int(saved_position)


def test_jetstream_frames_from_the_firehose_are_followed_and_a_cut_loses_nothing(env, relay, tmp_path):
    seeder = env.seeder
    filter_file = write_filter(tmp_path / "f.yaml", f"{{hashtags: [LiveJet], stream_url: '{relay.url}'}}")
    db = tmp_path / "a.db"
    watching = Watching(filter_file, db)
    try:
        wait_for(lambda: relay.served >= 1, "watch to connect to Jetstream", watching)
        first = seeder.post("kate.test", "Jetstream opening #LiveJet").uri
        wait_for(lambda: first in archived(db), "a post through Jetstream", watching)
        relay.pause()  # the stream drops; what is posted now reaches watch only after the reconnect
        during = [seeder.post("liwei.test", f"During the cut {n} #LiveJet").uri for n in range(4)]
        relay.resume()
        wait_for(lambda: set(during) <= set(archived(db)), "the posts made during the cut", watching)
        wanted = {first, *during}
        wait_for(lambda: len(watching.printed()) >= len(wanted), "every post printed", watching)
        assert watching.stop() == 0, watching.stderr
    finally:
        watching.kill()
    assert relay.served >= 2
    assert sorted(archived(db)) == sorted(wanted)
    assert sorted(watching.printed()) == sorted(wanted)  # each printed once


def test_the_jetstream_decoder_makes_the_same_post_as_the_rest_fetch(env, relay, tmp_path):
    from plnfilter.sources.bluesky.fetch import BlueskyTimeline
    from plnfilter.sources.bluesky.normalize import to_post
    from plnfilter.sources.bluesky.stream import Matcher, jetstream_events

    seeder = env.seeder
    count = len(relay.frames)
    quote_of = seeder.post("kate.test", "Decoder check, plain #DecodeMe", langs=("en",))
    refs = [
        quote_of,
        seeder.post("adjoa.test", "Mit Bild #DecodeMe", langs=("de",), images=("a whiteboard",)),
        seeder.post(
            "liwei.test", "A card and a quote #DecodeMe", card=("https://example.org/x", "X"), quote=quote_of
        ),
        seeder.post("maria.test", "Record-only tag, no facet", tags=("DecodeMe",), facet_tags=False),
        seeder.post("jonas.test", "Self-labelled #DecodeMe", labels=("graphic-media",)),
    ]
    frames = relay.wait_for_frames(count + len(refs))[count:]
    timeline = BlueskyTimeline("bluesky:search/decodeme", "bluesky: #DecodeMe", "x", "search", "DecodeMe")
    events, read = jetstream_events(frames, Matcher(timeline))
    assert read == len(frames) and not [event.problem for event in events if event.problem]
    streamed = {event.post.uri: event.post for event in events}
    assert set(streamed) == {ref.uri for ref in refs}
    env.network.process_all()
    views = env.seeder.accounts["kate.test"].client.app.bsky.feed.get_posts(
        {"uris": [ref.uri for ref in refs]}
    )
    for view in views.posts:
        fetched = to_post(json.loads(view.model_dump_json(by_alias=True, exclude_none=True)), timeline.name)
        post = streamed[fetched.uri]
        fields = ("text", "tags", "lang", "created_at", "links", "mentions", "reply_to", "quote_of")
        for field in (*fields, "has_media", "media_alt", "card_url", "card_title", "sensitive"):
            assert getattr(post, field) == getattr(fetched, field), field
        assert post.author == fetched.author_id  # a stream names the DID; the REST fetch brings the handle
