"""pytest fixtures: the Bluesky reference network, started once per test session and seeded.

The root conftest lists this module in `pytest_plugins`, so every test module shares one network
(never import the fixtures into a test module: each importing module would start its own).

If the network cannot start the tests FAIL, with the log tail; under CI=true they always try.
Locally, `PLNFILTER_SKIP_BLUESKY=1` skips them with that reason.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from figures import session_figure

from .network import Network, NetworkStartError
from .scenario import seed_pln
from .seed import Seeder


def _skip_requested() -> bool:
    return os.environ.get("PLNFILTER_SKIP_BLUESKY") == "1" and os.environ.get("CI", "").lower() != "true"


class SeededNetwork:
    """A running network, what was seeded into it (`info`, also written to `seeded.json`), and a seeder."""

    def __init__(self, network: Network, seeder: Seeder, info: dict, seeded_json) -> None:
        self.network = network
        self.seeder = seeder
        self.info = info
        self.seeded_json = seeded_json
        self.pds = network.pds
        self.appview = network.appview

    def did(self, handle: str) -> str:
        return self.info["accounts"][handle]

    def post(self, key: str) -> dict:
        return self.info["posts"][key]


@pytest.fixture(scope="session")
def bluesky_network(tmp_path_factory, pytestconfig):
    """The running network (PLC + PDS + AppView on 127.0.0.1), stopped at session end."""
    if _skip_requested():
        pytest.skip("PLNFILTER_SKIP_BLUESKY=1: Bluesky reference-network tests not run")
    network = Network()
    try:
        network.start()
    except NetworkStartError as exc:
        pytest.fail(f"the Bluesky reference network did not start: {exc}", pytrace=False)
    print(f"\nBluesky reference network started in {network.start_seconds:.1f} s")
    session_figure(
        pytestconfig,
        f"Bluesky reference network (PLC + PDS + AppView) started in {network.start_seconds:.1f} s",
    )
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="session")
def bluesky_net(bluesky_network, tmp_path_factory) -> SeededNetwork:
    """The network with the PLN of `scenario.py` written into it and indexed."""
    began = time.monotonic()
    seeder = Seeder(bluesky_network.pds, bluesky_network)
    info = seed_pln(seeder, bluesky_network)
    path = tmp_path_factory.mktemp("bluesky") / "seeded.json"
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"seeded in {time.monotonic() - began:.1f} s -> {path}")
    return SeededNetwork(bluesky_network, seeder, info, path)


@pytest.fixture
def bluesky_env(bluesky_net, monkeypatch) -> SeededNetwork:
    """Point plnfilter at the network and log in as pln-runner.test through the environment
    (anonymous reads would go to the AppView; a PDS serves lists, authors and feeds only with a session)."""
    monkeypatch.setenv("PLNFILTER_BSKY_SERVICE", bluesky_net.pds)
    monkeypatch.setenv("PLNFILTER_BSKY_APPVIEW", bluesky_net.appview)
    monkeypatch.setenv("PLNFILTER_BSKY_HANDLE", "pln-runner.test")
    monkeypatch.setenv("PLNFILTER_BSKY_PASSWORD", bluesky_net.info["password"])
    from plnfilter.sources.bluesky.session import forget_clients

    forget_clients()
    return bluesky_net
