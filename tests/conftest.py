"""Shared fixtures: no test ever reads a real user directory, token or archive."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point the user directory at a temp dir and drop any credentials from the environment."""
    home = tmp_path / "plnhome"
    monkeypatch.setenv("PLNFILTER_HOME", str(home))
    for name in ("PLNFILTER_DB", "PLNFILTER_MASTODON_TOKEN", "PLNFILTER_BSKY_HANDLE", "PLNFILTER_BSKY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return home
