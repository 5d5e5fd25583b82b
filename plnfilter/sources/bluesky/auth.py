"""Bluesky app passwords and saved sessions, so cron runs reuse one login instead of calling createSession.

createSession is limited to 30 per 5 minutes and 300 per day per account, and refresh tokens
rotate: the session is saved after login, reused by later runs, and written back whenever the
SDK refreshes it (https://docs.bsky.app/docs/advanced-guides/rate-limits).
Secrets: `bluesky-<handle>` holds the app password, `bluesky-session-<handle>` the session.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plnfilter.credentials import config_dir, load_secret, save_secret
from plnfilter.errors import AuthError
from plnfilter.times import now_utc, to_iso

DEFAULT_SERVICE = "https://bsky.social"
_SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})
_lock = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    handle: str
    password: str = ""  # may be empty when only a saved session exists
    origin: str = ""  # "environment" or the file it came from
    service: str = ""  # stored with `plnfilter auth bluesky --service`; the environment wins


def clean_handle(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


def login_service(credentials: Credentials | None = None) -> str:
    """`PLNFILTER_BSKY_SERVICE`, else the service stored with the password, else bsky.social."""
    stored = credentials.service if credentials else ""
    return (os.environ.get("PLNFILTER_BSKY_SERVICE") or stored or DEFAULT_SERVICE).rstrip("/")


def store_app_password(handle: str, password: str, service: str | None = None) -> Path:
    """Save the app password (and the service it is for, if not the default) in a 0600 file."""
    handle = clean_handle(handle)
    if not handle or not password:
        raise AuthError("a handle and an app password are needed", "plnfilter auth bluesky HANDLE")
    data = {"handle": handle, "password": password}
    if service:
        data["service"] = service.rstrip("/")
    return save_secret(f"bluesky-{handle}", data)


def find_credentials() -> Credentials | None:
    """Env vars win; else the one stored handle (or the one `PLNFILTER_BSKY_HANDLE` names)."""
    env_handle = clean_handle(os.environ.get("PLNFILTER_BSKY_HANDLE", ""))
    env_password = os.environ.get("PLNFILTER_BSKY_PASSWORD", "")
    if env_handle and env_password:
        return Credentials(env_handle, env_password, "environment")
    if env_handle:
        stored = load_secret(f"bluesky-{env_handle}") or {}
        if stored.get("password") or load_secret(f"bluesky-session-{env_handle}"):
            return Credentials(env_handle, stored.get("password", ""), "stored", stored.get("service", ""))
        raise AuthError(
            f"PLNFILTER_BSKY_HANDLE is {env_handle} but no app password is set or stored for it",
            f"set PLNFILTER_BSKY_PASSWORD or run: plnfilter auth bluesky {env_handle}",
        )
    handles = stored_handles()
    if not handles:
        return None
    if len(handles) > 1:
        raise AuthError(
            f"app passwords are stored for several Bluesky accounts ({', '.join(handles)})",
            "choose one with PLNFILTER_BSKY_HANDLE",
        )
    stored = load_secret(f"bluesky-{handles[0]}") or {}
    return Credentials(handles[0], stored.get("password", ""), "stored", stored.get("service", ""))


def stored_handles() -> list[str]:
    directory = config_dir()
    if not directory.is_dir():
        return []
    names = (path.stem for path in directory.glob("bluesky-*.json"))
    return sorted(name.removeprefix("bluesky-") for name in names if not name.startswith("bluesky-session-"))


def load_session(handle: str, service: str) -> str | None:
    """The saved session string for this handle, if it was made against this service."""
    saved = load_secret(f"bluesky-session-{clean_handle(handle)}")
    if saved and saved.get("service") == service.rstrip("/") and saved.get("session"):
        return str(saved["session"])
    return None


def save_session(handle: str, service: str, session_string: str) -> None:
    save_secret(
        f"bluesky-session-{clean_handle(handle)}",
        {"service": service.rstrip("/"), "session": session_string, "saved": to_iso(now_utc())},
    )


def logged_in_client(service: str, timeout: float, credentials: Credentials | None = None) -> Any:
    """An atproto Client with a session: the saved one if there is one, else a fresh login (saved).

    Every later change (the SDK refreshing the access token, which rotates the refresh token)
    is written back through `on_session_change`.
    """
    from atproto import Client, SessionEvent
    from atproto_client.request import Request

    service = service.rstrip("/")
    credentials = credentials or find_credentials()
    if credentials is None:
        raise AuthError(
            "this Bluesky source needs a login", "run: plnfilter auth bluesky HANDLE (an app password)"
        )
    client = Client(base_url=service, request=Request(timeout=timeout))
    handle = credentials.handle

    def write_back(event: SessionEvent, session: Any) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            with _lock:
                save_session(handle, service, session.export())

    client.on_session_change(write_back)
    saved = load_session(handle, service)
    if saved:
        try:
            client.login(session_string=saved, fetch_bsky_profile=False)
            return client
        except Exception:  # noqa: BLE001 - an unreadable saved session is replaced by a fresh login
            client = Client(base_url=service, request=Request(timeout=timeout))
            client.on_session_change(write_back)
    password_login(client, credentials)
    return client


def password_login(client: Any, credentials: Credentials) -> None:
    """createSession with the app password; AuthError when refused."""
    from atproto_client import exceptions

    if not credentials.password:
        raise AuthError(
            f"the saved Bluesky session for {credentials.handle} expired and no app password is stored",
            f"run: plnfilter auth bluesky {credentials.handle}",
        )
    try:
        client.login(credentials.handle, credentials.password, fetch_bsky_profile=False)
    except exceptions.UnauthorizedError as exc:
        raise AuthError(
            f"Bluesky refused the app password for {credentials.handle} ({_error_name(exc)})",
            f"create a new app password and run: plnfilter auth bluesky {credentials.handle}",
        ) from None
    except exceptions.BadRequestError as exc:
        raise AuthError(
            f"Bluesky refused the login for {credentials.handle} ({_error_name(exc)})",
            "check the handle, or the service with --service / PLNFILTER_BSKY_SERVICE",
        ) from None


def is_session_error(exc: BaseException) -> bool:
    """A 400/401 saying the saved tokens are no longer good (a fresh login may fix it)."""
    response = getattr(exc, "response", None)
    return response is not None and response.status_code in (400, 401) and _error_name(exc) in _SESSION_ERRORS


def _error_name(exc: BaseException) -> str:
    content = getattr(getattr(exc, "response", None), "content", None)
    return str(
        getattr(content, "error", "")
        or getattr(getattr(exc, "response", None), "status_code", "")
        or type(exc).__name__
    )


def verify(handle: str, password: str, service: str | None = None, timeout: float = 20.0) -> str:
    """Log in once with this app password (`plnfilter auth bluesky`), save the session, return who."""
    service = (service or login_service()).rstrip("/")
    credentials = Credentials(clean_handle(handle), password, "prompt")
    from atproto import Client, SessionEvent
    from atproto_client import exceptions
    from atproto_client.request import Request

    client = Client(base_url=service, request=Request(timeout=timeout))

    def write_back(event: SessionEvent, session: Any) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            save_session(credentials.handle, service, session.export())

    client.on_session_change(write_back)
    try:
        password_login(client, credentials)
    except (exceptions.NetworkError, exceptions.InvokeTimeoutError) as exc:
        raise AuthError(
            f"cannot reach {service} ({type(exc).__name__})", "check the network or --service"
        ) from None
    session = client._session  # the SDK keeps the logged-in identity here
    return f"{session.handle} ({session.did})" if session else credentials.handle
