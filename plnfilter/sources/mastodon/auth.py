"""Mastodon access tokens: stored per instance in a 0600 file, overridable from the environment for cron.

Lookup order for an instance: `PLNFILTER_MASTODON_TOKEN_<HOST>` (host upper-cased, every
character that is not a letter or digit as `_`, e.g. `PLNFILTER_MASTODON_TOKEN_MASTODON_SOCIAL`),
then `PLNFILTER_MASTODON_TOKEN` (sent to every Mastodon instance in the filter file: prefer the
per-instance variable when a file names more than one), then the file saved by
`plnfilter auth mastodon HOST`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from plnfilter.credentials import load_secret, save_secret
from plnfilter.errors import AuthError
from plnfilter.sources.mastodon.normalize import instance_base

GENERIC_ENV = "PLNFILTER_MASTODON_TOKEN"


def env_name(instance: str) -> str:
    """`PLNFILTER_MASTODON_TOKEN_MASTODON_SOCIAL` for `mastodon.social` (ports too: `127.0.0.1:8123` -> `127_0_0_1_8123`)."""
    _, host = instance_base(instance)
    return f"{GENERIC_ENV}_{re.sub(r'[^A-Za-z0-9]', '_', host).upper()}"


def auth_target(instance: str) -> str:
    """What to write after `plnfilter auth mastodon`: the host, or the whole base URL when it is not https
    (`auth` adds https:// to a bare host, so `http://127.0.0.1:8080` must keep its scheme)."""
    base, host = instance_base(instance)
    return host if base.startswith("https://") else base


def secret_name(instance: str) -> str:
    return f"mastodon-{instance_base(instance)[1]}"


def store_token(instance: str, token: str) -> str:
    """Save the token for this instance (0600); returns the file path for the user's information."""
    token = token.strip()
    if not token:
        raise AuthError(
            "the token is empty", "paste the access token from Preferences > Development on your instance"
        )
    base, host = instance_base(instance)
    return str(save_secret(secret_name(instance), {"instance": base, "host": host, "access_token": token}))


def token_for(instance: str) -> str | None:
    """The token to send to this instance, or None to fetch anonymously. Environment wins over the file."""
    for name in (env_name(instance), GENERIC_ENV):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    secret = load_secret(secret_name(instance))
    if secret and secret.get("access_token"):
        return str(secret["access_token"])
    return None


def verify(instance: str, token: str, timeout: float = 20.0) -> dict[str, Any]:
    """Ask the instance who the token belongs to (`verify_credentials`); AuthError with a next step if it cannot."""
    from mastodon import Mastodon, MastodonError, MastodonNetworkError, MastodonUnauthorizedError

    base, host = instance_base(instance)
    api = Mastodon(
        access_token=token,
        api_base_url=base,
        request_timeout=timeout,
        ratelimit_method="throw",
        version_check_mode="none",
    )
    try:
        account = api.account_verify_credentials()
    except MastodonUnauthorizedError:
        raise AuthError(
            f"{host} rejected the token",
            f"create a new access token (read scope) on {host} and run: plnfilter auth mastodon {auth_target(instance)}",
        ) from None
    except MastodonNetworkError as exc:
        raise AuthError(
            f"could not reach {host}: {_without(token, str(exc))}",
            "check the instance name and your connection",
        ) from None
    except MastodonError as exc:
        raise AuthError(f"{host} could not check the token ({_status_of(exc)})", "try again later") from None
    return {
        "acct": f"{account.get('acct')}@{host}"
        if "@" not in str(account.get("acct"))
        else str(account.get("acct")),
        "username": str(account.get("username") or ""),
        "url": str(account.get("url") or ""),
    }


def _status_of(exc: Exception) -> str:
    """`HTTP 403 Forbidden`: never the body, which a misbehaving server may fill with the request."""
    args = getattr(exc, "args", ())
    code = next((a for a in args if isinstance(a, int)), None)
    reason = next((a for a in args[2:3] if isinstance(a, str)), "")
    return f"HTTP {code} {reason}".strip() if code else type(exc).__name__


def _without(token: str, text: str) -> str:
    """The text with the token blanked out, wherever a library put it."""
    return text.replace(token, "[token]") if token else text
