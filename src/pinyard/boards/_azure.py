"""Azure Blob requests adlfs does not make the way pinyard needs.

`BlockListUpload`: one blob written straight from a producer as blocks staged on
its final name, then committed exclusively (Put Block List with
``If-None-Match: *``). Uncommitted blocks are listed by no ordinary listing, so
nothing is visible under the name until the commit; Azure drops them when
another writer commits that name, or after a week. An existing blob is never
replaced (409 BlobAlreadyExists). The blob carries the file's sha256 as
metadata: if the answer to the commit is lost and the retry finds the blob,
equal metadata means our bytes (or another writer's identical ones).

`wait_for_copy`: adlfs starts a server-side copy and returns; this waits until
Azure reports it finished.

Each full block is sent as it fills, `IN_FLIGHT` at a time, so memory is about
``(IN_FLIGHT + 1) * BLOCK_BYTES`` (blocks grow past 390 GiB).
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from typing import Any

from pinyard.boards._blocks import BlockUpload
from pinyard.errors import StorageError

BLOCK_BYTES = 8 * 1024 * 1024
MAX_BLOCKS = 50_000  # Azure's limit per blob
IN_FLIGHT = 2
SHA256_KEY = "pinyard_sha256"  # blob metadata


class BlockListUpload(BlockUpload[str]):
    """Blocks staged on the blob's name, committed with ``If-None-Match: *``.

    ``call(what, fn)`` runs one request with the store's retries and error
    translation; ``fs`` is an ``adlfs.AzureBlobFileSystem``.
    """

    def __init__(
        self, fs: Any, call: Any, container: str, blob: str, size: int, sha256: str
    ) -> None:
        self._fs, self._call, self._sha256 = fs, call, sha256
        self._client = fs.service_client.get_container_client(container).get_blob_client(blob)
        self._url = f"{container}/{blob}"
        super().__init__(max(BLOCK_BYTES, -(-size // MAX_BLOCKS)), IN_FLIGHT)

    def _run(self, what: str, make: Any) -> Any:
        """Run the coroutine ``make()`` on adlfs' loop, Azure's errors as the store's."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
        from fsspec.asyn import sync

        def run() -> Any:
            try:
                return sync(self._fs.loop, make)
            except ResourceExistsError:
                raise FileExistsError(self._url) from None
            except ResourceNotFoundError:
                raise FileNotFoundError(self._url) from None

        return self._call(what, run)

    def _send(self, number: int, block: io.BytesIO) -> str:
        data = block.getvalue()
        block_id = base64.b64encode(uuid.uuid4().hex.encode()).decode()
        self._run("uploading", lambda: self._client.stage_block(block_id, data, len(data)))
        return block_id

    def _commit(self) -> bool:
        from azure.core import MatchConditions

        try:
            self._run(
                "uploading",
                lambda: self._client.commit_block_list(
                    self._sent,
                    match_condition=MatchConditions.IfMissing,
                    metadata={SHA256_KEY: self._sha256},
                ),
            )
        except FileExistsError:
            if self._existing_sha256() != self._sha256:
                raise
            return False  # ours (a lost answer) or identical bytes: not ours to remove
        return True

    def _existing_sha256(self) -> str | None:
        try:
            props = self._run("checking", self._client.get_blob_properties)
        except FileNotFoundError:
            return None
        return (props.metadata or {}).get(SHA256_KEY)

    # abort: the staged blocks stay uncommitted (invisible; Azure drops them)


def wait_for_copy(fs: Any, target: str, url: str, timeout_s: float = 600.0) -> None:
    """adlfs starts a copy and returns; block until Azure reports it finished."""
    from fsspec.asyn import sync

    container, blob, _ = fs.split_path(target)

    async def wait() -> str:
        import asyncio

        client = fs.service_client.get_container_client(container).get_blob_client(blob)
        deadline = time.monotonic() + timeout_s
        while True:
            props = await client.get_blob_properties()
            status = getattr(props.copy, "status", None)
            if status in (None, "success") or time.monotonic() > deadline:
                return str(status)
            if status in ("failed", "aborted"):
                return str(status)
            await asyncio.sleep(0.2)

    status = sync(fs.loop, wait)
    if status not in ("None", "success"):
        raise StorageError(f"server-side copy to {url} ended as {status!r}; nothing was published")
