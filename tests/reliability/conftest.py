"""Fixtures of the reliability suite.

``target`` is parametrized over the local folder, S3 (moto) and Azure (Azurite): a
fresh empty board location per test, openable in this process (``target.board()``)
and in forked workers (``target.spec(...)``). ``workers`` is one `Workers` helper per
session, prepared for every protocol used.

Sizes scale with ``scale()``: 1 in CI; ``--torture`` (x10) or ``PINYARD_TORTURE=N``
(xN) for longer runs. Figures the tests measure are collected with ``record()`` and
printed at the end of the session (and written to ``$PINYARD_RELIABILITY_FIGURES``
as JSON when that is set), which is where docs/reliability.md's figures come from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.backends.conftest import (  # noqa: F401 - fixtures, reused as they are
    AIOHTTP_LARGE_BODY_WARNING,
    azure_container,
    azure_container_via_proxy,
    azure_fast_retry,
    azurite,
    fault_proxy_factory,
    moto_server,
    s3_bucket,
    s3_bucket_via_proxy,
)
from tests.reliability._workers import Workers

_HERE = Path(__file__).resolve().parent
_FIGURES: dict[str, dict[str, Any]] = {}


def scale() -> int:
    """How many times the CI sizes to run (1 unless asked for more)."""
    return max(1, int(os.environ.get("PINYARD_TORTURE", "1") or "1"))


def record(test: str, **figures: Any) -> None:
    """Add figures measured by ``test`` to the session's summary."""
    entry = _FIGURES.setdefault(test, {})
    for key, value in figures.items():
        entry[key] = entry.get(key, 0) + value if isinstance(value, int) else value


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "torture", False) and "PINYARD_TORTURE" not in os.environ:
        os.environ["PINYARD_TORTURE"] = "10"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.filterwarnings(AIOHTTP_LARGE_BODY_WARNING))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for test, figures in sorted(_FIGURES.items()):
        terminalreporter.write_line(f"{test}: {json.dumps(figures, sort_keys=True)}")
    out = os.environ.get("PINYARD_RELIABILITY_FIGURES")
    if out:
        Path(out).write_text(json.dumps(_FIGURES, indent=1, sort_keys=True))


@dataclass
class Target:
    """A fresh board location on one backend."""

    kind: str  # "local", "s3" or "az"
    url: str  # a folder path, or s3://bucket/board, az://container/board
    options: dict[str, Any]
    cache: Path
    fs: Any = None  # the raw filesystem (None for local)
    bucket: Any = None  # tests.backends.conftest.Bucket (None for local)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        return {"local": "file", "s3": "s3", "az": "az"}[self.kind]

    def board(self, **kwargs: Any) -> Any:
        import pinyard

        # These scenarios read back the pickles they write; the refusal is tested in
        # tests/boards/test_pickle_reads.py.
        kwargs.setdefault("allow_pickle_read", True)

        if self.kind == "local":
            return pinyard.board_folder(self.url, create=True, **kwargs)
        return pinyard.board(self.url, cache=pinyard.Cache(self.cache), **self.options, **kwargs)

    def spec(self, **fields: Any) -> dict[str, Any]:
        """The part of a worker spec that says where the board is."""
        return {"url": self.url, "options": self.options, "cache": str(self.cache), **fields}

    # -- raw access, below pinyard, for the checks -----------------------------------------
    def _path(self, rel: str = "") -> str:
        base = self.url.split("://", 1)[-1]
        return f"{base}/{rel}".rstrip("/")

    def files(self, rel: str = "") -> list[str]:
        """Every file under ``rel`` (relative to the board root), relative paths, sorted."""
        if self.kind == "local":
            root = Path(self.url)
            start = root / rel
            if not start.exists():
                return []
            return sorted(str(p.relative_to(root)) for p in start.rglob("*") if p.is_file())
        base = self._path()
        self.fs.invalidate_cache()
        found = self.fs.find(self._path(rel)) if self.fs.exists(self._path(rel)) else []
        return sorted(p[len(base) + 1 :] for p in found)

    def read(self, rel: str) -> bytes:
        if self.kind == "local":
            return (Path(self.url) / rel).read_bytes()
        return bytes(self.fs.cat_file(self._path(rel)))

    def write(self, rel: str, data: bytes) -> None:
        if self.kind == "local":
            path = Path(self.url) / rel
            path.chmod(0o644)
            path.write_bytes(data)
        else:
            self.fs.pipe_file(self._path(rel), data)
        if self.fs is not None:
            self.fs.invalidate_cache()


BACKENDS = ["local", "s3", "az"]


def _make_target(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    cache = tmp_path / "cache"
    if kind == "local":
        return Target("local", str(tmp_path / "board"), {}, cache)
    bucket = request.getfixturevalue("s3_bucket" if kind == "s3" else "azure_container")
    return Target(kind, f"{bucket.url}/board", bucket.storage_options, cache, bucket.fs, bucket)


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return _make_target(request.param, request, tmp_path)


@pytest.fixture(scope="session")
def workers() -> Iterator[Workers]:
    helper = Workers()
    prepared: set[str] = set()

    class Prepared:
        def __init__(self) -> None:
            self.helper = helper

        def for_target(self, t: Target) -> Workers:
            if t.kind not in prepared:
                helper.prepare(t.kind)
                prepared.add(t.kind)
            return helper

    yield Prepared()  # type: ignore[misc]
    helper.stop()
