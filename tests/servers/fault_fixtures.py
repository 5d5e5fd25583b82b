"""pytest fixtures shared by the modules that run plnfilter against the scripted fault server.

The root conftest lists this module in `pytest_plugins`; never import the fixtures into a test module.
"""

from __future__ import annotations

import pytest
from servers.fault_server import figure_reporter, serving


@pytest.fixture
def fault_server():
    """The scripted Mastodon-like loopback server (tests/servers/fault_server.py), stopped after the test."""
    yield from serving()


@pytest.fixture
def report(request):
    """`report(text)`: a figure for the issue's closing note (see figure_reporter)."""
    return figure_reporter(request)
