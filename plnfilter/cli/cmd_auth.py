"""`plnfilter auth`: store credentials in 0600 files so cron never needs a prompt."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from plnfilter.cli.console import clean


@click.group()
def auth() -> None:
    """Store or check a Mastodon token or a Bluesky app password.

    Secrets go to 0600 files in the user's config directory; environment variables win:
    PLNFILTER_MASTODON_TOKEN (or PLNFILTER_MASTODON_TOKEN_<HOST>), PLNFILTER_BSKY_HANDLE and
    PLNFILTER_BSKY_PASSWORD. Nothing secret is ever printed.
    """


def _read_secret_file(path: Path | None, prompt: str) -> str:
    if path is None:
        return click.prompt(prompt, hide_input=True).strip()
    if str(path) == "-":
        return sys.stdin.readline().strip()
    return path.read_text(encoding="utf-8").strip()


@auth.command(name="mastodon")
@click.argument("instance")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="Read the token from this file ('-' for stdin) instead of prompting.",
)
@click.option("--no-verify", is_flag=True, help="Store without asking the instance whether the token works.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=20.0, show_default=True)
def auth_mastodon(instance: str, token_file, no_verify: bool, timeout: float) -> None:
    """Store an access token for INSTANCE (create one under Preferences > Development, read scope)."""
    from plnfilter.sources.mastodon import auth as mastodon_auth

    token = _read_secret_file(token_file, "Access token (not shown)")
    if not token:
        raise click.UsageError("the token is empty")
    if not no_verify:
        account = mastodon_auth.verify(instance, token, timeout)
        click.echo(f"Token works for {clean(account['acct'])}.", err=True)
    path = mastodon_auth.store_token(instance, token)
    click.echo(f"Saved to {path} (mode 600).", err=True)


@auth.command(name="bluesky")
@click.argument("handle")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="Read the app password from this file ('-' for stdin) instead of prompting.",
)
@click.option(
    "--service",
    help="PDS or entryway URL to log in to (default: $PLNFILTER_BSKY_SERVICE or https://bsky.social).",
)
@click.option("--no-verify", is_flag=True, help="Store without logging in once.")
def auth_bluesky(handle: str, password_file, service, no_verify: bool) -> None:
    """Store an app password for HANDLE (Settings > Privacy and security > App passwords)."""
    from plnfilter.sources.bluesky import auth as bluesky_auth

    password = _read_secret_file(password_file, "App password (not shown)")
    if not password:
        raise click.UsageError("the app password is empty")
    if not no_verify:  # a password that does not work is never stored
        who = bluesky_auth.verify(handle, password, service)
        click.echo(f"Logged in as {clean(who)}; session saved.", err=True)
    path = bluesky_auth.store_app_password(handle, password, service)
    click.echo(f"Saved to {path} (mode 600).", err=True)


COMMANDS = (auth,)
