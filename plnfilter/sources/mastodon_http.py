"""One place that talks HTTP to a Mastodon instance: raw JSON pages, bounded rate-limit waits, typed errors.

Why not Mastodon.py's `timeline_hashtag` & co.: they cast every status into entity objects
(~4 ms each), compare ids as numbers (a TypeError on the ULIDs GoToSocial uses), call
`/api/v2/instance` before each tag timeline, and `fetch_remaining` walks a tag's whole history.
So Mastodon.py is kept for what it does well (the session, auth header, user agent, timeout,
`X-RateLimit-*` parsing including ISO resets and clock skew, HTTP status -> exception) through its
request core with `return_response_object=True`, and the JSON is parsed here. `ratelimit_method`
is "throw": waiting is decided here, bounded by `FetchContext.max_wait` and the deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from plnfilter.errors import RateLimited, SourceError
from plnfilter.normalize.mastodon import instance_base
from plnfilter.sources import FetchContext

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
        from mastodon import Mastodon

        self.base, self.host = instance_base(instance)
        self.token = token
        self.ctx = ctx
        self.source = source
        self.not_found = not_found
        self.sleep: Callable[[float], None] = time.sleep
        self._spent_until: float | None = None  # epoch when the spent rate limit resets
        self.api = Mastodon(
            access_token=token,
            api_base_url=self.base,
            request_timeout=ctx.timeout,
            ratelimit_method="throw",
            version_check_mode="none",
            user_agent=USER_AGENT,
        )

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
            response = self._request(endpoint, params, optional)
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
        if wait <= 0:
            return
        deadline_left = None if self.ctx.deadline is None else self.ctx.deadline - time.monotonic()
        if wait > self.ctx.max_wait or (deadline_left is not None and wait > deadline_left):
            raise RateLimited(
                self.source,
                f"rate limit of {self.host} spent; it resets in {wait:.0f}s",
                "the cursor is saved and the next run continues from there",
            )
        self.ctx.log(f"{self.source}: rate limit of {self.host} spent, waiting {wait:.0f}s for it to reset")
        self.sleep(wait)

    def _request(self, endpoint: str, params: dict[str, Any], optional: bool = False) -> Any | None:
        """The response, or None after a 429 (with the reset noted for `_wait_for_reset`)."""
        from mastodon import (
            MastodonAPIError,
            MastodonNetworkError,
            MastodonNotFoundError,
            MastodonRatelimitError,
            MastodonServerError,
            MastodonUnauthorizedError,
        )

        api = self.api
        api.ratelimit_remaining = None  # only this response's headers count
        api.ratelimit_reset = None
        try:
            response = api._Mastodon__api_request("GET", endpoint, dict(params), return_response_object=True)
        except MastodonRatelimitError:
            if not api.ratelimit_reset:
                raise RateLimited(
                    self.source,
                    f"{self.host} answered 429 Too Many Requests without saying when the limit resets",
                    "the cursor is saved; run again later",
                ) from None
            self._spent_until = api.ratelimit_reset
            return None
        except MastodonUnauthorizedError:
            if self.token:
                raise SourceError(
                    self.source,
                    f"{self.host} rejected the access token (401)",
                    f"create a new token on {self.host} and run `plnfilter auth mastodon {_auth_target(self.base)}`",
                ) from None
            raise SourceError(
                self.source,
                f"{self.host} requires login for this timeline (401)",
                f"run `plnfilter auth mastodon {_auth_target(self.base)}` or set {_env_hint(self.host)}",
            ) from None
        except MastodonNotFoundError:
            if optional:
                raise self._not_offered(endpoint, "404 Not Found") from None
            raise NotFound(
                self.source, f"{self.not_found} on {self.host} (404)", "check the filter file"
            ) from None
        except MastodonServerError as exc:
            if optional and _code_of(exc) in _NOT_OFFERED:
                raise self._not_offered(endpoint, _status_of(exc)) from None
            raise SourceError(
                self.source,
                f"{self.host} answered {_status_of(exc)} (server error)",
                "the server is having trouble; the next run retries from the saved cursor",
            ) from None
        except MastodonNetworkError as exc:
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                raise SourceError(
                    self.source,
                    f"no answer from {self.host} within {self.ctx.timeout:g}s",
                    "the next run retries from the saved cursor; raise the timeout if the server is slow",
                ) from None
            if any(sign in str(exc) for sign in _BROKEN_CONNECTION):
                raise SourceError(
                    self.source,
                    f"the connection to {self.host} broke before the answer was complete",
                    "the next run retries from the saved cursor",
                ) from None
            raise SourceError(
                self.source,
                f"could not connect to {self.host}",
                f"check the instance name `{self.host}` and the network connection",
            ) from None
        except MastodonAPIError as exc:
            if optional and _code_of(exc) in _NOT_OFFERED:
                raise self._not_offered(endpoint, _status_of(exc)) from None
            status = _status_of(exc)
            hint = (
                "check the token's scopes (read) and the filter file"
                if status.startswith("403")
                else "check the filter file"
            )
            raise SourceError(
                self.source, f"{self.host} answered {status}: {_error_text(exc, self.token)}", hint
            ) from None
        remaining = api.ratelimit_remaining
        if remaining is not None and remaining <= 0 and api.ratelimit_reset:
            self._spent_until = api.ratelimit_reset
        return response

    def _not_offered(self, endpoint: str, status: str) -> NotOffered:
        return NotOffered(
            self.source,
            f"{self.host} does not offer GET {endpoint} (it answered {status})",
            "nothing to do, the rest of the run is unaffected",
        )


def _code_of(exc: Exception) -> int:
    args = exc.args
    return args[1] if len(args) >= 2 and isinstance(args[1], int) else 0


def _status_of(exc: Exception) -> str:
    args = exc.args
    if len(args) >= 3:
        return f"{args[1]} {args[2]}".strip()
    return "an error"


def _error_text(exc: Exception, token: str | None = None) -> str:
    """The server's error text, without the token should the server echo the request back."""
    args = exc.args
    text = str(args[3]) if len(args) >= 4 and args[3] else str(args[0] if args else exc)
    return text.replace(token, "[token]") if token else text


def _auth_target(base: str) -> str:
    from plnfilter.auth_mastodon import auth_target

    return auth_target(base)


def _env_hint(host: str) -> str:
    from plnfilter.auth_mastodon import env_name

    return env_name(host)
