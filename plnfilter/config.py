"""Where plnfilter keeps its archive and secrets; read when asked, never at import time."""

from __future__ import annotations

import os
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
    import platformdirs

    return Path(platformdirs.user_cache_dir("plnfilter", appauthor=False))


def default_db_path() -> Path:
    """`PLNFILTER_DB` wins over the user directory's `archive.db`."""
    env = os.environ.get("PLNFILTER_DB")
    return Path(env) if env else user_dir() / "archive.db"
