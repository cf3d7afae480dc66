"""S3 requests s3fs does not make the way pinyard needs.

`list_folder`: one delimited LIST chain, with no follow-up request when empty;
`list_keys`: one undelimited chain of the keys that start with a name prefix;
`object_exists`: one HEAD.

`download`: one GET streamed to a local file in 8 MiB blocks, the next block
read while the current one is hashed and written (s3fs reads 64 KiB at a
time and leaves hashing to a second pass over the file).

`put_exclusive`: one object sent from a local file in a single PutObject,
created exclusively, with the SHA-256 the first pass took: S3 checks the body
against it, so the request is not signed with a second hash of the body
(botocore would read the body again for that), and a retry that finds the object
tells our own earlier attempt from another writer's by that checksum.

`MultipartUpload`: one object written as a multipart upload straight from a
producer, created exclusively.

The bytes written are copied once, into the part being filled, and each
full part is sent as a stream, `IN_FLIGHT` at a time (aiohttp would copy a
bytes body twice more); no temporary object, no s3fs buffer. Memory is
about ``(IN_FLIGHT + 1) * part size``. Until `MultipartUpload.complete` nothing is
visible under the key. Completing sends ``If-None-Match: *``, so an existing
object is never replaced. If the answer to that request is lost and the
retry finds the object, its ETag is compared with the one these parts make
(md5 of the parts' md5s): equal means the object is ours.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hashlib
import io
from collections.abc import Callable
from typing import Any, BinaryIO

from pinyard.boards._blocks import BlockUpload
from pinyard.boards._hashing import FileDigest, HashingWriter

MIB = 1024 * 1024
PART_BYTES = 8 * MIB
MAX_PARTS = 10_000  # S3's limit
IN_FLIGHT = 2
DOWNLOAD_BLOCK = 8 * MIB


def list_folder(fs: Any, path: str) -> list[tuple[str, bool]]:
    """(name, is folder) of each child of ``path`` (bucket/prefix): one delimited LIST
    chain, nothing else (s3fs follows an empty listing with more requests)."""
    bucket, key, _ = fs.split_path(path)
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    found: list[tuple[str, bool]] = []
    marks: dict[str, str] = {}
    while True:
        page = fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, Delimiter="/", **marks)
        found += [
            (p["Prefix"][len(prefix) :].rstrip("/"), True) for p in page.get("CommonPrefixes", [])
        ]
        found += [(o["Key"][len(prefix) :], False) for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return [(name, is_dir) for name, is_dir in found if name]
        marks = {"ContinuationToken": page["NextContinuationToken"]}


async def list_keys(fs: Any, path: str, name_prefix: str = "") -> list[str]:
    """Every key under ``path`` (bucket/prefix) whose name there starts with
    ``name_prefix``, relative to ``path``: one undelimited LIST chain. Runs on
    ``fs.loop``."""
    bucket, key, _ = fs.split_path(path)
    prefix = f"{key.strip('/')}/" if key.strip("/") else ""
    marks: dict[str, str] = {}
    found: list[str] = []
    while True:
        page = await fs._call_s3(
            "list_objects_v2", Bucket=bucket, Prefix=prefix + name_prefix, **marks
        )
        found += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return found
        marks = {"ContinuationToken": page["NextContinuationToken"]}


async def object_exists(fs: Any, path: str) -> bool:
    """True if the object exists: one HEAD (s3fs' ``exists`` also lists the key as a
    folder when it is missing). Runs on ``fs.loop``."""
    bucket, key, _ = fs.split_path(path)
    try:
        await fs._call_s3("head_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return False
    return True


def download(
    fs: Any, path: str, local: str, progress: Callable[[int], object] | None = None
) -> FileDigest:
    """Stream ``path`` (bucket/key) to the file ``local`` in one GET; its digest
    (``progress(nbytes)`` is called as blocks arrive)."""
    bucket, key, _ = fs.split_path(path)

    async def open_body() -> Any:
        await _own_request(fs, bucket)
        return (await fs._call_s3("get_object", Bucket=bucket, Key=key))["Body"]

    async def block(body: Any) -> bytes:
        parts, n = [], 0
        while n < DOWNLOAD_BLOCK:
            chunk = await body.read(DOWNLOAD_BLOCK - n)
            if not chunk:
                break
            parts.append(chunk)
            n += len(chunk)
        return b"".join(parts)

    body = asyncio.run_coroutine_threadsafe(open_body(), fs.loop).result()
    ahead = asyncio.run_coroutine_threadsafe(block(body), fs.loop)
    try:
        with open(local, "wb") as out:
            writer = HashingWriter(out.write, DOWNLOAD_BLOCK)
            with writer:
                while data := ahead.result():
                    ahead = asyncio.run_coroutine_threadsafe(block(body), fs.loop)
                    writer.write(data)
                    if progress is not None:
                        progress(len(data))
    finally:
        ahead.cancel()
        with contextlib.suppress(BaseException):
            ahead.result(timeout=30)

        async def close() -> None:
            body.close()

        asyncio.run_coroutine_threadsafe(close(), fs.loop).result()
    return writer.digest


#: Set while pinyard sends a request of its own (see `_own_request`).
_OWN_BODY: contextvars.ContextVar[bool] = contextvars.ContextVar("pinyard_own_body", default=False)


def call_with_body(fs: Any, method: str, **kwargs: Any) -> dict[str, Any]:
    """``fs.call_s3(method, **kwargs)`` for a PutObject or UploadPart whose ``Body`` is a
    seekable stream of the whole body from offset 0.

    The body is rewound before every attempt (s3fs retries some failures by
    calling again with the same, partly read, stream: botocore would then send
    its rest only), and a PutObject carrying ``ChecksumSHA256`` is not signed
    with a hash of its body (see `_skip_payload_hash`).
    """

    async def run() -> dict[str, Any]:
        await _own_request(fs, kwargs.get("Bucket"))
        return dict(await fs._call_s3(method, **kwargs))

    return asyncio.run_coroutine_threadsafe(run(), fs.loop).result()


async def _own_request(fs: Any, bucket: str | None) -> None:
    """Mark the current task as sending pinyard's own request: the handlers below act
    on it only (other users of the shared s3fs client are untouched)."""
    await fs.set_session()
    events = (await fs.get_s3(bucket)).meta.events
    for op in ("PutObject", "UploadPart"):
        events.register(f"before-parameter-build.s3.{op}", _rewind, unique_id=f"pinyard-{op}")
    events.register("before-sign.s3.PutObject", _skip_payload_hash, unique_id="pinyard-sign")
    events.register("before-call.s3.GetObject", _skip_response_hash, unique_id="pinyard-get")
    _OWN_BODY.set(True)


def _rewind(params: dict[str, Any], **_: Any) -> None:
    if _OWN_BODY.get() and hasattr(params.get("Body"), "seek"):
        params["Body"].seek(0)


def _skip_response_hash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """`download` hashes what it receives (sha256, checked against data.txt): botocore
    need not hash it again to check a checksum the object carries (it would, in the
    event loop, for objects sent by `put_exclusive`)."""
    if _OWN_BODY.get():
        context.get("checksum", {}).pop("response_algorithms", None)
        params.get("headers", {}).pop("x-amz-checksum-mode", None)


def _skip_payload_hash(request: Any, **_: Any) -> None:
    """Sign a checksummed PutObject with ``UNSIGNED-PAYLOAD``: the signed
    ``x-amz-checksum-sha256`` header binds the body already (S3 rejects a body that
    does not match it), and botocore would otherwise read the whole body once more to
    hash it into the signature (over plain http always; over https too when the
    caller gives the checksum)."""
    if not (_OWN_BODY.get() and "x-amz-checksum-sha256" in request.headers):
        return
    config = request.context.get("client_config")  # a botocore Config
    if config is not None:
        s3 = {**(config.s3 or {}), "payload_signing_enabled": False}
        request.context["client_config"] = config.merge(type(config)(s3=s3))


def put_exclusive(fs: Any, call: Any, bucket: str, key: str, body: BinaryIO, sha256: str) -> bool:
    """Upload the whole seekable file ``body``, whose SHA-256 (hex) is ``sha256``, to a
    new object in one PutObject; True if this call created it, FileExistsError if
    another is there.

    ``call(what, fn)`` runs one request with the store's retries and error
    translation. The body is read as it is sent (bounded memory) and left open.
    """
    checksum = base64.b64encode(bytes.fromhex(sha256)).decode()

    def put() -> None:
        call_with_body(
            fs,
            "put_object",
            Bucket=bucket,
            Key=key,
            Body=body,
            IfNoneMatch="*",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )

    try:
        call("uploading", put)
    except FileExistsError:
        # A lost answer whose retry found the object: ours if it has our checksum
        # (or another writer's identical bytes: then not ours to take back, hence False).
        if _existing_checksum(fs, call, bucket, key) != checksum:
            raise FileExistsError(f"{bucket}/{key}") from None
        return False
    return True


def _existing_checksum(fs: Any, call: Any, bucket: str, key: str) -> str | None:
    """The full-object SHA-256 checksum S3 keeps for ``key`` (None if absent or none)."""

    def head() -> dict[str, Any]:
        return dict(fs.call_s3("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED"))

    try:
        found = call("checking", head).get("ChecksumSHA256")
    except FileNotFoundError:
        return None
    return str(found) if found else None


def part_size_for(size: int) -> int:
    """Parts of at least `PART_BYTES`, whole MiB, few enough for ``size`` bytes."""
    needed = -(-size // MAX_PARTS)
    return max(PART_BYTES, -(-needed // MIB) * MIB)


class MultipartUpload(BlockUpload[dict[str, Any]]):
    """An S3 multipart upload completed exclusively (``If-None-Match: *``).

    ``call(what, fn)`` runs one request with the store's retries and error
    translation; ``fs`` is an ``s3fs.S3FileSystem``.
    """

    def __init__(self, fs: Any, call: Any, bucket: str, key: str, size: int) -> None:
        self._fs, self._call, self._bucket, self._key = fs, call, bucket, key
        created = self._request("uploading", "create_multipart_upload", Bucket=bucket, Key=key)
        self._upload_id = str(created["UploadId"])
        super().__init__(part_size_for(size), IN_FLIGHT)

    def _request(self, what: str, method: str, **kwargs: Any) -> dict[str, Any]:
        if "Body" in kwargs:
            return dict(self._call(what, lambda: call_with_body(self._fs, method, **kwargs)))
        return dict(self._call(what, lambda: self._fs.call_s3(method, **kwargs)))

    def _send(self, number: int, block: io.BytesIO) -> dict[str, Any]:
        out = self._request(
            "uploading",
            "upload_part",
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=block,  # a stream: aiohttp would copy a bytes body twice
        )
        return {"PartNumber": number, "ETag": out["ETag"]}

    def _commit(self) -> bool:
        etag = _multipart_etag([p["ETag"] for p in self._sent])
        try:
            self._request(
                "uploading",
                "complete_multipart_upload",
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._sent},
                IfNoneMatch="*",
            )
        except (FileExistsError, FileNotFoundError):
            # A lost answer whose retry found the object (or the upload gone): the
            # bytes are ours if it carries our ETag (or another writer's identical
            # parts: then it is not ours to take back, hence False).
            if etag is None or self._existing_etag() != etag:
                raise FileExistsError(f"{self._bucket}/{self._key}") from None
            return False
        return True

    def _existing_etag(self) -> str | None:
        try:
            head = self._request("checking", "head_object", Bucket=self._bucket, Key=self._key)
        except FileNotFoundError:
            return None
        return str(head.get("ETag", "")).strip('"')

    def _discard(self) -> None:
        """Abort the multipart upload: S3 drops the parts sent."""
        with contextlib.suppress(Exception):
            self._fs.call_s3(
                "abort_multipart_upload",
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
            )


def _multipart_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives an object completed from parts with these ETags (None when
    they are not md5 digests, as with some server-side encryption)."""
    try:
        digests = b"".join(bytes.fromhex(e.strip('"')) for e in part_etags)
    except ValueError:
        return None
    return f"{hashlib.md5(digests).hexdigest()}-{len(part_etags)}"  # noqa: S324 - S3's rule
