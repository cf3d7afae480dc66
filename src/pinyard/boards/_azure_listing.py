"""Azure Blob listings and checks in one request where adlfs makes two.

adlfs' ``ls`` first lists the path without its trailing slash (to tell a file
from a folder), ``find`` first asks for the path as a blob, and ``exists`` of a
missing blob lists its name as a folder too. pinyard knows what it asks for:
`list_folder` is one delimited listing chain, `list_keys` one flat one, and
`blob_exists` one HEAD.
"""

from __future__ import annotations

from typing import Any


def _split(fs: Any, path: str) -> tuple[Any, str]:
    container, key, _ = fs.split_path(path)
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    return fs.service_client.get_container_client(container), prefix


def list_folder(fs: Any, path: str) -> list[tuple[str, bool]]:
    """(name, is folder) of each child of ``path`` (container/prefix)."""
    client, prefix = _split(fs, path)

    async def walk() -> list[tuple[str, bool]]:
        found = []
        async for item in client.walk_blobs(name_starts_with=prefix, delimiter="/"):
            name = str(item.name)[len(prefix) :]
            found.append((name.rstrip("/"), name.endswith("/")))
        return found

    listed: list[tuple[str, bool]] = _run(fs, walk)
    return listed


async def list_keys(fs: Any, path: str, name_prefix: str = "") -> list[str]:
    """Every blob under ``path`` whose name there starts with ``name_prefix``, relative to
    ``path``: one flat listing chain. Runs on ``fs.loop``."""
    from azure.core.exceptions import ResourceNotFoundError

    client, prefix = _split(fs, path)
    try:
        return [
            str(b.name)[len(prefix) :]
            async for b in client.list_blobs(name_starts_with=prefix + name_prefix)
        ]
    except ResourceNotFoundError as exc:  # the container
        raise FileNotFoundError(str(exc)) from None


async def blob_exists(fs: Any, path: str) -> bool:
    """True if the blob exists (one HEAD). Runs on ``fs.loop``."""
    container, key, _ = fs.split_path(path)
    blob = fs.service_client.get_container_client(container).get_blob_client(key)
    return bool(await blob.exists())


def _run(fs: Any, make: Any) -> Any:
    from azure.core.exceptions import ResourceNotFoundError
    from fsspec.asyn import sync

    try:
        return sync(fs.loop, make)
    except ResourceNotFoundError as exc:  # the container
        raise FileNotFoundError(str(exc)) from None
