"""Shared fixtures: no test ever reads a real user directory, token or archive."""

from __future__ import annotations

import os

import pytest
from figures import SESSION_FIGURES

# Fixture modules, registered once (never imported into a test module): the Bluesky reference
# network's session fixtures, so every module shares one network; the fault server's.
pytest_plugins = ["bluesky_net.fixture", "servers.fault_fixtures"]

# Anything that would make a test depend on the developer's own set-up: archive path, tokens
# (generic and per instance, e.g. PLNFILTER_MASTODON_TOKEN_MASTODON_SOCIAL), Bluesky login.
_USER_ENV_PREFIXES = ("PLNFILTER_MASTODON_TOKEN", "PLNFILTER_BSKY_")
_USER_ENV_NAMES = ("PLNFILTER_DB",)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point the user directory at a temp dir and drop any credentials from the environment."""
    home = tmp_path / "plnhome"
    monkeypatch.setenv("PLNFILTER_HOME", str(home))
    for name in list(os.environ):
        if name in _USER_ENV_NAMES or name.startswith(_USER_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    return home


def pytest_terminal_summary(terminalreporter, config):
    """Repeat the figures tests measured (kills survived, leaks found, ...) at the end of the run,
    so the closing notes of issues can quote them from one place."""
    figures = [
        (report.nodeid, value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for key, value in getattr(report, "user_properties", ())
        if key == "figure"
    ]
    figures += [("session", text) for text in config.stash.get(SESSION_FIGURES, [])]
    if figures:
        terminalreporter.section("figures measured by the tests")
        for nodeid, text in figures:
            terminalreporter.write_line(f"{text}    ({nodeid})")
