"""The local cache of remote boards: verified entries, LRU bound, shared safely."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest

import pinyard
from pinyard import errors
from pinyard.boards._hashing import FileDigest
from pinyard.cli import main


def sha_check(expected: str):  # type: ignore[no-untyped-def]
    def check(digest: FileDigest) -> None:
        if digest.sha256 != expected:
            raise errors.IntegrityError(f"expected {expected}, read {digest.sha256}")

    return check


def put(cache: pinyard.Cache, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    target = cache.blob_path(sha)
    cache.store(target, io.BytesIO(data), sha_check(sha))
    return target


def test_entry_appears_only_when_verified(tmp_path: Path) -> None:
    cache = pinyard.Cache(tmp_path)
    target = cache.blob_path("0" * 64)
    with pytest.raises(errors.IntegrityError):
        cache.store(target, io.BytesIO(b"not those bytes"), sha_check("0" * 64))
    assert not target.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_hit_is_rehashed_and_a_corrupt_entry_is_dropped(tmp_path: Path) -> None:
    cache = pinyard.Cache(tmp_path)
    target = put(cache, b"payload")
    check = sha_check(hashlib.sha256(b"payload").hexdigest())
    assert cache.lookup(target, check) == target
    target.write_bytes(b"paylaod")
    assert cache.lookup(target, check) is None
    assert not target.exists()


def test_prune_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = pinyard.Cache(tmp_path, max_bytes=10_000)
    old, mid, new = (put(cache, bytes([i]) * 3000) for i in range(3))
    now = time.time()
    os.utime(old, (now - 300, now - 300))
    os.utime(mid, (now - 200, now - 200))
    os.utime(new, (now - 100, now - 100))
    cache.lookup(old, sha_check(hashlib.sha256(bytes([0]) * 3000).hexdigest()))  # used: newest
    freed = cache.prune(6000)
    assert freed == 3000
    assert (old.exists(), mid.exists(), new.exists()) == (True, False, True)
    assert cache.info().entries == 2
    assert cache.prune(0) == 6000
    assert cache.info().bytes == 0


def test_store_keeps_the_cache_within_its_bound(tmp_path: Path) -> None:
    cache = pinyard.Cache(tmp_path, max_bytes=5000)
    for i in range(4):
        put(cache, bytes([i]) * 2000)
        time.sleep(0.01)
    assert cache.info().bytes <= 5000


def test_bad_bounds_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="positive"):
        pinyard.Cache(tmp_path, max_bytes=0)
    monkeypatch.setenv("PINYARD_CACHE_MAX_BYTES", "lots")
    with pytest.raises(errors.InvalidArgumentError, match="PINYARD_CACHE_MAX_BYTES"):
        pinyard.Cache(tmp_path)


def test_cache_location_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINYARD_CACHE_DIR", str(tmp_path / "c"))
    assert pinyard.Cache().root == tmp_path / "c"


def test_cli_cache_info_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = pinyard.Cache(tmp_path)
    put(cache, b"a" * 100)
    put(cache, b"b" * 100)
    assert main(["cache", "info", "--cache-dir", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["entries"], info["bytes"]) == (2, 200)
    assert (
        main(["cache", "prune", "--max-bytes", "0", "--cache-dir", str(tmp_path), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["freed_bytes"] == 200
