"""`plnfilter auth bluesky` against the reference network: a wrong password is never stored, a
right one is stored 0600 with its --service, and a later run logs in from the stored file alone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(sys.executable).with_name("plnfilter")
HANDLE = "pln-runner.test"


@pytest.fixture
def cli_env(bluesky_net, isolated_home, monkeypatch):
    """Only the AppView is configured: the login service must come from what `auth` stored."""
    for name in ("PLNFILTER_BSKY_SERVICE", "PLNFILTER_BSKY_HANDLE", "PLNFILTER_BSKY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return {**os.environ, "PLNFILTER_HOME": str(isolated_home), "PLNFILTER_BSKY_APPVIEW": bluesky_net.appview}


def plnfilter(env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *args], input=stdin, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def secret_files(home: Path) -> list[Path]:
    return sorted(path for path in home.rglob("*") if path.is_file() and "bluesky" in path.name)


@pytest.mark.bluesky
def test_a_wrong_app_password_is_refused_and_not_stored(bluesky_net, cli_env, isolated_home):
    result = plnfilter(
        cli_env, "auth", "bluesky", HANDLE, "--password-file", "-", "--service", bluesky_net.pds,
        stdin="wrong-password-123\n",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Error:" in result.stderr and "Traceback" not in result.stderr
    assert "wrong-password-123" not in result.stdout + result.stderr
    assert secret_files(isolated_home) == []


@pytest.mark.bluesky
def test_stored_password_and_service_serve_a_later_run(bluesky_net, cli_env, isolated_home, tmp_path):
    password = bluesky_net.info["password"]
    stored = plnfilter(
        cli_env, "auth", "bluesky", "@" + HANDLE, "--password-file", "-", "--service", bluesky_net.pds,
        stdin=password + "\n",
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert f"Logged in as {HANDLE}" in stored.stderr
    assert password not in stored.stdout + stored.stderr
    files = secret_files(isolated_home)
    assert files, "no credential file written"
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any(bluesky_net.pds.rstrip("/") in path.read_text() for path in files)

    filter_path = tmp_path / "timeline.yaml"
    filter_path.write_text("name: t\nsources:\n  - bluesky: {timeline: true}\n", encoding="utf-8")
    logins = bluesky_net.network.pds_counts().get("com.atproto.server.createSession", 0)
    run = plnfilter(cli_env, "run", str(filter_path), "--db", str(tmp_path / "a.db"), "--timeout", "20")
    assert run.returncode == 0, run.stderr
    # the session `auth` saved is reused: the run logs in without a new createSession
    assert bluesky_net.network.pds_counts().get("com.atproto.server.createSession", 0) == logins
