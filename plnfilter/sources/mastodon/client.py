"""One place that talks HTTP to a Mastodon instance: raw JSON pages, bounded rate-limit waits, typed errors.

Our own small client over the REST API, as toot has (`requests`, which Mastodon.py brings along):
Mastodon.py's `timeline_hashtag` & co. cast every status into entity objects (~4 ms each), compare
ids as numbers (a TypeError on the ULIDs GoToSocial uses), call `/api/v2/instance` before each tag
timeline, and `fetch_remaining` walks a tag's whole history; and its request core is private.
Here: the session, bearer token, user agent, timeout, `X-RateLimit-*` (ISO resets, corrected for
the server's clock), HTTP status -> SourceError with a next step. Waits and retries follow the
shared policy of plnfilter/sources/transport.py, bounded by `FetchContext.max_wait` and the deadline.
https://docs.joinmastodon.org/api/rate-limits/
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from plnfilter.errors import RateLimited, SourceError
from plnfilter.sources import FetchContext
from plnfilter.sources.mastodon.normalize import instance_base
from plnfilter.sources.transport import RETRIED_STATUS, Transient, wait_for_rate_limit, with_retries
from plnfilter.times import parse_iso

USER_AGENT = "plnfilter (+https://github.com/plnfilter/plnfilter)"
MAX_RATE_LIMIT_RETRIES = 3
# How requests/urllib3 word a connection that was made and then lost (reset, cut short), as opposed
# to one that was never made: the first is the server's trouble, the second often a typo.
_BROKEN_CONNECTION = ("Connection aborted", "Connection broken", "reset by peer", "IncompleteRead")
# How servers without a method answer it: Mastodon before 4.3 (404), other servers (400, 405, 422, 501).
_NOT_OFFERED = (400, 404, 405, 410, 422, 501)


class NotFound(SourceError):
    """The server answered 404 for what was asked (a timeline, an account, a list)."""


class NotOffered(SourceError):
    """The server does not offer this method (an older Mastodon, another server): worth a note, not a failure.

    `what` says so without the `source NAME:` prefix, for a caller that names the source itself.
    """

    def __init__(self, source: str, what: str, hint: str = "") -> None:
        super().__init__(source, what, hint)
        self.what = what


@dataclass
class RawPage:
    """Statuses newest first, exactly as sent, and the ids the server's `Link` header pages with."""

    statuses: list[dict[str, Any]]
    next_max_id: str | None = None  # older page
    prev_min_id: str | None = None  # newer page
    linked: bool = True  # the answer had a `Link` header at all (a proxy may strip it)


def _link_param(links: dict[str, Any], rel: str, key: str) -> str | None:
    url = (links.get(rel) or {}).get("url") or ""
    values = parse_qs(urlsplit(url).query).get(key)
    return values[0] if values else None


class MastodonClient:
    """Raw GET requests to one instance for one timeline, with its errors phrased for that timeline."""

    def __init__(
        self,
        instance: str,
        token: str | None,
        ctx: FetchContext,
        source: str,
        not_found: str = "not found",
    ) -> None:
        import requests

        self.base, self.host = instance_base(instance)
        self.token = token
        self.ctx = ctx
        self.source = source
        self.not_found = not_found
        self.sleep: Callable[[float], None] = time.sleep
        self._spent_until: float | None = None  # epoch when the spent rate limit resets
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def past_deadline(self) -> bool:
        return self.ctx.past_deadline()

    def get_page(self, endpoint: str, params: dict[str, Any]) -> RawPage:
        """A page of statuses; the server's `Link` header names the neighbouring pages."""
        data, response = self.get_json(endpoint, params)
        if not isinstance(data, list):
            raise SourceError(
                self.source,
                f"{self.host} sent {type(data).__name__} where a list of statuses was expected",
                f"check that {self.base} is a Mastodon-compatible server",
            )
        statuses = [status for status in data if isinstance(status, dict)]
        links = response.links or {}
        return RawPage(
            statuses, _link_param(links, "next", "max_id"), _link_param(links, "prev", "min_id"), bool(links)
        )

    def get_statuses(self, ids: list[str]) -> list[dict[str, Any]]:
        """The statuses with these instance-local ids that are still there and visible, in one request.

        `GET /api/v1/statuses?id[]=...` exists since Mastodon 4.3 and takes at most 20 ids (more is a
        422); raises NotOffered where the server lacks it.
        https://docs.joinmastodon.org/methods/statuses/#index
        """
        data, _ = self.get_json("/api/v1/statuses", {"id[]": list(ids)}, optional=True)
        if not isinstance(data, list):
            raise SourceError(
                self.source,
                f"{self.host} sent {type(data).__name__} where a list of statuses was expected",
                f"check that {self.base} is a Mastodon-compatible server",
            )
        return [status for status in data if isinstance(status, dict)]

    def get_status(self, status_id: str) -> list[dict[str, Any]]:
        """`GET /api/v1/statuses/:id`: the status in a list, or [] when it is gone or not visible (404)."""
        try:
            data, _ = self.get_json(f"/api/v1/statuses/{quote(status_id, safe='')}", {})
        except NotFound:
            return []
        return [data] if isinstance(data, dict) else []

    def get_json(self, endpoint: str, params: dict[str, Any], optional: bool = False) -> tuple[Any, Any]:
        """GET and parse; waits out a rate limit whose reset is near, raises RateLimited otherwise.

        `optional`: a method newer servers added; raise NotOffered when the server does not know it.
        """
        for _attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            self._wait_for_reset()
            response = with_retries(
                lambda: self._request(endpoint, params, optional), self.ctx, self.source, self.sleep
            )
            if response is not None:
                try:
                    return json.loads(response.content), response
                except ValueError:
                    raise SourceError(
                        self.source,
                        f"{self.host} answered {endpoint} with something that is not JSON",
                        f"check that {self.base} is a Mastodon-compatible server; the next run retries",
                    ) from None
        raise RateLimited(
            self.source, f"{self.host} kept answering 429 Too Many Requests", "the next run continues"
        )

    def _wait_for_reset(self) -> None:
        """Sleep until a spent rate limit resets when that is within max_wait and the deadline, else stop."""
        if self._spent_until is None:
            return
        wait = self._spent_until - time.time()
        self._spent_until = None
        wait_for_rate_limit(
            self.ctx,
            wait,
            f"{self.source}: rate limit of {self.host} spent, waiting {wait:.0f}s for it to reset",
            lambda wait: RateLimited(
                self.source,
                f"rate limit of {self.host} spent; it resets in {wait:.0f}s",
                "the cursor is saved and the next run continues from there",
            ),
            self.sleep,
        )

    def _request(self, endpoint: str, params: dict[str, Any], optional: bool = False) -> Any | None:
        """The response, or None after a 429 (with the reset noted for `_wait_for_reset`); raises
        Transient for a failure worth another try (see transport.py)."""
        import requests

        try:
            # `auth` as a no-op: requests must never swap our bearer token for a ~/.netrc login.
            response = self.session.get(
                self.base + endpoint, params=params, timeout=self.ctx.timeout, auth=lambda request: request
            )
        except requests.exceptions.ReadTimeout:
            raise Transient(
                SourceError(
                    self.source,
                    f"no answer from {self.host} within {self.ctx.timeout:g}s",
                    "the next run retries from the saved cursor; raise the timeout if the server is slow",
                ),
                f"no answer within {self.ctx.timeout:g}s",
            ) from None
        except requests.exceptions.Timeout:
            raise SourceError(
                self.source,
                f"no answer from {self.host} within {self.ctx.timeout:g}s",
                "the next run retries from the saved cursor; raise the timeout if the server is slow",
            ) from None
        except requests.exceptions.RequestException as exc:
            if "timed out" in str(exc).lower():  # a read timeout urllib3 reports as a connection error
                raise Transient(
                    SourceError(
                        self.source,
                        f"no answer from {self.host} within {self.ctx.timeout:g}s",
                        "the next run retries from the saved cursor; raise the timeout if the server is slow",
                    ),
                    f"no answer within {self.ctx.timeout:g}s",
                ) from None
            if any(sign in str(exc) for sign in _BROKEN_CONNECTION):
                raise Transient(
                    SourceError(
                        self.source,
                        f"the connection to {self.host} broke before the answer was complete",
                        "the next run retries from the saved cursor",
                    ),
                    "the connection broke",
                ) from None
            raise SourceError(
                self.source,
                f"could not connect to {self.host}",
                f"check the instance name `{self.host}` and the network connection",
            ) from None
        code = response.status_code
        reset = _reset_of(response.headers)
        if code == 429:
            if reset is None:
                raise RateLimited(
                    self.source,
                    f"{self.host} answered 429 Too Many Requests without saying when the limit resets",
                    "the cursor is saved; run again later",
                )
            self._spent_until = reset
            return None
        if code >= 400:
            self._raise_for(response, endpoint, optional)
        remaining = _int_header(response.headers, "X-RateLimit-Remaining")
        if remaining is not None and remaining <= 0 and reset:
            self._spent_until = reset
        return response

    def _raise_for(self, response: Any, endpoint: str, optional: bool) -> None:
        code = response.status_code
        status = f"{code} {response.reason or ''}".strip()
        if code == 401:
            if self.token:
                raise SourceError(
                    self.source,
                    f"{self.host} rejected the access token (401)",
                    f"create a new token on {self.host} and run `plnfilter auth mastodon {_auth_target(self.base)}`",
                )
            raise SourceError(
                self.source,
                f"{self.host} requires login for this timeline (401)",
                f"run `plnfilter auth mastodon {_auth_target(self.base)}` or set {_env_hint(self.host)}",
            )
        if optional and code in _NOT_OFFERED:
            raise self._not_offered(endpoint, "404 Not Found" if code == 404 else status)
        if code == 404:
            raise NotFound(self.source, f"{self.not_found} on {self.host} (404)", "check the filter file")
        if code >= 500:
            error = SourceError(
                self.source,
                f"{self.host} answered {status} (server error)",
                "the server is having trouble; the next run retries from the saved cursor",
            )
            if code in RETRIED_STATUS:
                raise Transient(error, f"{self.host} answered {status}")
            raise error
        hint = (
            "check the token's scopes (read) and the filter file" if code == 403 else "check the filter file"
        )
        raise SourceError(
            self.source, f"{self.host} answered {status}: {_error_text(response, self.token)}", hint
        )

    def _not_offered(self, endpoint: str, status: str) -> NotOffered:
        return NotOffered(
            self.source,
            f"{self.host} does not offer GET {endpoint} (it answered {status})",
            "nothing to do, the rest of the run is unaffected",
        )


def _int_header(headers: Any, name: str) -> int | None:
    try:
        return int(headers.get(name))
    except (TypeError, ValueError):
        return None


def _reset_of(headers: Any) -> float | None:
    """`X-RateLimit-Reset` (an ISO time, or epoch seconds) as local epoch seconds, corrected by the
    server's `Date` for a skewed clock; None when absent, unreadable or already past."""
    value = headers.get("X-RateLimit-Reset")
    if not value:
        return None
    try:
        reset = float(int(value))
    except ValueError:
        try:
            reset = parse_iso(value).timestamp()
        except (ValueError, TypeError, OverflowError):
            return None
    if headers.get("Date"):
        try:
            reset += time.time() - parsedate_to_datetime(headers["Date"]).timestamp()
        except (ValueError, TypeError, OverflowError):
            pass
    return reset if reset > time.time() else None


def _error_text(response: Any, token: str | None = None) -> str:
    """The server's `error` text, without the token should the server echo the request back."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        text = str(body["error"])
    elif isinstance(body, str) and body:
        text = body
    else:
        text = "Mastodon API returned error"
    return text.replace(token, "[token]") if token else text


def _auth_target(base: str) -> str:
    from plnfilter.sources.mastodon.auth import auth_target

    return auth_target(base)


def _env_hint(host: str) -> str:
    from plnfilter.sources.mastodon.auth import env_name

    return env_name(host)
