"""Options for the whole test tree."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--torture",
        action="store_true",
        help="run tests/reliability at ten times its CI size (or set PINYARD_TORTURE=N)",
    )
