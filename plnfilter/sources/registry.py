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
    "feed": "plnfilter.sources.feed",
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


def heads() -> dict[str, str]:
    """Every key that may start a source (`- feed: URL`, `- opml: FILE`) -> its network's name: the
    network's name, plus the other heads its package lists in `HEADS` (optional)."""
    found: dict[str, str] = {}
    for name in NETWORKS:
        for head in (name, *getattr(network(name), "HEADS", ())):
            found.setdefault(head, name)
    return found


def parse_source(head: str, value: object, options, path: str, line: int):
    """The SourceSpec of a source that starts with `head: value`, checked by its network's package;
    a head other than the network's own name is passed on as `head_key=` (see `heads`)."""
    name = heads()[head]
    module = network(name)
    if head == name:
        return module.parse_source(value, options, path, line)
    return module.parse_source(value, options, path, line, head_key=head)


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
