"""The one place that maps imported modules to installed distributions and versions."""

from __future__ import annotations

from importlib import metadata

import pytest

from pinyard._packages import distribution_versions


def test_maps_modules_to_their_distributions_with_installed_versions() -> None:
    found = distribution_versions({"yaml", "pytest"})
    assert found == {"pytest": pytest.__version__, "PyYAML": metadata.version("PyYAML")}
    assert list(found) == sorted(found, key=str.lower)


def test_skips_modules_no_distribution_provides() -> None:
    assert distribution_versions({"sys", "no_such_module_anywhere"}) == {}
