"""Secrets: every command run with recognisable fake credentials must never show or store them.

The loopback server is hostile on purpose: it answers every authenticated request with an error
that echoes the Authorization header, and every login with an error that echoes the posted body,
as a badly written or malicious instance might. The credentials are set both in the environment
and in stored files; afterwards no stdout, stderr, archive row, export or other file may hold them.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
from servers.fault_server import cli_env, run_forked

ENV_TOKEN = "plnSECRETenvTOKENq7Zx4Kw9"
FILE_TOKEN = "plnSECRETfileTOKENm3Vb8Ty1"
ENV_PASSWORD = "zq9x-kp4w-envS-ECRT"
FILE_PASSWORD = "vb7n-wq2r-filS-ECRT"
NEEDLES = (ENV_TOKEN, FILE_TOKEN, ENV_PASSWORD, FILE_PASSWORD)
HANDLE = "mallory.test"


def leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text or needle.lower() in text.lower()]


@pytest.fixture
def world(tmp_path, fault_server):
    """A user directory with stored credentials, a filter file naming both networks, an archive."""
    home = Path(os.environ["PLNFILTER_HOME"])
    secrets_in = tmp_path / "secrets-in"
    secrets_in.mkdir()
    (secrets_in / "token").write_text(FILE_TOKEN + "\n", encoding="utf-8")
    (secrets_in / "password").write_text(FILE_PASSWORD + "\n", encoding="utf-8")
    fault_server.add("edtech", 12)
    filter_path = tmp_path / "pln.yaml"
    filter_path.write_text(
        "name: secrets\nsources:\n"
        f"  - mastodon: {fault_server.base_url}\n    hashtags: [edtech]\n"
        f"  - bluesky: {{hashtags: [edtech], service: '{fault_server.base_url}'}}\n"
        f"  - bluesky: {{timeline: true, service: '{fault_server.base_url}'}}\n",
        encoding="utf-8",
    )
    samples = tmp_path / "saved.json"
    samples.write_text(json.dumps([fault_server.timelines["edtech"][0]]), encoding="utf-8")
    offline = tmp_path / "offline.yaml"
    offline.write_text(f"name: offline\nsources:\n  - file: {samples}\n", encoding="utf-8")
    return home, secrets_in, filter_path, offline, tmp_path / "archive.db"


def commands(fault_server, secrets_in, filter_path, offline, db):
    """Every command, with the options that make it touch credentials, the network or the archive."""
    url = fault_server.base_url
    uri = fault_server.timelines["edtech"][0]["uri"]
    return [
        ("auth", "mastodon", url, "--token-file", secrets_in / "token", "--no-verify"),
        ("auth", "mastodon", url, "--token-file", secrets_in / "token"),
        ("auth", "bluesky", HANDLE, "--password-file", secrets_in / "password", "--no-verify"),
        ("auth", "bluesky", HANDLE, "--password-file", secrets_in / "password", "--service", url),
        ("check", filter_path),
        ("run", offline, "--db", db),
        ("run", filter_path, "--db", db, "--timeout", "5"),
        ("run", filter_path, "--db", db, "--timeout", "5", "--quiet"),
        ("apply", offline, "--db", db),
        ("query", "--all", "--db", db, "--format", "table"),
        ("query", "--sql", "select * from sources", "--db", db, "--format", "json"),
        ("query", "--sql", "select * from runs", "--db", db, "--format", "csv"),
        *[("export", "--all", "--db", db, "--format", fmt) for fmt in ("csv", "json", "jsonl", "markdown", "html", "atom")],
        ("sources", "--db", db, "--format", "json"),
        ("runs", "--db", db, "--format", "json"),
        ("runs", "--db", db, "--format", "table"),
        ("top", "--db", db, "--format", "json"),
        ("links", "--db", db, "--format", "json"),
        ("explain", uri, "--db", db),
        ("import-filters", "--mastodon", url, "--output", db.parent / "imported.yaml"),
        ("import-filters", "--bluesky", "--output", db.parent / "imported-bsky.yaml"),
        ("--help",),
        ("--version",),
    ]  # fmt: skip


def registered(args) -> bool:
    from plnfilter.cli import cli

    return args[0].startswith("-") or args[0] in cli.list_commands(None)


@pytest.mark.parametrize("reflect", [False, True], ids=["honest-server", "echoing-server"])
def test_no_command_shows_or_stores_a_credential(tmp_path, fault_server, world, report, reflect):
    home, secrets_in, filter_path, offline, db = world
    env = cli_env(
        PLNFILTER_MASTODON_TOKEN=ENV_TOKEN,
        PLNFILTER_BSKY_HANDLE=HANDLE,
        PLNFILTER_BSKY_PASSWORD=ENV_PASSWORD,
        PLNFILTER_BSKY_SERVICE=fault_server.base_url,
    )
    no_env = cli_env()
    fault_server.reflect = reflect
    ran = 0
    found: list[str] = []
    for args in commands(fault_server, secrets_in, filter_path, offline, db):
        if not registered(args):
            continue
        for environment in (env, no_env):  # the environment's credentials, then the stored ones
            result = run_forked(tmp_path, *args, env=environment, timeout=60)
            ran += 1
            assert "Traceback" not in result.stderr, (args, result.stderr)
            for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                found += [f"{args[0:2]} {stream}: {needle}" for needle in leaks(text)]
    sent = {seen.authorization for seen in fault_server.requests} | {
        seen.body.decode() for seen in fault_server.requests
    }
    assert any(ENV_TOKEN in item for item in sent) and any(FILE_TOKEN in item for item in sent)  # really used
    assert any(ENV_PASSWORD in item for item in sent) and any(FILE_PASSWORD in item for item in sent)

    archive = "\n".join(__import__("sqlite3").connect(db).iterdump())
    found += [f"archive: {needle}" for needle in leaks(archive)]
    for path in tmp_path.rglob("*"):
        if not path.is_file() or path.parent == secrets_in or path.parent == home / "config":
            continue
        found += [
            f"{path.relative_to(tmp_path)}: {n}" for n in leaks(path.read_bytes().decode("utf-8", "replace"))
        ]
    assert found == [], found
    report(f"secrets ({'echoing' if reflect else 'honest'} server): {ran} command runs, 0 credential leaks")


def test_credential_files_are_0600_in_a_0700_directory(tmp_path, world):
    home, secrets_in, *_ = world
    url = "http://127.0.0.1:9"
    assert (
        run_forked(
            tmp_path, "auth", "mastodon", url, "--token-file", secrets_in / "token", "--no-verify"
        ).returncode
        == 0
    )
    assert (
        run_forked(
            tmp_path, "auth", "bluesky", HANDLE, "--password-file", secrets_in / "password", "--no-verify"
        ).returncode
        == 0
    )
    stored = sorted((home / "config").iterdir())
    assert len(stored) == 2
    assert stat.S_IMODE((home / "config").stat().st_mode) == 0o700
    for path in stored:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def store_token(tmp_path, server, secrets_in) -> None:
    """`auth mastodon --token-file` for the server, stored without asking it."""
    result = run_forked(
        tmp_path, "auth", "mastodon", server.base_url, "--token-file", secrets_in / "token", "--no-verify"
    )
    assert result.returncode == 0, result.stderr


def mastodon_only_filter(tmp_path, server) -> Path:
    path = tmp_path / "mastodon.yaml"
    path.write_text(f"sources:\n  - mastodon: {server.base_url}\n    hashtags: [edtech]\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_token_file_others_can_read_is_refused_with_the_fix(tmp_path, fault_server, world, mode):
    home, secrets_in, filter_path, _, db = world
    store_token(tmp_path, fault_server, secrets_in)
    (token_file,) = (home / "config").iterdir()
    token_file.chmod(mode)
    mastodon_only = mastodon_only_filter(tmp_path, fault_server)

    result = run_forked(tmp_path, "run", mastodon_only, "--db", db, "--quiet")

    assert result.returncode == 1
    assert "readable by other users" in result.stderr and f"chmod 600 {token_file}" in result.stderr
    assert not leaks(result.stderr + result.stdout)
    assert not fault_server.timeline_requests()  # nothing was sent with the exposed token


def test_the_environment_wins_over_the_stored_file(tmp_path, fault_server, world):
    _, secrets_in, _, _, db = world
    store_token(tmp_path, fault_server, secrets_in)
    mastodon_only = mastodon_only_filter(tmp_path, fault_server)

    assert (
        run_forked(
            tmp_path,
            "run",
            mastodon_only,
            "--db",
            db,
            "--quiet",
            env=cli_env(PLNFILTER_MASTODON_TOKEN=ENV_TOKEN),
        ).returncode
        == 0
    )
    assert run_forked(tmp_path, "run", mastodon_only, "--db", db, "--quiet").returncode == 0

    first, second = (
        r.authorization
        for r in fault_server.timeline_requests("edtech")[:1] + fault_server.timeline_requests("edtech")[-1:]
    )
    assert (first, second) == (f"Bearer {ENV_TOKEN}", f"Bearer {FILE_TOKEN}")


def test_exceptions_from_the_library_never_carry_the_token(fault_server):
    """The library's own errors, as a caller that is not the CLI would see them."""
    from datetime import timedelta

    from plnfilter.errors import PlnError
    from plnfilter.filterfile.model import SourceSpec
    from plnfilter.sources import FetchContext
    from plnfilter.sources.mastodon.auth import verify
    from plnfilter.sources.mastodon.fetch import timelines
    from plnfilter.times import now_utc

    fault_server.reflect = True
    fault_server.add("edtech", 3)
    os.environ["PLNFILTER_MASTODON_TOKEN"] = ENV_TOKEN
    try:
        (timeline,) = timelines(
            SourceSpec("mastodon", fault_server.base_url, {"hashtags": ["edtech"]}, 1, "t")
        )
        ctx = FetchContext(since=now_utc() - timedelta(hours=1), timeout=5)
        with pytest.raises(PlnError) as fetching:
            list(timeline.fetch(None, ctx))
        with pytest.raises(PlnError) as verifying:
            verify(fault_server.base_url, ENV_TOKEN, timeout=5)
    finally:
        del os.environ["PLNFILTER_MASTODON_TOKEN"]
    for caught in (fetching, verifying):
        buffer = io.StringIO()
        print(caught.value, repr(caught.value), caught.value.hint, caught.value.args, file=buffer)
        assert not leaks(buffer.getvalue()), buffer.getvalue()


def test_verify_never_repeats_an_echoed_token(fault_server):
    from plnfilter.errors import AuthError
    from plnfilter.sources.mastodon.auth import verify

    fault_server.reflect = True
    fault_server.verify_code = 403
    with pytest.raises(AuthError) as caught:
        verify(fault_server.base_url, ENV_TOKEN, timeout=5)
    assert not leaks(f"{caught.value} {caught.value.hint}")
    assert "HTTP 403" in caught.value.message  # what went wrong is still said, without the body
