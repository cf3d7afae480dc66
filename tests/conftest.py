"""Options for the whole test tree."""

from __future__ import annotations

import sys

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--torture",
        action="store_true",
        help="run tests/reliability at ten times its CI size (or set PINYARD_TORTURE=N)",
    )


@pytest.fixture(autouse=True, scope="module")
def _fresh_object_store_clients() -> None:
    """s3fs, adlfs and gcsfs cache their clients by their arguments, not by the
    environment: a CLI test that points AWS_ENDPOINT_URL (or Azure's connection string)
    at its module's emulator would otherwise get a client an earlier module left pointing
    at another one (which module ran before differs per worker)."""
    # Only those already imported (importing gcsfs has to wait for the environment
    # tests/backends/_servers.py sets).
    for module, kind in (("s3fs", "S3FileSystem"), ("adlfs", "AzureBlobFileSystem"),
                         ("gcsfs", "GCSFileSystem")):  # fmt: skip
        if module in sys.modules:
            getattr(sys.modules[module], kind).clear_instance_cache()
