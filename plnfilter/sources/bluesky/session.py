"""One place that talks XRPC for Bluesky sources: raw JSON pages, rate limits, errors with a next step.

Pages are fetched as raw JSON through the SDK's own request path (`Client.invoke_query` with
the query string in the NSID): the SDK still adds the session headers and refreshes the
session, but no pydantic model is built, because atproto's strict models reject a whole page
when one post view is malformed (we normalise per item instead, see normalize/bluesky.py).
atproto is imported only here and only when a fetch starts.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from plnfilter.errors import AuthError, RateLimited, SourceError
from plnfilter.sources import FetchContext
from plnfilter.sources.bluesky import auth as auth_bluesky
from plnfilter.sources.transport import RETRIED_STATUS, Transient, wait_for_rate_limit, with_retries

DEFAULT_APPVIEW = "https://public.api.bsky.app"
_clients: dict[tuple[str, str, float], Any] = {}
_clients_lock = threading.Lock()


def appview_service() -> str:
    """`PLNFILTER_BSKY_APPVIEW` or the public AppView: anonymous reads of lists, authors, feeds."""
    return (os.environ.get("PLNFILTER_BSKY_APPVIEW") or DEFAULT_APPVIEW).rstrip("/")


def forget_clients() -> None:
    """Drop the logged-in clients shared by this process's timelines (a new run starts from disk)."""
    with _clients_lock:
        _clients.clear()


@dataclass
class Connection:
    """A client bound to one source: `get` returns a page's JSON or raises SourceError."""

    name: str
    service: str
    client: Any
    ctx: FetchContext
    credentials: auth_bluesky.Credentials | None = None
    blocked_until: float = 0.0  # epoch seconds: the rate limit is spent until then
    relogged: bool = field(default=False, repr=False)
    # An anonymous connection to a `service:` that may be a PDS, which serves nothing without a
    # session (401 AuthMissing): log in there with the configured login and ask again.
    login_on_401: bool = False

    @property
    def logged_in(self) -> bool:
        return self.credentials is not None

    def get(self, nsid: str, params: dict, not_found_hint: str = "") -> dict:
        """GET one XRPC query; waits out a near rate-limit reset, raises RateLimited for a far one.

        502/503/504, dropped connections and read timeouts are tried again (sources/transport.py).
        """
        from atproto_client import exceptions

        self._wait_for_limit()
        query = urlencode({k: v for k, v in params.items() if v not in (None, "", [])}, doseq=True)
        path = f"{nsid}?{query}" if query else nsid
        attempts = 0
        while True:
            attempts += 1
            try:
                response = with_retries(lambda: self._invoke(path), self.ctx, self.name)
            except exceptions.RateLimitExceededError as exc:
                wait = seconds_until_reset(_headers(exc))
                if wait is not None and attempts < 3:
                    wait_for_rate_limit(
                        self.ctx,
                        max(wait, 0.5),
                        f"{self.name}: rate limited by {self._host}, waiting {wait:.0f} s for the reset",
                        self._rate_limited,
                    )
                    continue
                raise self._rate_limited(wait) from None
            except (exceptions.UnauthorizedError, exceptions.BadRequestError) as exc:
                if self.logged_in and not self.relogged and auth_bluesky.is_session_error(exc):
                    self._login_again()
                    continue
                if self._may_log_in(exc):
                    continue
                raise self._refused(nsid, exc, not_found_hint) from None
            except exceptions.RequestException as exc:
                raise self._refused(nsid, exc, not_found_hint) from None
            self._note_limit(response.headers)
            if not isinstance(response.content, dict):
                raise SourceError(
                    self.name,
                    f"{self._host} answered {nsid} with something that is not JSON",
                    "check the service URL",
                )
            return response.content

    def _invoke(self, path: str) -> Any:
        """One request through the SDK; Transient for what is worth another try, SourceError for
        what is not; the SDK's refusals (401, 400, 429, other statuses) pass through to `get`."""
        from atproto_client import exceptions

        try:
            return self.client.invoke_query(path)
        except exceptions.InvokeTimeoutError as exc:
            error = SourceError(
                self.name,
                f"{self._host} did not answer within {self.ctx.timeout:g} s",
                "the next run resumes from the saved cursor; raise --timeout if this repeats",
            )
            if type(exc.__cause__).__name__ == "ConnectTimeout":  # httpx: no connection was made
                raise error from None
            raise Transient(error, f"no answer within {self.ctx.timeout:g} s") from None
        except exceptions.NetworkError as exc:
            response = getattr(exc, "response", None)
            what = f"HTTP {response.status_code}" if response is not None else _cause(exc)
            error = SourceError(
                self.name,
                f"cannot reach {self.service} ({what})",
                "check the network and the service URL; the next run resumes from the saved cursor",
            )
            status = response.status_code if response is not None else 0
            if status in RETRIED_STATUS or (response is None and not _never_connected(exc)):
                raise Transient(error, f"{self._host}: {what}") from None
            raise error from None
        except exceptions.RequestException as exc:
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", 0)
            if status in RETRIED_STATUS:
                error = self._refused(path.partition("?")[0], exc, "")
                raise Transient(error, f"{self._host} answered HTTP {status}") from None
            raise
        except exceptions.AtProtocolError:
            raise
        except Exception as exc:  # httpx protocol errors the SDK passes through (server gone mid-answer)
            raise Transient(
                SourceError(
                    self.name,
                    f"lost the connection to {self.service} ({type(exc).__name__})",
                    "check that the server is up; the next run resumes from the saved cursor",
                ),
                f"lost the connection ({type(exc).__name__})",
            ) from None

    @property
    def _host(self) -> str:
        return urlsplit(self.service).netloc or self.service

    def _wait_for_limit(self) -> None:
        if not self.blocked_until:
            return
        wait = self.blocked_until - time.time()
        self.blocked_until = 0.0
        wait_for_rate_limit(
            self.ctx,
            wait,
            f"{self.name}: rate limit spent at {self._host}, waiting {wait:.0f} s for the reset",
            self._rate_limited,
        )

    def _note_limit(self, headers: dict) -> None:
        """`RateLimit-Remaining: 0` means the next call would get 429: remember when it resets."""
        remaining = headers.get("ratelimit-remaining")
        if remaining is not None and remaining.strip().isdigit() and int(remaining) == 0:
            wait = seconds_until_reset(headers)
            self.blocked_until = time.time() + (wait if wait is not None else 60.0)

    def _rate_limited(self, wait: float | None) -> RateLimited:
        when = f"in {wait / 60:.0f} min" if wait is not None else "later"
        return RateLimited(
            self.name,
            f"rate limit of {self._host} reached; it resets {when}",
            "what was fetched is saved; the next run continues from there",
        )

    def _may_log_in(self, exc: Exception) -> bool:
        """After a 401 on an anonymous `login_on_401` connection: log in if a login is configured."""
        response = getattr(exc, "response", None)
        if self.logged_in or not self.login_on_401 or getattr(response, "status_code", 0) != 401:
            return False
        try:
            if auth_bluesky.find_credentials() is None:
                return False
        except AuthError:
            return False
        self.ctx.log(f"{self.name}: {self._host} serves this only with a session; logging in there")
        self.client, self.credentials = _shared_login(self.name, self.service, self.ctx)
        return True

    def _login_again(self) -> None:
        """The saved session was refused (expired or revoked refresh token): one password login."""
        self.relogged = True
        assert self.credentials is not None
        self.ctx.log(f"{self.name}: saved Bluesky session refused, logging in again")
        try:
            auth_bluesky.password_login(self.client, self.credentials)
        except AuthError as exc:
            raise SourceError(self.name, exc.message, exc.hint) from None

    def _refused(self, nsid: str, exc: Exception, not_found_hint: str) -> SourceError:
        response = getattr(exc, "response", None)
        status = response.status_code if response is not None else 0
        content = getattr(response, "content", None)
        error = getattr(content, "error", "") or ""
        message = getattr(content, "message", "") or ""
        detail = ": ".join(part for part in (error, message) if part) or f"HTTP {status}"
        if status in (401, 403):
            hint = (
                f"check the app password for {self.credentials.handle}: plnfilter auth bluesky {self.credentials.handle}"
                if self.logged_in
                else "this needs a login: plnfilter auth bluesky HANDLE (or set PLNFILTER_BSKY_HANDLE and PLNFILTER_BSKY_PASSWORD)"
            )
            return SourceError(self.name, f"{self._host} refused {nsid} (HTTP {status}, {detail})", hint)
        if status in (400, 404):
            return SourceError(
                self.name,
                f"{self._host} rejected {nsid} ({detail})",
                not_found_hint or "check the source in the filter file",
            )
        return SourceError(
            self.name,
            f"{self._host} failed on {nsid} (HTTP {status}, {detail})",
            "the server may be down; the next run resumes from the saved cursor",
        )


def connect(name: str, service: str, ctx: FetchContext, login: bool) -> Connection:
    """An anonymous client, or the process's shared logged-in client for (service, handle)."""
    from atproto import Client
    from atproto_client.request import Request

    service = service.rstrip("/")
    if not login:
        return Connection(name, service, Client(base_url=service, request=Request(timeout=ctx.timeout)), ctx)
    client, credentials = _shared_login(name, service, ctx)
    return Connection(name, service, client, ctx, credentials)


def _shared_login(name: str, service: str, ctx: FetchContext) -> tuple[Any, auth_bluesky.Credentials]:
    """The process's logged-in client for (service, handle) and its credentials; SourceError if none."""
    try:
        credentials = auth_bluesky.find_credentials()
        if credentials is None:
            raise AuthError(
                "this Bluesky source needs a login", "run: plnfilter auth bluesky HANDLE (an app password)"
            )
        key = (service, credentials.handle, ctx.timeout)
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = auth_bluesky.logged_in_client(service, ctx.timeout, credentials)
                _clients[key] = client
    except AuthError as exc:
        raise SourceError(name, exc.message, exc.hint) from None
    except Exception as exc:  # the SDK's network errors during login
        raise SourceError(
            name,
            f"cannot log in at {service} ({_cause(exc)})",
            "check the network and PLNFILTER_BSKY_SERVICE",
        ) from None
    return client, credentials


def seconds_until_reset(headers: dict) -> float | None:
    """`RateLimit-Reset` is epoch seconds on Bluesky (a small number is read as seconds from now)."""
    value = (headers or {}).get("ratelimit-reset")
    try:
        reset = float(value)
    except (TypeError, ValueError):
        return None
    return max(reset - time.time(), 0.0) if reset > 1_000_000_000 else reset


def _headers(exc: Exception) -> dict:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None) or {}


def _never_connected(exc: BaseException) -> bool:
    """httpx could not open the connection at all (refused, unknown host): not worth a retry."""
    return type(exc.__cause__ or exc.__context__).__name__ in ("ConnectError", "ConnectTimeout")


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__ or exc.__context__
    return f"{type(inner).__name__}: {inner}" if inner else type(exc).__name__
