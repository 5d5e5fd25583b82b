"""`--since` and `--until` take the words a person types: today, yesterday, 7days, 24H, 1d12h."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from seeded_archive import build_archive

from plnfilter.post import Post
from plnfilter.times import to_iso

# Relative posts are tagged #rel, posts placed around midnight (UTC: the tests run with TZ=UTC) #day.
RELATIVE_HOURS = {"2h": 2, "30h": 30, "40h": 40, "8d": 8 * 24}


def post(name: str, moment: datetime, tag: str) -> Post:
    return Post(
        uri=f"https://m.example/users/a/statuses/{name}",
        network="mastodon",
        url=f"https://m.example/@a/{name}",
        author="a@m.example",
        created_at=to_iso(moment),
        text=f"post {name} #{tag}",
        tags=(tag,),
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0)
    posts = [post(name, now - timedelta(hours=hours), "rel") for name, hours in RELATIVE_HOURS.items()]
    posts += [
        post("today", min(now, midnight + timedelta(seconds=1)), "day"),
        post("yesterday", midnight - timedelta(seconds=1), "day"),
        post("daybefore", midnight - timedelta(days=1, seconds=1), "day"),
    ]
    return build_archive(tmp_path_factory.mktemp("dates") / "dates.db", posts, now=now)


def query(db, *args):
    return subprocess.run(
        [sys.executable, "-m", "plnfilter", "query", "--all", "--db", str(db), "--format", "jsonl", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
    )


def names(result) -> set[str]:
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["uri"].rsplit("/", 1)[1] for line in result.stdout.splitlines()}


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("24H", {"2h"}),
        ("24h", {"2h"}),
        ("1d12h", {"2h", "30h"}),
        ("1D 12H", {"2h", "30h"}),
        ("7days", {"2h", "30h", "40h"}),
        ("7 days ago", {"2h", "30h", "40h"}),
        ("2weeks", {"2h", "30h", "40h", "8d"}),
        ("1h30m", set()),
        ("90min", set()),
    ],
)
def test_durations_in_any_case_and_compound(archive, since, expected):
    assert names(query(archive, "--tag", "rel", "--since", since)) == expected


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("today", {"today"}),
        ("Today", {"today"}),
        ("yesterday", {"today", "yesterday"}),
        ("YESTERDAY", {"today", "yesterday"}),
    ],
)
def test_today_and_yesterday_start_at_midnight(archive, since, expected):
    assert names(query(archive, "--tag", "day", "--since", since)) == expected


def test_until_takes_the_same_words(archive):
    assert names(query(archive, "--tag", "day", "--until", "today")) == {"yesterday", "daybefore"}
    assert names(query(archive, "--tag", "rel", "--since", "7d", "--until", "1D")) == {"30h", "40h"}


@pytest.mark.parametrize("flag", ["--since", "--until"])
@pytest.mark.parametrize(
    "word", ["yesterdayish", "7", "1d12", "-3d", "last week", "3 fortnights", "tomorrow"]
)
def test_anything_else_exits_2_listing_the_accepted_forms(archive, flag, word):
    result = query(archive, flag, word)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {flag}: {word!r} is not a time; write "), result.stderr
    for form in ("24h", "7d", "1d12h", "today", "yesterday", "2026-11-26", "2026-11-26T09:30:00Z"):
        assert form in result.stderr
    assert "Traceback" not in result.stderr


def test_filter_file_durations_take_the_same_forms(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("include:\n  - {max_age: 1D12h}\nrank:\n  half_life: 90 Minutes\n")
    result = subprocess.run(
        [sys.executable, "-m", "plnfilter", "check", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "posted within 36h" in result.stdout and "half-life 90m" in result.stdout
    path.write_text("include:\n  - {max_age: 1d12}\n")
    result = subprocess.run(
        [sys.executable, "-m", "plnfilter", "check", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {path}:2: 'max_age' needs a duration, not '1d12'")
