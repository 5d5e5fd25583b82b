"""An author who asked apps not to show their account to logged-out people, against Bluesky's
reference network: `!no-unauthenticated` on their profile record (as the Bluesky app writes it),
which the AppView reports in `author.labels` of their post views. Fetched logged in, the post is
archived with `author_opt_out`, and every output meant for publishing leaves it out (saying so on
stderr) until --include-private."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from bluesky_net.cli import CLI, rows, run_cli, write_filter

OPT_OUT = "!no-unauthenticated"
PUBLIC_TEXT = "Open rubric notes for everyone #rubricnotes"


def plnfilter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def archive(bluesky_env, tmp_path) -> Path:
    """The opted-out author's #rubricnotes post and a public one beside it, fetched by a hashtag
    search (which needs a login: pln-runner.test's, through the PDS)."""
    bluesky_env.seeder.post("kate.test", PUBLIC_TEXT, age=timedelta(minutes=5))
    bluesky_env.seeder.settle()
    db = tmp_path / "a.db"
    ran = run_cli(write_filter(tmp_path, ["bluesky: {hashtags: [rubricnotes]}"]), db)
    assert ran.returncode == 0, ran.stderr
    return db


@pytest.mark.bluesky
def test_the_appview_reports_the_profile_self_label_on_post_views_and_the_profile(bluesky_env):
    post = bluesky_env.post("opted_out")
    reader = bluesky_env.seeder.accounts["pln-runner.test"].client  # logged in
    [view] = reader.app.bsky.feed.get_posts({"uris": [post["uri"]]}).posts
    assert view.author.handle == bluesky_env.info["opted_out"]
    assert [
        (label.val, label.uri.endswith("/app.bsky.actor.profile/self")) for label in view.author.labels
    ] == [(OPT_OUT, True)]
    # and on the profile, to anyone (the reference AppView hides such posts from logged-out readers
    # only in getPostThreadV2; getAuthorFeed and getPostThread still serve them to anyone)
    profile = requests.get(
        f"{bluesky_env.appview}/xrpc/app.bsky.actor.getProfile",
        params={"actor": bluesky_env.info["opted_out"]},
        timeout=10,
    )
    assert profile.status_code == 200, profile.text
    assert [label["val"] for label in profile.json()["labels"]] == [OPT_OUT]


@pytest.mark.bluesky
def test_a_post_by_an_opted_out_author_is_archived_and_marked(bluesky_env, archive):
    opted_out = bluesky_env.post("opted_out")
    stored = rows(archive)
    assert stored[opted_out["uri"]]["author_opt_out"] == 1
    assert stored[opted_out["uri"]]["visibility"] == "public"  # every Bluesky post is public
    public = next(row for row in stored.values() if row["text"] == PUBLIC_TEXT)
    assert public["author_opt_out"] == 0
    shown = plnfilter("query", "--db", str(archive), "--all", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    by_uri = {row["uri"]: row for row in json.loads(shown.stdout)}
    assert by_uri[opted_out["uri"]]["author_opt_out"] is True
    assert by_uri[public["uri"]]["author_opt_out"] is False


@pytest.mark.bluesky
@pytest.mark.parametrize("fmt", ["html", "atom", "markdown"])
@pytest.mark.parametrize("command", ["export", "top"])
def test_published_outputs_leave_the_opted_out_author_out_unless_asked(bluesky_env, archive, command, fmt):
    hidden = bluesky_env.post("opted_out")["text"].split(" #")[0]
    args = [command, "--db", str(archive), "--format", fmt] + (["--since", "7d"] if command == "top" else [])
    published = plnfilter(*args)
    assert published.returncode == 0, published.stderr
    assert PUBLIC_TEXT.split(" #")[0] in published.stdout
    assert hidden not in published.stdout and "hushed.test" not in published.stdout
    assert "left out 1 post not everyone may see" in published.stderr
    quiet = plnfilter(*args, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "" and hidden not in quiet.stdout
    everything = plnfilter(*args, "--include-private")
    assert everything.returncode == 0, everything.stderr
    assert hidden in everything.stdout and PUBLIC_TEXT.split(" #")[0] in everything.stdout
    assert "left out" not in everything.stderr
