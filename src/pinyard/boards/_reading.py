"""Verified reads: every byte is checked against its recorded digest before use."""

from __future__ import annotations

import functools
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pinyard.boards._cache import Cache
from pinyard.boards._hashing import FileDigest, combined_pin_hash, digest_stream
from pinyard.boards._meta import PinMeta, parse_data_txt
from pinyard.boards._progress import Progress
from pinyard.boards._store import Store
from pinyard.errors import IntegrityError, MetadataError, UnverifiedVersionWarning

log = logging.getLogger("pinyard")

_XXH64_HEX_LEN = 16
#: Files above this are downloaded to disk in one request, then hashed there.
LARGE_FILE_BYTES = 8 * 1024 * 1024


def check_file(meta: PinMeta, index: int, digest: FileDigest) -> None:
    """Raise `IntegrityError` unless file ``index`` of a pinyard version has ``digest``.

    Cached copies that fail are dropped and fetched again before this can reach the
    caller, so what it reports is always the board's own copy."""
    record = meta.files[index]
    if digest.sha256 != record.sha256 or digest.size != record.size:
        raise IntegrityError(
            f"pin {meta.name!r} version {meta.version} file {record.name!r} is corrupt on "
            f"the board: expected sha256 {record.sha256} ({record.size} bytes), "
            f"read sha256 {digest.sha256} ({digest.size} bytes). "
            "The stored bytes changed after they were written; restore the file from a "
            "backup, or delete this version if none exists."
        )


def check_pins_hash(meta: PinMeta, digests: list[FileDigest]) -> bool:
    """Check a version written by pins (no sha256) against its ``pin_hash``.

    Returns True when verified. Raises `IntegrityError` on a mismatch that the
    pins rules make certain; returns False (after a warning) when the hash
    cannot be recomputed from Python (R's multi-file hashes, odd lengths).
    """
    expected = meta.pin_hash.lower()
    if len(expected) == _XXH64_HEX_LEN:
        actual = combined_pin_hash([d.xxh64 for d in digests])
        if actual == expected:
            return True
        if len(digests) == 1:
            raise IntegrityError(
                f"pin {meta.name!r} version {meta.version} file {meta.file_names[0]!r} is "
                f"corrupt: expected xxh64 {expected} (pin_hash), read {actual}."
            )
        raise IntegrityError(
            f"pin {meta.name!r} version {meta.version} files {list(meta.file_names)} are corrupt: "
            f"expected combined xxh64 {expected} (pin_hash), computed {actual}."
        )
    old = meta.api_version == 0  # pins' old format records no hash at all
    warnings.warn(
        f"pin {meta.name!r} version {meta.version} is in pins' old format, which records no "
        "hash; its files are read unverified. Write it again to give it one."
        if old
        else f"pin {meta.name!r} version {meta.version} was written by pins with a pin_hash "
        f"({expected or 'none'}) pinyard cannot recompute; its files are read unverified. "
        "Import it into a pinyard board (pinyard import-pins) to record sha256 digests.",
        UnverifiedVersionWarning,
        stacklevel=4,
    )
    return False


def verify_version(store: Store, version_dir: str, meta: PinMeta) -> bool:
    """Hash every file of a version and check it; returns True when verified."""
    digests = []
    for index, file_name in enumerate(meta.file_names):
        with store.open_read(f"{version_dir}/{file_name}") as stream:
            digest = digest_stream(stream, with_xxh64=not meta.written_by_pinyard)
        if meta.written_by_pinyard:
            check_file(meta, index, digest)
        digests.append(digest)
    return meta.written_by_pinyard or check_pins_hash(meta, digests)


def verified_stream_digest(meta: PinMeta, index: int, stream: BinaryIO) -> bool:
    """Hash an open file of a version, check it, and rewind it for reading."""
    digest = digest_stream(stream, with_xxh64=not meta.written_by_pinyard)
    stream.seek(0)
    if meta.written_by_pinyard:
        check_file(meta, index, digest)
        return True
    return check_pins_hash(meta, [digest])


def copy_verified(store: Store, src: str, dest: str, meta: PinMeta, index: int) -> FileDigest:
    """Copy one file of a version to a local path; the file appears only once verified."""
    from pinyard.boards._hashing import HashingWriter

    tmp = f"{dest}.{uuid.uuid4().hex}.part"
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    try:
        with open(tmp, "wb") as out, store.open_read(src) as stream:
            writer = HashingWriter(out.write)
            with writer:
                while chunk := stream.read(8 * 1024 * 1024):
                    writer.write(chunk)
        digest = writer.digest
        if meta.written_by_pinyard:
            check_file(meta, index, digest)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return digest


def _pins_check(meta: PinMeta) -> Callable[[FileDigest], None]:
    """The per-file check for a version written by pins (single files only)."""

    def check(digest: FileDigest) -> None:
        if len(meta.file_names) == 1:
            check_pins_hash(meta, [digest])

    return check


@contextmanager
def open_verified(
    store: Store,
    cache: Cache | None,
    meta: PinMeta,
    version_dir: str,
    index: int,
    *,
    progress: bool = False,
) -> Iterator[tuple[BinaryIO, bool]]:
    """An open, verified, seekable stream over file ``index`` of a version, and
    whether it verified (False only for pins hashes pinyard cannot recompute).
    ``progress``: draw a progress line while a large file downloads."""
    path = f"{version_dir}/{meta.file_names[index]}"
    if cache is None or not store.needs_cache:
        with store.open_read(path) as stream:
            verified = verified_stream_digest(meta, index, stream)
            yield stream, verified
        return
    target, fresh = _fetch(
        store,
        cache,
        meta,
        version_dir,
        index,
        verify_hit=False,
        keep_open=True,
        progress=progress,
    )
    if fresh is not None:  # just downloaded and checked on the way: these very bytes
        with fresh:
            yield fresh, True
        return
    opened = _open_checked(meta, index, target)
    if opened is None:  # the cached copy went bad since it was stored: fetch it again
        target = fetch_to_cache(store, cache, meta, version_dir, index, verify_hit=False)
        opened = _open_checked(meta, index, target)
    if opened is None:
        raise IntegrityError(
            f"pin {meta.name!r} version {meta.version}: the cached copy {target} fails its "
            "check again right after being fetched; another process may be writing the cache"
        )
    stream, verified = opened
    with stream:
        yield stream, verified


def _open_checked(meta: PinMeta, index: int, target: Path) -> tuple[BinaryIO, bool] | None:
    """Open a cache entry and verify it through the same handle (one hash per read);
    None, after removing it, if it no longer verifies."""
    try:
        stream = open(target, "rb")  # noqa: SIM115 - handed to the caller
    except FileNotFoundError:  # evicted by another process meanwhile
        return None
    try:
        return stream, verified_stream_digest(meta, index, stream)
    except IntegrityError:
        stream.close()
        target.unlink(missing_ok=True)
        return None
    except BaseException:
        stream.close()
        raise


def fetch_to_cache(
    store: Store,
    cache: Cache,
    meta: PinMeta,
    version_dir: str,
    index: int,
    *,
    verify_hit: bool = True,
    progress: bool = False,
) -> Path:
    """The cached local copy of one file of a version, fetched and verified if absent
    (``progress``: with a progress line while a large file downloads)."""
    return _fetch(
        store, cache, meta, version_dir, index, verify_hit=verify_hit, progress=progress
    )[0]


def _fetch(
    store: Store,
    cache: Cache,
    meta: PinMeta,
    version_dir: str,
    index: int,
    *,
    verify_hit: bool,
    keep_open: bool = False,
    progress: bool = False,
) -> tuple[Path, BinaryIO | None]:
    """`fetch_to_cache`; with ``keep_open``, a large pinyard-written file that had to be
    downloaded also comes back open (checked as it was downloaded), else None."""
    path = f"{version_dir}/{meta.file_names[index]}"
    check: Callable[[FileDigest], None]
    if meta.written_by_pinyard:
        target = cache.blob_path(meta.files[index].sha256)
        check = functools.partial(check_file, meta, index)
    else:
        target = cache.location_path(f"{store.url}/{path}")
        check = _pins_check(meta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedVersionWarning)  # warned once, by the caller
        if not verify_hit and target.exists():
            return target, None
        hit = cache.lookup(target, check)
        if hit is not None:
            return hit, None
        size = meta.file_sizes[index] if index < len(meta.file_sizes) else None
        if size is not None and size > LARGE_FILE_BYTES:
            meter = Progress(f"downloading {meta.file_names[index]}", progress)
            counted = meter.advance if progress else None
            try:
                _, handle = cache.store_file(
                    target,
                    lambda local: store.download(path, local, counted),
                    check,
                    keep_open=keep_open and meta.written_by_pinyard,
                )
            finally:
                meter.close()
            return target, handle
        with store.open_read(path, size) as source:
            cache.store(target, source, check)
    return target, None


def read_meta(store: Store, cache: Cache | None, name: str, version: str, path: str) -> PinMeta:
    """Parse a version's data.txt, from the cache when the store is remote (immutable).

    A cached copy that fails its parse or digest is dropped, with a warning, and the
    board's copy fetched once: only the board's copy failing is raised, naming it.
    """
    raw, meta = _fetch_meta(store, cache, name, version, path)
    if meta is not None:
        return meta
    assert cache is not None  # only a cached copy comes back unparsed
    try:
        return parse_data_txt(raw, name, version, f"the cached copy of {store.url}/{path}")
    except (MetadataError, IntegrityError) as exc:
        log.warning("%s; dropping the cached copy and fetching the board's again", exc)
        cache.drop_meta(store.url, name, version)
    raw, meta = _fetch_meta(store, cache, name, version, path)
    assert meta is not None  # just fetched, so parsed
    return meta


def read_meta_bytes(
    store: Store, cache: Cache | None, name: str, version: str, path: str
) -> bytes:
    """A version's data.txt as stored, from the cache when the store is remote (not
    parsed when nothing is cached: the caller wants the bytes, e.g. to hash them)."""
    if cache is None or not store.needs_cache:
        return store.read_bytes(path)
    return _fetch_meta(store, cache, name, version, path)[0]


def _fetch_meta(
    store: Store, cache: Cache | None, name: str, version: str, path: str
) -> tuple[bytes, PinMeta | None]:
    """The data.txt bytes, and their parse when they were fetched (only a valid one is
    cached, so a cached copy comes back unparsed)."""
    use_cache = cache is not None and store.needs_cache
    raw = cache.get_meta(store.url, name, version) if cache is not None and use_cache else None
    if raw is not None:
        return raw, None
    raw = store.read_bytes(path)
    where = f"the board's copy, {store.url}/{path}" if use_cache else f"{store.url}/{path}"
    meta = parse_data_txt(raw, name, version, where)
    if cache is not None and use_cache:
        cache.put_meta(store.url, name, version, raw)
    return raw, meta


def verify_version_files(meta: PinMeta, paths: list[str]) -> bool:
    """Check local copies of a pins-written version's files against its ``pin_hash``."""
    digests = []
    for path in paths:
        with open(path, "rb") as f:
            digests.append(digest_stream(f))
    return check_pins_hash(meta, digests)
