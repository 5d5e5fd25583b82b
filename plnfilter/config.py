"""Where plnfilter keeps its archive and secrets; read when asked, never at import time."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_dir() -> Path:
    """`PLNFILTER_HOME` if set (tests, portable installs), else the platform's data directory."""
    home = os.environ.get("PLNFILTER_HOME")
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_data_dir("plnfilter", appauthor=False))


def config_dir() -> Path:
    """Token and session files live here (created 0700, files 0600)."""
    home = os.environ.get("PLNFILTER_HOME")
    if home:
        return Path(home) / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir("plnfilter", appauthor=False))


def cache_dir() -> Path:
    """What can be made again (checked filter files): `PLNFILTER_HOME`/cache, else the platform's cache directory."""
    home = os.environ.get("PLNFILTER_HOME")
    if home:
        return Path(home) / "cache"
    usual = _usual_linux_cache_dir()
    if usual is not None:
        return usual
    import platformdirs

    return Path(platformdirs.user_cache_dir("plnfilter", appauthor=False))


def _usual_linux_cache_dir() -> Path | None:
    """platformdirs' user cache directory in the usual case, without importing it (~7 ms: its Unix
    module loads tempfile, and `top FILTER --db` from cron looks for its filter cache here): on Linux
    (not Android), with no XDG_CACHE_HOME and an absolute HOME, `~/.cache/plnfilter`, as every
    platformdirs 4 makes it. Anything else asks platformdirs (tests/test_config_dirs.py compares)."""
    if not sys.platform.startswith("linux") or hasattr(sys, "getandroidapilevel"):
        return None
    if "ANDROID_DATA" in os.environ or os.environ.get("XDG_CACHE_HOME"):
        return None
    if not os.path.isabs(os.environ.get("HOME", "")):
        return None
    return Path(os.path.join(os.path.expanduser("~/.cache"), "plnfilter"))


def default_db_path() -> Path:
    """`PLNFILTER_DB` wins over the user directory's `archive.db`."""
    env = os.environ.get("PLNFILTER_DB")
    return Path(env) if env else user_dir() / "archive.db"
