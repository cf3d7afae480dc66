"""Installed distributions and their versions, shared by run context and model bundles."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib import metadata


@functools.cache
def _module_distributions() -> Mapping[str, list[str]]:
    """``{top-level module: [distribution, ...]}`` of this interpreter (computed once)."""
    return metadata.packages_distributions()


def distribution_versions(modules: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` of the installed distributions providing the
    top-level ``modules``, sorted by name; modules no distribution provides are skipped."""
    try:
        providers = _module_distributions()
    except Exception:  # pragma: no cover - broken metadata must not break a caller
        return {}
    versions: dict[str, str] = {}
    for module in set(modules):
        for dist in providers.get(module, ()):
            if dist in versions:
                continue
            try:
                versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
    return dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))
