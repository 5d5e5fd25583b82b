"""Secrets on disk: one JSON file per credential, 0600 in a 0700 directory, refused if readable by others."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from plnfilter.config import config_dir
from plnfilter.errors import AuthError


def secret_path(name: str) -> Path:
    """`name` like `mastodon-mastodon.social` or `bluesky-session-alice.test`, made filename-safe."""
    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", name)
    return config_dir() / f"{safe}.json"


def save_secret(name: str, data: dict[str, Any]) -> Path:
    """Write atomically: the file is 0600 from its first byte, then renamed into place."""
    path = secret_path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_secret(name: str) -> dict[str, Any] | None:
    """None when absent; AuthError when group- or world-readable or not valid JSON."""
    path = secret_path(name)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o})",
            f"run: chmod 600 {path}",
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuthError(
            f"{path} cannot be read ({type(exc).__name__})", "store it again with plnfilter auth"
        ) from None


def delete_secret(name: str) -> bool:
    path = secret_path(name)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
