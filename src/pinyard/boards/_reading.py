"""Verified reads: every byte is checked against its recorded digest before use."""

from __future__ import annotations

import os
import uuid
import warnings
from typing import BinaryIO

from pinyard.boards._hashing import FileDigest, combined_pin_hash, digest_stream
from pinyard.boards._meta import PinMeta
from pinyard.boards._store import Store
from pinyard.errors import IntegrityError, UnverifiedVersionWarning

_XXH64_HEX_LEN = 16


def check_file(meta: PinMeta, index: int, digest: FileDigest) -> None:
    """Raise `IntegrityError` unless file ``index`` of a pinyard version has ``digest``."""
    record = meta.files[index]
    if digest.sha256 != record.sha256 or digest.size != record.size:
        raise IntegrityError(
            f"pin {meta.name!r} version {meta.version} file {record.name!r} is corrupt: "
            f"expected sha256 {record.sha256} ({record.size} bytes), "
            f"read sha256 {digest.sha256} ({digest.size} bytes). "
            "The stored bytes changed after they were written; restore them from a "
            "backup or delete this version."
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
                f"pin {meta.name!r} version {meta.version} file {meta.file[0]!r} is corrupt: "
                f"expected xxh64 {expected} (pin_hash), read {actual}."
            )
        raise IntegrityError(
            f"pin {meta.name!r} version {meta.version} files {list(meta.file)} are corrupt: "
            f"expected combined xxh64 {expected} (pin_hash), computed {actual}."
        )
    warnings.warn(
        f"pin {meta.name!r} version {meta.version} was written by pins with a pin_hash "
        f"({expected or 'none'}) pinyard cannot recompute; its files are read unverified. "
        "Import it into a pinyard board (pinyard import-pins) to record sha256 digests.",
        UnverifiedVersionWarning,
        stacklevel=4,
    )
    return False


def verify_version(store: Store, version_dir: str, meta: PinMeta) -> bool:
    """Hash every file of a version and check it; returns True when verified."""
    digests = []
    for index, file_name in enumerate(meta.file):
        with store.open_read(f"{version_dir}/{file_name}") as stream:
            digest = digest_stream(stream)
        if meta.written_by_pinyard:
            check_file(meta, index, digest)
        digests.append(digest)
    return meta.written_by_pinyard or check_pins_hash(meta, digests)


def verified_stream_digest(meta: PinMeta, index: int, stream: BinaryIO) -> bool:
    """Hash an open file of a version, check it, and rewind it for reading."""
    digest = digest_stream(stream)
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
