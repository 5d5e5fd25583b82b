"""Fetch the filters to import straight from the servers, with the logins `plnfilter auth` stored.

Mastodon: `GET /api/v2/filters` (needs a token with the `read:filters` scope).
Bluesky: `app.bsky.actor.getPreferences` on the account's PDS (preferences are private: login).
The SDKs are imported inside the functions, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from plnfilter.errors import AuthError, SourceError
from plnfilter.sources import FetchContext
from plnfilter.times import now_utc

TIMEOUT = 20.0


def _context() -> FetchContext:
    return FetchContext(since=now_utc(), timeout=TIMEOUT)


def fetch_mastodon_filters(instance: str) -> Any:
    """The filters list as the instance sends it; AuthError when no token is stored for it."""
    from plnfilter.sources.mastodon.auth import auth_target, token_for
    from plnfilter.sources.mastodon.client import MastodonClient
    from plnfilter.sources.mastodon.normalize import instance_base

    host = instance_base(instance)[1]
    token = token_for(instance)
    if not token:
        raise AuthError(
            f"reading your filters on {host} needs your access token",
            f"run `plnfilter auth mastodon {auth_target(instance)}` (a token with the read:filters scope), or save "
            "GET /api/v2/filters as a file and import that",
        )
    client = MastodonClient(instance, token, _context(), f"filters on {host}", not_found="the filters API")
    try:
        data, _response = client.get_json("/api/v2/filters", {})
    except SourceError as exc:
        if "(404)" in exc.message:  # a server without v2 filters (Mastodon < 4.0, some other servers)
            data, _response = client.get_json("/api/v1/filters", {})
        else:
            raise
    return data


def fetch_bluesky_preferences() -> Any:
    """`getPreferences` of the account `plnfilter auth bluesky` logged in (or PLNFILTER_BSKY_HANDLE names)."""
    from plnfilter.sources.bluesky.auth import login_service
    from plnfilter.sources.bluesky.session import connect

    service = login_service()
    connection = connect("bluesky preferences", service, _context(), login=True)
    return connection.get("app.bsky.actor.getPreferences", {})
