"""Options for the whole test tree."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--torture",
        action="store_true",
        help="run tests/reliability at ten times its CI size (or set PINYARD_TORTURE=N)",
    )


@pytest.fixture(autouse=True, scope="module")
def _fresh_s3fs_instances() -> None:
    """s3fs caches its clients by their arguments, not by the environment: a CLI test that
    points AWS_ENDPOINT_URL at its module's moto would otherwise get a client an earlier
    module left pointing at another moto (which module ran before differs per worker)."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
