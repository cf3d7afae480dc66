"""The suite's own guards: every test has a timeout, so a hang fails one test instead
of eating CI's time."""

from __future__ import annotations

import pytest


def test_every_test_runs_under_a_timeout(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.hasplugin("timeout"), "pytest-timeout is not loaded"
    assert float(request.config.getini("timeout")) == 300
    assert request.config.getini("timeout_method") == "thread"
