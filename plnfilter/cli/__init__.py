"""The command line: the only layer that imports click and rich, and turns errors into exit codes.

Exit codes: 0 success, 1 error, 2 bad usage or bad filter file, 3 partial success (a source
failed, the rest was saved), 75 locked (another run of the filter, or a write that waited past --wait).
"""

from __future__ import annotations

import gc
import os
import sys

import click

from plnfilter import __version__
from plnfilter.errors import EXIT_ERROR, PlnError

EXIT_CODES_HELP = """
\b
Exit codes:
  0   success
  1   error (nothing half-written)
  2   bad usage or bad filter file
  3   partial success: a source failed, the rest was saved
  75  locked: another run of the filter, or a write waited --wait (try again later)
"""


MAX_ERRORS_SHOWN = 20  # a filter file with more problems than this shows the first ones and a count

# Each command's module (in plnfilter.cli), imported only when the command runs or help lists it, so
# `plnfilter top` does not load the code of `run`, `export` or `voices` (tests/test_cli.py checks
# that this map and each module's COMMANDS agree).
COMMAND_MODULES = {
    "run": "cmd_run",
    "apply": "cmd_run",
    "check": "cmd_run",
    "filter": "cmd_run",
    "watch": "cmd_watch",
    "query": "cmd_archive",
    "export": "cmd_archive",
    "sources": "cmd_archive",
    "runs": "cmd_archive",
    "filters": "cmd_archive",
    "datasette-metadata": "cmd_archive",
    "prune": "cmd_prune",
    "top": "cmd_digest",
    "links": "cmd_digest",
    "explain": "cmd_digest",
    "import-filters": "cmd_digest",
    "auth": "cmd_auth",
    "voices": "cmd_voices",
}

# Commands that run to their end without the cyclic garbage collector: their work is bounded (a
# window's best posts), and a collection during start-up frees nothing (see `main`).
UNCOLLECTED = frozenset({"top"})


class PlnGroup(click.Group):
    """Converts library errors into one stderr line and the documented exit code, in one place;
    imports a command's module when the command is asked for (COMMAND_MODULES)."""

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            _register(module)
        if cmd_name not in UNCOLLECTED and not gc.isenabled():
            gc.freeze()  # start-up's objects live to the end: later collections skip them
            gc.enable()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PlnError as exc:
            from plnfilter.cli.console import clean

            errors = getattr(exc, "errors", None) or [exc]  # a filter file's problems, in line order
            for error in errors[:MAX_ERRORS_SHOWN]:
                click.echo(f"Error: {clean(error.message)}", err=True)
                if error.hint:
                    click.echo(f"  {clean(error.hint)}", err=True)
            if len(errors) > MAX_ERRORS_SHOWN:
                more = len(errors) - MAX_ERRORS_SHOWN
                click.echo(
                    f"Error: and {more} more {'problem' if more == 1 else 'problems'} in "
                    f"{clean(getattr(exc, 'path', 'the filter file'))}; fix these and check again",
                    err=True,
                )
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # `plnfilter query | head`: the reader left; say nothing, like other Unix tools.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(EXIT_ERROR)
        except OSError as exc:
            from plnfilter.cli.console import clean

            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"Error: {clean(exc.strerror or str(exc))}{clean(where)}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=PlnGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="plnfilter")
def cli() -> None:
    """Fetch, filter, rank and archive your Personal Learning Network.

    Posts come from Mastodon hashtags, lists and accounts and from Bluesky searches,
    lists, authors and feeds; rules in a YAML filter file decide what you see.

    \b
    Start here:
      plnfilter check filters/pln-digest.yaml   # what the filter file means
      plnfilter run filters/pln-digest.yaml     # fetch, filter, rank, archive
      plnfilter query --limit 10                # the best kept posts
    """


def _register(module_name: str) -> None:
    """Add the commands of plnfilter.cli.`module_name` to `cli`."""
    # __import__, not importlib.import_module: `python -X importtime` lists what __import__ loads
    module = __import__(f"plnfilter.cli.{module_name}", fromlist=["COMMANDS"])
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    """The `plnfilter` program (a process's entry point: it sets how that process collects garbage)."""
    # Loading a command's modules makes long-lived objects only (modules, classes, functions), so a
    # collection then finds nothing to free: ~2-3 ms of `top`'s start-up (issue 14). The collector
    # is back once the command is known (`PlnGroup.get_command`), but for UNCOLLECTED commands.
    gc.disable()
    try:
        cli(prog_name="plnfilter")
    finally:
        if not gc.isenabled():
            # Nothing was collected, so nothing need be at exit: Python's last collection would walk
            # every object only to free memory the process hands back anyway (~5-9 ms of `top`).
            gc.freeze()
