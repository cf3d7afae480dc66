"""Fixtures for tests against real storage emulators on 127.0.0.1.

Session-scoped servers (started on first use, stopped at the end of the session):
``moto_server`` -> ``MotoServer``, ``azurite`` -> ``Azurite``, ``fake_gcs`` -> ``FakeGcs``.
An emulator that cannot start FAILS the tests that use it, with its captured output.

Per test, a fresh uniquely named bucket/container and a fresh filesystem for it (a
``Bucket``): ``s3_bucket``, ``azure_container``, ``gcs_bucket``; and the same through a
new ``FaultProxy``: ``s3_bucket_via_proxy``, ``azure_container_via_proxy``,
``gcs_bucket_via_proxy`` (``bucket.proxy`` is the proxy, faults off until set).
Azure fixtures also make every adlfs filesystem built inside the test use a short retry
policy (the SDK default sleeps about 15 s per 503 or dropped connection).
"""

from __future__ import annotations

import os

# Must be in the environment before gcsfs is imported (else ~60 s gRPC waits per call),
# and s3fs against moto needs the region from the environment. _servers sets them too.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.backends._proxy import FaultProxy
from tests.backends._servers import (
    Azurite,
    EmulatorStartError,
    FakeGcs,
    MotoServer,
    patch_adlfs_retry,
    unique_name,
)


@dataclass
class Bucket:
    """A fresh bucket (S3, GCS) or container (Azure) on an emulator, for one test.

    ``fs`` is a new (not instance-cached) fsspec filesystem; ``storage_options`` are the
    kwargs that build an equivalent one (what a board function takes); ``root`` is the
    bucket path without protocol and ``url`` the same with it (``s3://name``).
    """

    protocol: str  # "s3", "az" or "gs"
    name: str
    fs: Any
    storage_options: dict[str, Any]
    server: Any
    proxy: FaultProxy | None = None

    @property
    def root(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.name}"

    def path(self, *parts: str) -> str:
        """``name/part/part`` (no protocol), as fsspec methods take it."""
        return "/".join([self.name, *(p.strip("/") for p in parts)])


# azure-core's aiohttp transport hands request bodies over 1 MiB to aiohttp as raw
# bytes, and aiohttp (3.14) warns "Sending a large body directly with raw bytes might
# lock the event loop" (a ResourceWarning) on every such upload. Third-party, harmless,
# and made an error by `filterwarnings = error`: ignored for the tests in this folder.
AIOHTTP_LARGE_BODY_WARNING = (
    "ignore:Sending a large body directly with raw bytes:ResourceWarning:aiohttp.payload"
)
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.filterwarnings(AIOHTTP_LARGE_BODY_WARNING))


def _start(server: Any) -> Any:
    try:
        return server.start()
    except EmulatorStartError as exc:
        pytest.fail(f"{server.name} could not start:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = _start(MotoServer())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = _start(Azurite())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGcs]:
    server = _start(FakeGcs())
    yield server
    server.stop()


@pytest.fixture
def fault_proxy_factory() -> Iterator[Callable[..., FaultProxy]]:
    """``make(upstream_url, seed=0) -> FaultProxy`` (started; stopped after the test)."""
    proxies: list[FaultProxy] = []

    def make(upstream: str, seed: int = 0) -> FaultProxy:
        proxy = FaultProxy(upstream, seed=seed).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def azure_fast_retry() -> Iterator[None]:
    """adlfs filesystems created in the test use ``fast_azure_retry_policy()``."""
    with patch_adlfs_retry():
        yield


def _hint(request: pytest.FixtureRequest) -> str:
    return str(request.node.name)


@pytest.fixture
def s3_bucket(moto_server: MotoServer, request: pytest.FixtureRequest) -> Bucket:
    name = moto_server.make_bucket(unique_name(_hint(request)))
    return Bucket("s3", name, moto_server.filesystem(), moto_server.storage_options(), moto_server)


@pytest.fixture
def azure_container(
    azurite: Azurite, azure_fast_retry: None, request: pytest.FixtureRequest
) -> Bucket:
    name = azurite.make_bucket(unique_name(_hint(request)))
    return Bucket("az", name, azurite.filesystem(), azurite.storage_options(), azurite)


@pytest.fixture
def gcs_bucket(fake_gcs: FakeGcs, request: pytest.FixtureRequest) -> Bucket:
    name = fake_gcs.make_bucket(unique_name(_hint(request)))
    return Bucket("gs", name, fake_gcs.filesystem(), fake_gcs.storage_options(), fake_gcs)


@pytest.fixture
def s3_bucket_via_proxy(
    moto_server: MotoServer,
    fault_proxy_factory: Callable[..., FaultProxy],
    request: pytest.FixtureRequest,
) -> Bucket:
    proxy = fault_proxy_factory(moto_server.endpoint_url)
    name = moto_server.make_bucket(unique_name(_hint(request)))
    return Bucket(
        "s3",
        name,
        moto_server.filesystem(proxy.url),
        moto_server.storage_options(proxy.url),
        moto_server,
        proxy,
    )


@pytest.fixture
def azure_container_via_proxy(
    azurite: Azurite,
    azure_fast_retry: None,
    fault_proxy_factory: Callable[..., FaultProxy],
    request: pytest.FixtureRequest,
) -> Bucket:
    proxy = fault_proxy_factory(azurite.base_url)
    name = azurite.make_bucket(unique_name(_hint(request)))
    return Bucket(
        "az",
        name,
        azurite.filesystem(proxy.url),
        azurite.storage_options(proxy.url),
        azurite,
        proxy,
    )


@pytest.fixture
def gcs_bucket_via_proxy(
    fake_gcs: FakeGcs,
    fault_proxy_factory: Callable[..., FaultProxy],
    request: pytest.FixtureRequest,
) -> Bucket:
    proxy = fault_proxy_factory(fake_gcs.endpoint_url)
    name = fake_gcs.make_bucket(unique_name(_hint(request)))
    return Bucket(
        "gs",
        name,
        fake_gcs.filesystem(proxy.url),
        fake_gcs.storage_options(proxy.url),
        fake_gcs,
        proxy,
    )
