"""The board state machine of tests/boards/test_state_machine.py on S3 (moto) and Azure
(Azurite): writes, reads of the latest, deletions, prunes and pin deletions against a
plain model, with every listing compared after each step."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import pinyard
from tests.backends._servers import Azurite, MotoServer, unique_name
from tests.boards.test_state_machine import BoardModel

#: the emulator each machine writes to (set by the fixture before the machine runs)
SERVERS: dict[str, Any] = {}
SMALL = settings(max_examples=6, stateful_step_count=10, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


class _RemoteModel(BoardModel):
    protocol = "s3"

    def __init__(self) -> None:
        super().__init__()  # a memory board first; replaced by a remote one
        server = SERVERS[self.protocol]
        bucket = server.make_bucket(unique_name("state-machine"))
        self.cache = tempfile.mkdtemp(prefix="pinyard-sm-cache-")
        self.board = pinyard.board(
            f"{self.protocol}://{bucket}/board", cache=pinyard.Cache(self.cache),
            **server.storage_options(),
        )  # fmt: skip

    def teardown(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)
        super().teardown()


class S3BoardModel(_RemoteModel):
    protocol = "s3"


class AzureBoardModel(_RemoteModel):
    protocol = "az"


@pytest.fixture(autouse=True)
def _servers(moto_server: MotoServer, azurite: Azurite, azure_fast_retry: None) -> Iterator[None]:
    SERVERS.update(s3=moto_server, az=azurite)
    yield
    SERVERS.clear()


TestS3BoardModel = S3BoardModel.TestCase
TestS3BoardModel.settings = SMALL
TestAzureBoardModel = AzureBoardModel.TestCase
TestAzureBoardModel.settings = SMALL
