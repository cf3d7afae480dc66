"""GCS requests gcsfs does not make the way pinyard needs.

`list_keys`: every object name under a prefix that starts with a name prefix,
asking for names only (``fields``), in one page chain.
`object_exists`: one metadata GET (gcsfs' ``exists`` also lists the name as a
folder when the object is missing, or even when it is there).
"""

from __future__ import annotations

from typing import Any


async def list_keys(fs: Any, path: str, name_prefix: str = "") -> list[str]:
    """Every object name under ``path`` (bucket/prefix) that starts there with
    ``name_prefix``, relative to ``path``. Runs on ``fs.loop``."""
    bucket, key, _ = fs.split_path(path)
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    query: dict[str, Any] = {"prefix": prefix + name_prefix, "fields": "items(name),nextPageToken"}
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


async def object_exists(fs: Any, path: str) -> bool:
    """True if the object exists (one metadata GET). Runs on ``fs.loop``."""
    bucket, key, _ = fs.split_path(path)
    try:
        await fs._call("GET", "b/{}/o/{}", bucket, key, json_out=True, fields="name")
    except FileNotFoundError:
        return False
    return True
