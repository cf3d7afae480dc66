"""The board contract suite on S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pinyard
from pinyard.boards._remote import RemoteStore
from pinyard.testing import BoardTests
from tests.backends.conftest import Bucket


def open_board(bucket: Bucket, tmp_path: Path, prefix: str = "team") -> pinyard.Board:
    return pinyard.board(
        f"{bucket.url}/{prefix}",
        cache=pinyard.Cache(tmp_path / "cache"),
        **bucket.storage_options,
    )


class _RemoteBoardTests(BoardTests):
    def overwrite(self, board: pinyard.Board, path: str, data: bytes) -> None:
        assert isinstance(board.store, RemoteStore)
        board.store.fs.pipe_file(board.store.abs(path), data)


class TestS3Board(_RemoteBoardTests):
    @pytest.fixture
    def board(self, s3_bucket: Bucket, tmp_path: Path) -> pinyard.Board:
        return open_board(s3_bucket, tmp_path)


class TestAzureBoard(_RemoteBoardTests):
    @pytest.fixture
    def board(self, azure_container: Bucket, tmp_path: Path) -> pinyard.Board:
        return open_board(azure_container, tmp_path)


class TestGcsBoard(_RemoteBoardTests):
    @pytest.fixture
    def board(self, gcs_bucket: Bucket, tmp_path: Path) -> pinyard.Board:
        return open_board(gcs_bucket, tmp_path)


def open_pins_board(bucket: Bucket, tmp_path: Path) -> pinyard.Board:
    """A plain pins board (pin folders at its root, as R pins and pins-python write)."""
    return pinyard.board_pins(
        f"{bucket.url}/pins-board", cache=pinyard.Cache(tmp_path / "cache"),
        **bucket.storage_options,
    )  # fmt: skip


class TestPinsS3Board(_RemoteBoardTests):
    @pytest.fixture
    def board(self, s3_bucket: Bucket, tmp_path: Path) -> pinyard.Board:
        return open_pins_board(s3_bucket, tmp_path)


class TestPinsAzureBoard(_RemoteBoardTests):
    @pytest.fixture
    def board(self, azure_container: Bucket, tmp_path: Path) -> pinyard.Board:
        return open_pins_board(azure_container, tmp_path)


class TestPinsGcsBoard(_RemoteBoardTests):
    @pytest.fixture
    def board(self, gcs_bucket: Bucket, tmp_path: Path) -> pinyard.Board:
        return open_pins_board(gcs_bucket, tmp_path)
