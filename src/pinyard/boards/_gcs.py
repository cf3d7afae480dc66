"""GCS requests gcsfs does not make the way pinyard needs.

`list_keys`: every object name under a prefix from a given name on
(``startOffset``), asking for names only (``fields``), in one page chain.
`object_exists`: one metadata GET (gcsfs' ``exists`` also lists the name as a
folder when the object is missing, or even when it is there).
"""

from __future__ import annotations

from typing import Any


def list_keys(fs: Any, path: str, start: str | None = None) -> list[str]:
    """Every object name under ``path`` (bucket/prefix), relative to it and sorted, from
    ``start`` (relative, inclusive) on."""
    bucket, key, _ = fs.split_path(path)
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    query: dict[str, Any] = {"prefix": prefix, "fields": "items(name),nextPageToken"}
    if start:
        query["startOffset"] = prefix + start

    async def pages() -> list[str]:
        found: list[str] = []
        token = None
        while True:
            page = await fs._call(
                "GET", "b/{}/o", bucket, json_out=True, maxResults=1000, pageToken=token, **query
            )
            found += [str(item["name"])[len(prefix) :] for item in page.get("items", [])]
            token = page.get("nextPageToken")
            if not token:
                return found

    from fsspec.asyn import sync

    found: list[str] = sync(fs.loop, pages)
    return found


async def object_exists(fs: Any, path: str) -> bool:
    """True if the object exists (one metadata GET). Runs on ``fs.loop``."""
    bucket, key, _ = fs.split_path(path)
    try:
        await fs._call("GET", "b/{}/o/{}", bucket, key, json_out=True, fields="name")
    except FileNotFoundError:
        return False
    return True
