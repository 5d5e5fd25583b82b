"""Figures measured by the tests, repeated at the end of the run (see conftest's summary hook).

Per-test figures go in the test report's user_properties as ("figure", text) (see
servers.fault_server.figure_reporter); figures of a whole session or module go here.
"""

from __future__ import annotations

import pytest

SESSION_FIGURES = pytest.StashKey[list]()


def session_figure(config: pytest.Config, text: str) -> None:
    config.stash.setdefault(SESSION_FIGURES, []).append(text)
