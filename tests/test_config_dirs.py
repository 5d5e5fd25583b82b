"""The filter cache's directory is platformdirs' own, whether or not platformdirs is asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plnfilter.config import cache_dir


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/home/kate"},
        {"HOME": "/home/kate/"},
        {"HOME": "/"},
        {"HOME": "/home/kate", "XDG_CACHE_HOME": ""},
        {"HOME": "/home/kate", "XDG_CACHE_HOME": "/var/tmp/kate-cache"},
        {"HOME": "/home/kate", "XDG_CACHE_HOME": "relative/cache"},
        {"HOME": "/home/kate", "XDG_CACHE_HOME": "  "},
    ],
)
def test_the_cache_directory_is_where_platformdirs_puts_it(monkeypatch, env):
    import platformdirs

    for name in ("PLNFILTER_HOME", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cache_dir() == Path(platformdirs.user_cache_dir("plnfilter", appauthor=False))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the usual case is Linux's")
def test_the_usual_cache_directory_does_not_load_platformdirs(tmp_path):
    probe = (
        "import sys\n"
        "from plnfilter.config import cache_dir\n"
        "print(cache_dir(), 'platformdirs' in sys.modules)\n"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == [str(tmp_path / ".cache" / "plnfilter"), "False"]
