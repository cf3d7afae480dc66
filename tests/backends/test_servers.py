"""The emulators start, and the exclusive-create facts pinyard relies on hold through
fsspec; the fault proxy forwards, counts and injects faults the clients survive."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from tests.backends._proxy import FaultProxy
from tests.backends._servers import Azurite, FakeGcs, MotoServer
from tests.backends.conftest import Bucket

# --------------------------------------------------------------------------------------
# The servers start and serve the client library
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["s3_bucket", "azure_container", "gcs_bucket"])
def test_emulator_round_trip(fixture: str, request: pytest.FixtureRequest) -> None:
    bucket: Bucket = request.getfixturevalue(fixture)
    assert bucket.server.running
    assert bucket.server.base_url.startswith("http://127.0.0.1:")
    data = os.urandom(100_000)
    bucket.fs.pipe_file(bucket.path("dir/blob.bin"), data)
    assert bucket.fs.cat_file(bucket.path("dir/blob.bin")) == data
    assert bucket.fs.info(bucket.path("dir/blob.bin"))["size"] == len(data)
    assert bucket.fs.ls(bucket.path("dir"), detail=False) == [bucket.path("dir/blob.bin")]


def test_each_test_gets_a_fresh_bucket(s3_bucket: Bucket, moto_server: MotoServer) -> None:
    assert s3_bucket.fs.ls(s3_bucket.root) == []
    other = moto_server.make_bucket()
    assert other != s3_bucket.name
    assert s3_bucket.url == f"s3://{s3_bucket.name}"


def test_storage_options_build_a_working_filesystem(
    s3_bucket: Bucket, azure_container: Bucket, gcs_bucket: Bucket
) -> None:
    import adlfs
    import gcsfs
    import s3fs

    for bucket, cls in (
        (s3_bucket, s3fs.S3FileSystem),
        (azure_container, adlfs.AzureBlobFileSystem),
        (gcs_bucket, gcsfs.GCSFileSystem),
    ):
        fs = cls(**bucket.storage_options, skip_instance_cache=True)
        fs.pipe_file(bucket.path("k"), b"v")
        assert bucket.fs.cat_file(bucket.path("k")) == b"v"


def test_startup_failure_reports_captured_output(tmp_path: object) -> None:
    from tests.backends._servers import EmulatorStartError, _SubprocessServer

    class Broken(_SubprocessServer):
        name = "broken"

        def _command(self, port: int) -> list[str]:
            return ["sh", "-c", "echo 'cannot bind: boom' >&2; exit 3"]

    with pytest.raises(EmulatorStartError, match=r"(?s)exited with code 3.*cannot bind: boom"):
        Broken(startup_timeout=5).start()


def test_startup_timeout_reports_captured_output() -> None:
    from tests.backends._servers import EmulatorStartError, _SubprocessServer

    class Silent(_SubprocessServer):
        name = "silent"

        def _command(self, port: int) -> list[str]:
            return ["sh", "-c", "echo 'still warming up' >&2; exec sleep 30"]

    with pytest.raises(EmulatorStartError, match=r"(?s)within 1 s.*still warming up"):
        Silent(startup_timeout=1).start()


# --------------------------------------------------------------------------------------
# S3 (moto + s3fs)
# --------------------------------------------------------------------------------------


def test_s3_pipe_file_create_is_exclusive(s3_bucket: Bucket) -> None:
    fs, p = s3_bucket.fs, s3_bucket.path("pin/data.bin")
    fs.pipe_file(p, b"first", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(p, b"second", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(p, b"", mode="create")
    assert fs.cat_file(p) == b"first"


def test_s3_open_xb_with_data_is_exclusive(s3_bucket: Bucket) -> None:
    fs, p = s3_bucket.fs, s3_bucket.path("k")
    fs.pipe_file(p, b"old")
    with pytest.raises(FileExistsError), fs.open(p, "xb") as f:
        f.write(b"new")
    assert fs.cat_file(p) == b"old"


def test_s3_trap_open_xb_with_zero_bytes_overwrites(s3_bucket: Bucket) -> None:
    """The s3fs trap: an EMPTY "xb" write skips the condition and truncates the key, so
    pinyard must never rely on open(..., "xb") for exclusivity on S3."""
    fs, p = s3_bucket.fs, s3_bucket.path("k")
    fs.pipe_file(p, b"precious")
    with fs.open(p, "xb"):
        pass  # no error raised...
    assert fs.cat_file(p) == b""  # ...and the existing object is gone


# --------------------------------------------------------------------------------------
# Azure (Azurite + adlfs)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), [(b"first", b"second"), (b"first", b""), (b"", b"x")])
def test_azure_pipe_file_create_is_exclusive(
    azure_container: Bucket, old: bytes, new: bytes
) -> None:
    fs, p = azure_container.fs, azure_container.path("pin/data.bin")
    fs.pipe_file(p, old, mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(p, new, mode="create")
    assert fs.cat_file(p) == old


def test_azure_open_xb_is_exclusive_even_when_empty(azure_container: Bucket) -> None:
    fs, p = azure_container.fs, azure_container.path("k")
    fs.pipe_file(p, b"old")
    with pytest.raises(FileExistsError), fs.open(p, "xb"):
        pass
    assert fs.cat_file(p) == b"old"


# --------------------------------------------------------------------------------------
# GCS (fake-gcs-server + gcsfs)
# --------------------------------------------------------------------------------------


def test_gcs_pipe_file_create_is_exclusive(gcs_bucket: Bucket) -> None:
    fs, p = gcs_bucket.fs, gcs_bucket.path("pin/data.bin")
    fs.pipe_file(p, b"first", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(p, b"second", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(p, b"", mode="create")
    assert fs.cat_file(p) == b"first"


def test_gcs_trap_resumable_open_xb_overwrites(gcs_bucket: Bucket) -> None:
    """The gcsfs trap: a resumable "xb" upload (more than one block) ignores
    exclusivity and replaces the object; pipe_file(mode="create") must be used."""
    fs, p = gcs_bucket.fs, gcs_bucket.path("k")
    fs.pipe_file(p, b"precious")
    block = 256 * 1024  # GCS resumable chunks are multiples of 256 KiB
    data = os.urandom(3 * block + 123)
    with fs.open(p, "xb", block_size=block) as f:  # no error raised...
        f.write(data)
    assert fs.cat_file(p) == data  # ...and the existing object was replaced


def test_gcs_trap_small_and_empty_open_xb_overwrite_too(gcs_bucket: Bucket) -> None:
    """Beyond the resumable case: through gcsfs a single-block "xb" write (simple
    upload) and an empty one also replace an existing object without an error."""
    fs, p = gcs_bucket.fs, gcs_bucket.path("k")
    fs.pipe_file(p, b"precious")
    with fs.open(p, "xb") as f:
        f.write(b"small")
    assert fs.cat_file(p) == b"small"
    with fs.open(p, "xb"):
        pass
    assert fs.cat_file(p) == b""


# --------------------------------------------------------------------------------------
# The fault proxy
# --------------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "fixture", ["s3_bucket_via_proxy", "azure_container_via_proxy", "gcs_bucket_via_proxy"]
)
def test_proxy_forwards_and_counts(fixture: str, request: pytest.FixtureRequest) -> None:
    bucket: Bucket = request.getfixturevalue(fixture)
    proxy = bucket.proxy
    assert proxy is not None
    data = os.urandom(3 * 2**20 + 7)  # large enough to stream in several chunks
    with proxy.measure() as write:
        bucket.fs.pipe_file(bucket.path("a/b c+d.bin"), data)  # a key that needs quoting
    with proxy.measure() as read:
        assert bucket.fs.cat_file(bucket.path("a/b c+d.bin")) == data
    assert write.total >= 1
    assert read.by_method["GET"] >= 1
    assert write.faults == read.faults == {}
    stats = proxy.stats()
    assert stats["requests"] == sum(stats["by_method"].values()) >= write.total + read.total
    assert stats["faults"] == {}
    assert stats["forwarded"] == stats["requests"]
    # what went through the proxy is what the server holds
    direct = bucket.server.filesystem()
    assert _sha(direct.cat_file(bucket.path("a/b c+d.bin"))) == _sha(data)


def test_proxy_counts_requests_per_operation_on_s3(s3_bucket_via_proxy: Bucket) -> None:
    fs, proxy = s3_bucket_via_proxy.fs, s3_bucket_via_proxy.proxy
    assert proxy is not None
    with proxy.measure() as w:
        fs.pipe_file(s3_bucket_via_proxy.path("k"), b"x" * 100, mode="create")
    assert w.by_method == {"PUT": 1}
    assert w.records[0].path.endswith("/k")
    assert w.records[0].status == 200
    with proxy.measure() as w:
        fs.ls(s3_bucket_via_proxy.root)
    assert w.by_method == {"GET": 1}
    assert "list-type=2" in w.records[0].query


FAULT_CASES = [
    pytest.param("error", {"status": 503}, id="503"),
    pytest.param("error", {"status": 500}, id="500"),
    pytest.param("drop_before", {}, id="drop_before"),
    pytest.param("drop_after", {}, id="drop_after"),
    pytest.param("truncate", {}, id="truncate"),
]


@pytest.mark.parametrize("fixture", ["s3_bucket_via_proxy", "azure_container_via_proxy"])
@pytest.mark.parametrize(("kind", "kwargs"), FAULT_CASES)
def test_proxy_fault_on_read_is_retried(
    fixture: str, kind: str, kwargs: dict[str, int], request: pytest.FixtureRequest
) -> None:
    bucket: Bucket = request.getfixturevalue(fixture)
    proxy = bucket.proxy
    assert proxy is not None
    data = os.urandom(200_000)
    p = bucket.path("k")
    bucket.fs.pipe_file(p, data)
    proxy.fail_next(kind, methods="GET", **kwargs)
    with proxy.measure() as w:
        assert bucket.fs.cat_file(p) == data  # retried, and the bytes are whole
    assert w.faults == {kind: 1}
    assert w.by_method["GET"] >= 2
    assert proxy.faults()[kind] == 1


@pytest.mark.parametrize("fixture", ["s3_bucket_via_proxy", "azure_container_via_proxy"])
# (a PUT answer has no body, so "truncate" does not apply; "drop_after" is the next test)
@pytest.mark.parametrize(("kind", "kwargs"), FAULT_CASES[:3])
def test_proxy_fault_on_create_is_retried(
    fixture: str, kind: str, kwargs: dict[str, int], request: pytest.FixtureRequest
) -> None:
    bucket: Bucket = request.getfixturevalue(fixture)
    proxy = bucket.proxy
    assert proxy is not None
    p = bucket.path("k")
    proxy.fail_next(kind, methods="PUT", **kwargs)
    with proxy.measure() as w:
        bucket.fs.pipe_file(p, b"payload", mode="create")
    assert w.by_method["PUT"] == 2
    assert w.faults == {kind: 1}
    assert bucket.server.filesystem().cat_file(p) == b"payload"


@pytest.mark.parametrize("fixture", ["s3_bucket_via_proxy", "azure_container_via_proxy"])
def test_lost_response_exclusive_create_surfaces_as_file_exists(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """BACKENDS.md's lost-response trap: the upstream stored the object, the answer was
    lost, the client's retry then finds its own object and raises FileExistsError. The
    caller must compare digests to tell "my earlier attempt" from "someone else's"."""
    bucket: Bucket = request.getfixturevalue(fixture)
    proxy = bucket.proxy
    assert proxy is not None
    data = os.urandom(50_000)
    p = bucket.path("pin/v1/data.bin")
    proxy.fail_next("drop_after", methods="PUT")
    with proxy.measure() as w, pytest.raises(FileExistsError):
        bucket.fs.pipe_file(p, data, mode="create")
    assert w.faults == {"drop_after": 1}
    assert w.by_method["PUT"] == 2  # the first attempt (answer lost) and the retry
    assert _sha(bucket.server.filesystem().cat_file(p)) == _sha(data)  # it is ours


def test_proxy_delay(s3_bucket_via_proxy: Bucket) -> None:
    fs, proxy = s3_bucket_via_proxy.fs, s3_bucket_via_proxy.proxy
    assert proxy is not None
    fs.pipe_file(s3_bucket_via_proxy.path("k"), b"v")
    proxy.set_faults(delay_s=0.3, methods="GET")
    t0 = time.monotonic()
    with proxy.measure() as w:
        assert fs.cat_file(s3_bucket_via_proxy.path("k")) == b"v"
    assert time.monotonic() - t0 >= 0.3
    assert w.faults == {"delay": w.by_method["GET"]}
    proxy.clear_faults()
    with proxy.measure() as w:
        fs.cat_file(s3_bucket_via_proxy.path("k"))
    assert w.faults == {}


def test_proxy_random_faults_are_seeded_and_capped() -> None:
    def draws(seed: int) -> list[str | None]:
        proxy = FaultProxy("http://127.0.0.1:9", seed=seed)  # never started: only draws
        proxy.set_faults(error_rate=0.2, drop_before=0.1, drop_after=0.1, truncate_rate=0.1)
        return [proxy._choose("PUT", f"/b/k{i}")[1] for i in range(200)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    counts = {k: first.count(k) for k in ("error", "drop_before", "drop_after", "truncate")}
    assert 20 <= counts["error"] <= 60  # 20 % of 200
    assert all(5 <= counts[k] <= 40 for k in ("drop_before", "drop_after", "truncate"))

    proxy = FaultProxy("http://127.0.0.1:9", seed=1)
    proxy.set_faults(error_rate=1.0, max_faults=2, methods=["PUT"])
    kinds = [proxy._choose(m, "/b/k")[1] for m in ("GET", "PUT", "PUT", "PUT")]
    assert kinds == [None, "error", "error", None]
    with pytest.raises(ValueError, match="add up"):
        proxy.set_faults(error_rate=0.7, drop_after=0.5)


@pytest.mark.parametrize("fixture", ["s3_bucket_via_proxy", "azure_container_via_proxy"])
def test_random_faults_writes_complete_or_are_ours_reads_verify(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Under a seeded mix of every fault, an exclusive create either succeeds, or raises
    FileExistsError with our own bytes stored (lost response), or raises another error
    and leaves nothing; a read returns the exact bytes or raises."""
    bucket: Bucket = request.getfixturevalue(fixture)
    proxy = bucket.proxy
    assert proxy is not None
    proxy.set_faults(error_rate=0.1, drop_before=0.1, drop_after=0.1, truncate_rate=0.1, seed=3)
    direct = bucket.server.filesystem()
    outcomes: dict[str, int] = {"ok": 0, "lost_response": 0, "failed": 0, "read_error": 0}
    unread: dict[str, bytes] = {}
    for i in range(12):
        p = bucket.path(f"v{i}")
        data = os.urandom(20_000 + i)
        try:
            bucket.fs.pipe_file(p, data, mode="create")
            outcomes["ok"] += 1
        except FileExistsError:
            assert _sha(direct.cat_file(p)) == _sha(data)
            outcomes["lost_response"] += 1
        except OSError:  # retries exhausted: nothing, or our own bytes, is stored
            assert not direct.exists(p) or _sha(direct.cat_file(p)) == _sha(data)
            outcomes["failed"] += 1
            continue
        try:
            assert bucket.fs.cat_file(p) == data
        except OSError:
            outcomes["read_error"] += 1
            unread[p] = data
    faults = proxy.faults()
    proxy.clear_faults()
    assert set(faults) == {"error", "drop_before", "drop_after", "truncate"}, faults
    assert outcomes["ok"] + outcomes["lost_response"] + outcomes["failed"] == 12, outcomes
    assert outcomes["ok"] + outcomes["lost_response"] >= 6, outcomes
    # a read that failed failed in transit: the stored object is whole
    assert {p: _sha(direct.cat_file(p)) for p in unread} == {p: _sha(d) for p, d in unread.items()}


def test_gcs_error_through_proxy_is_retried(gcs_bucket_via_proxy: Bucket) -> None:
    fs, proxy = gcs_bucket_via_proxy.fs, gcs_bucket_via_proxy.proxy
    assert proxy is not None
    p = gcs_bucket_via_proxy.path("k")
    proxy.fail_next("error", methods="POST", status=503)
    fs.pipe_file(p, b"payload", mode="create")
    proxy.fail_next("error", methods="GET", status=503)
    assert fs.cat_file(p) == b"payload"
    assert proxy.faults() == {"error": 2}


def test_server_classes_expose_client_settings(
    moto_server: MotoServer, azurite: Azurite, fake_gcs: FakeGcs
) -> None:
    """Each server's settings point at that running server (its own port answers), and
    the environment the clients need was set before they were imported."""
    import urllib.error
    import urllib.request

    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"
    endpoints = [
        moto_server.storage_options()["endpoint_url"],
        azurite.storage_options()["connection_string"].split("BlobEndpoint=")[1].split(";")[0],
        fake_gcs.storage_options()["endpoint_url"],
    ]
    for server, endpoint in zip((moto_server, azurite, fake_gcs), endpoints, strict=True):
        assert f":{server.port}" in endpoint
        assert server.running
        try:
            with urllib.request.urlopen(endpoint, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:  # an emulator's 4xx still answers
            status = exc.code
        assert status < 500
        assert 0 < server.startup_seconds < 30
