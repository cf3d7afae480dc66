"""pytest plugin that runs pins-python's own test suite against pinyard's constructors.

Loaded (``-p pins_conformance_plugin``) into a pytest run of the tests shipped in
pins' sdist, it makes the switch a pins user makes: every pins constructor a
test calls (``pins.board_folder``, ``pins.board_temp``, ``pins.board``, ...) is
pinyard's of the same name, and the suite's board fixtures, which build pins'
``BaseBoard`` on a fresh folder, open that folder with ``pinyard.board_folder``
instead. No test or assertion is changed. Tests listed as ``n/a`` in
``pins_conformance_expected.txt`` (they build pins' own classes, or need the
network) are deselected; every outcome is written as JSON to the file named by
``PINYARD_CONFORMANCE_REPORT``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pins
import pins.constructors
import pytest

import pinyard

EXPECTED = Path(__file__).with_name("pins_conformance_expected.txt")
CONSTRUCTORS = ("board", "board_azure", "board_folder", "board_gcs", "board_s3", "board_temp")


def _switch_constructors() -> None:
    for name in CONSTRUCTORS:
        setattr(pins, name, getattr(pinyard, name))
        setattr(pins.constructors, name, getattr(pinyard, name))

    from pins.tests import helpers

    pins_builder = helpers.BoardBuilder.create_tmp_board

    def create_tmp_board(self: Any, src_board: str | None = None, versioned: bool = True) -> Any:
        if self.fs_name != "file":  # only folder boards are run
            return pins_builder(self, src_board, versioned)
        path = f"{self.path.name}/{uuid.uuid4()}"
        # pins' builder makes the folder through its file system; pinyard makes a new
        # board only where the parent exists (a typo must not make folders), so the
        # parent is made here as a pins user switching would (or passes create=True).
        os.makedirs(self.path.name, exist_ok=True)
        if src_board is not None:  # what pins' builder does with fs.put
            shutil.copytree(src_board, path)
        self.board_path_registry.append(path)
        return pinyard.board_folder(path, versioned=versioned)

    helpers.BoardBuilder.create_tmp_board = create_tmp_board


_switch_constructors()


def not_applicable() -> set[str]:
    """Test ids the expected-differences file marks ``n/a``."""
    ids = set()
    for line in EXPECTED.read_text().splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 4 and fields[0] == "n/a":
            ids.add(fields[1])
    return ids


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = not_applicable()
    kept = [item for item in items if item.nodeid.split("[")[0] not in skip]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept


_RESULTS: dict[str, dict[str, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        elif report.failed and report.when != "call":
            outcome = "error"
        else:
            outcome = report.outcome
        crash = getattr(report.longrepr, "reprcrash", None)
        message = getattr(crash, "message", "") if crash else str(report.longrepr or "")
        previous = _RESULTS.get(report.nodeid)
        if previous is None or previous["outcome"] == "passed":
            _RESULTS[report.nodeid] = {"outcome": outcome, "message": message[:2000]}


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("PINYARD_CONFORMANCE_REPORT")
    if target:
        Path(target).write_text(json.dumps(_RESULTS, indent=1, sort_keys=True))
