"""The networks plnfilter reads, one line each: the source kind as written in a filter file -> its package.

A network's package (`plnfilter/sources/<network>/__init__.py`) is the only place that knows
that network: the options of its sources, its timelines, how its raw objects become Posts, how
counts are refreshed, its logins, and how it names an author's instance. The rest of plnfilter
asks it through `network(name)`. Packages are imported when first asked for, and import their SDK
only when a fetch starts, so `plnfilter query` never pays for one. To add a network: write its
package and add its line here (see docs/adding-a-network.md).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

NETWORKS = {
    "mastodon": "plnfilter.sources.mastodon",
    "bluesky": "plnfilter.sources.bluesky",
    "file": "plnfilter.sources.files",
}


def names() -> tuple[str, ...]:
    """Every source kind a filter file may name."""
    return tuple(NETWORKS)


@cache
def network(name: str) -> ModuleType:
    """The package of a network named in the table; KeyError for any other name."""
    return importlib.import_module(NETWORKS[name])


def find(name: object) -> ModuleType | None:
    """The package of `name` when it is a network, else None (an unknown or missing `network` field)."""
    return network(name) if isinstance(name, str) and name in NETWORKS else None


def post_networks() -> tuple[str, ...]:
    """The networks a Post can come from (`Post.network`): a `file:` source replays theirs."""
    return tuple(name for name in NETWORKS if network(name).MAKES_POSTS)


def recognise(raw: object) -> ModuleType | None:
    """The network whose API sent this raw object (a saved response item), or None."""
    for name in post_networks():
        module = network(name)
        if module.recognises(raw):
            return module
    return None
