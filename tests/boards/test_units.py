"""Version ids and the streaming hasher, checked in isolation (names: test_names.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from pinyard.boards._hashing import HashingWriter, combined_pin_hash, digest_bytes
from pinyard.boards._versions import next_version_id


def test_version_ids_move_forward_within_a_second() -> None:
    now = datetime(2026, 11, 27, 11, 0, 0, 500, tzinfo=UTC)
    first = next_version_id(now, "fffff00000000000", None)
    assert first == "20261127T110000Z-fffff"
    second = next_version_id(now, "00000fffffffffff", first)
    assert second == "20261127T110001Z-00000"
    third = next_version_id(now, "aaaaa00000000000", second)
    assert first < second < third
    assert next_version_id(now, "ffffff", "20261127T105959Z-00000") == first


@given(st.lists(st.binary(max_size=600_000), max_size=6))
def test_hashing_writer_matches_one_shot_digests(chunks: list[bytes]) -> None:
    received = bytearray()
    writer = HashingWriter(received.extend)
    with writer:
        for chunk in chunks:
            assert writer.write(bytearray(chunk)) == len(chunk)
    whole = b"".join(chunks)
    assert bytes(received) == whole
    assert writer.digest.sha256 == hashlib.sha256(whole).hexdigest()
    assert writer.digest.xxh64 == xxhash.xxh64(whole).hexdigest()
    assert writer.digest == digest_bytes(whole)


def test_hashing_writer_owns_reused_buffers() -> None:
    received: list[bytes] = []
    writer = HashingWriter(lambda b: received.append(bytes(b)))
    buffer = bytearray(b"a" * 1_000_000)
    with writer:
        writer.write(buffer)
        buffer[:] = b"b" * 1_000_000  # the caller reuses its buffer at once
        writer.write(buffer)
    assert b"".join(received) == b"a" * 1_000_000 + b"b" * 1_000_000


def test_hashing_writer_reports_sink_failure() -> None:
    def failing_sink(_: object) -> None:
        raise OSError(28, "No space left on device")

    def write_through(writer: HashingWriter) -> None:
        with writer:
            for _ in range(4):
                writer.write(b"x" * 2_000_000)

    with pytest.raises(OSError, match="No space"):
        write_through(HashingWriter(failing_sink))


def test_combined_hash_follows_pins_python() -> None:
    parts = ["0123456789abcdef", "fedcba9876543210"]
    expected = xxhash.xxh64("".join(parts).encode()).hexdigest()
    assert combined_pin_hash(parts) == expected
    assert combined_pin_hash(parts[:1]) == parts[0]
