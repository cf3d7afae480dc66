"""Remote boards beyond the contract: requests per operation, large files, faults,
lost responses, concurrent processes, killed writers and clear errors."""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import io
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

import pinyard
from pinyard import errors
from tests.backends._servers import AZURITE_ACCOUNT, AZURITE_KEY
from tests.backends.conftest import Bucket

BACKENDS = ["s3_bucket", "azure_container", "gcs_bucket"]
PROXIED = ["s3_bucket_via_proxy", "azure_container_via_proxy", "gcs_bucket_via_proxy"]


def open_board(bucket: Bucket, tmp_path: Path, **kwargs: Any) -> pinyard.Board:
    """A board on ``bucket`` with a cache of its own; it may unpickle (these tests are about
    storage; tests/boards/test_pickle_reads.py has the refusals)."""
    kwargs.setdefault("allow_pickle_read", True)
    return pinyard.board(
        f"{bucket.url}/team",
        cache=pinyard.Cache(tmp_path / f"cache-{time.monotonic_ns()}"),
        **bucket.storage_options,
        **kwargs,
    )


# -- requests per operation (S3, counted at the proxy) ------------------------------------


def test_s3_request_counts_meet_the_goals(s3_bucket_via_proxy: Bucket, tmp_path: Path) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"warm": "up"}, "obj")  # the pin's first write may probe its folder
    with bucket.proxy.measure() as write:
        meta = board.pin_write({"k": 1}, "obj")
    assert write.total <= 4, write.by_method
    reader = open_board(bucket, tmp_path)  # a colleague with a cold cache
    with bucket.proxy.measure() as cold:
        assert reader.pin_read("obj", version=meta.version) == {"k": 1}
    assert cold.total <= 2, cold.by_method
    with bucket.proxy.measure() as warm:
        assert reader.pin_read("obj", version=meta.version) == {"k": 1}
    assert warm.total == 0, warm.by_method
    fresh = open_board(bucket, tmp_path)
    with bucket.proxy.measure() as latest:
        assert fresh.pin_read("obj") == {"k": 1}
    assert latest.by_method["GET"] <= 3  # one LIST (a GET) + data.txt + data
    assert latest.total <= 3, latest.by_method


def _many_versions(bucket: Bucket, board: pinyard.Board, n: int) -> list[str]:
    """``n`` committed versions of pin "obj" made directly (data.txt and data file each),
    older than one real version; all version ids, sorted."""
    meta = board.pin_write({"k": 0}, "obj")
    raw = board.store.read_bytes(f"pins/obj/{meta.version}/data.txt")
    data = board.store.read_bytes(f"pins/obj/{meta.version}/obj.json")
    base = f"{bucket.name}/team/pins/obj"
    ids = [f"20200101T{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}Z-abcde" for i in range(n)]
    bucket.fs.pipe(
        {f"{base}/{v}/{f}": b for v in ids for f, b in [("data.txt", raw), ("obj.json", data)]}
    )
    return [*ids, meta.version]


@pytest.mark.parametrize("backend", PROXIED)
def test_listing_many_versions_is_two_requests_once_indexed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A delimited LIST of the pin's folder and one GET of its listing index, whatever the
    number of versions; the first listing (no index yet) lists every object once."""
    bucket: Bucket = request.getfixturevalue(backend)
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    versions = _many_versions(bucket, board, 150)
    with bucket.proxy.measure() as first:  # delimited LIST, GET index (404), LIST, PUT index
        assert [v.version for v in board.pin_versions("obj", as_df=False)] == versions
    assert first.total == 4, first.by_method
    assert first.by_method["PUT"] + first.by_method["POST"] == 1, first.by_method
    colleague = open_board(bucket, tmp_path)  # another machine: no local state is used
    with bucket.proxy.measure() as later:
        listed = colleague.pin_versions("obj", as_df=False)
    assert [v.version for v in listed] == versions
    assert later.total == 2, later.by_method
    assert later.by_method == {"GET": 2}, later.by_method


@pytest.mark.parametrize("backend", PROXIED)
def test_a_first_listing_lists_the_folders_in_pieces_at_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no index yet, the folders the delimited LIST found are listed in pieces that
    share a name prefix, several chains at once; a folder without data.txt and one that
    is not a version stay out, on every backend."""
    from pinyard.boards import _listing

    monkeypatch.setattr(_listing, "PIECE", 16)  # pieces of 16 folders, not 400
    bucket: Bucket = request.getfixturevalue(backend)
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    versions = _many_versions(bucket, board, 150)
    orphan = "20200101T000100Z-fffff"  # a write cut short among them: no data.txt
    board.store.write_exclusive(f"pins/obj/{orphan}/obj.json", b"{}")
    board.store.write_exclusive("pins/obj/notes/readme.txt", b"not a version")
    pieces = _listing.name_prefixes(sorted([*versions, orphan]))
    assert 2 < len(pieces) <= _listing.MAX_PIECES
    with bucket.proxy.measure() as first:
        assert [v.version for v in board.pin_versions("obj", as_df=False)] == versions
    # the delimited LIST, the index GET (404), one chain per piece, the index PUT
    assert first.total == 2 + len(pieces) + 1, first.by_method
    index = board.store.read_bytes("index/obj.txt").decode()
    assert orphan not in index
    assert all(v in index for v in versions)


@pytest.mark.parametrize("backend", PROXIED)
def test_listing_checks_folders_the_index_does_not_name(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """New folders are checked for data.txt (a HEAD each when few): a folder without one
    is never listed, and is listed once its data.txt is there."""
    bucket: Bucket = request.getfixturevalue(backend)
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    versions = _many_versions(bucket, board, 40)
    board.pin_versions("obj")  # writes the index
    new = board.pin_write({"k": 1}, "obj").version
    pending = "20990101T000000Z-fffff"  # a write in progress: data, no data.txt yet
    board.store.write_exclusive(f"pins/obj/{pending}/obj.json", b"{}")
    with bucket.proxy.measure() as listing:
        listed = [v.version for v in board.pin_versions("obj", as_df=False)]
    assert listed == [*versions, new]
    paths = [unquote(r.path) for r in listing.records]
    checks = sorted(v for v in (new, pending) for p in paths if p.endswith(f"{v}/data.txt"))
    assert checks == [new, pending], listing.records  # one request for each new folder
    assert listing.total == 5, listing.by_method  # LIST, GET index, 2 checks, PUT index
    with bucket.proxy.measure() as again:  # the pending folder is checked every time
        assert [v.version for v in board.pin_versions("obj", as_df=False)] == listed
    assert again.total == 3, again.by_method  # nothing new for the index: not written
    raw = board.store.read_bytes(f"pins/obj/{new}/data.txt")
    board.store.write_exclusive(f"pins/obj/{pending}/data.txt", raw)
    assert [v.version for v in board.pin_versions("obj", as_df=False)][-1] == pending


@pytest.mark.parametrize("backend", BACKENDS)
def test_versions_pins_python_writes_and_deletes_behind_the_index_are_listed_right(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The index names only what pinyard's listings saw. Versions the real pins-python
    writes afterwards are found (a check each when few, undelimited listings of them
    when many), a folder without data.txt among them is not listed, and a
    version pins-python deletes is gone from the listing."""
    import pins

    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)
    ours = _many_versions(bucket, board, 20)
    board.pin_versions("obj")  # writes the index
    theirs = pins.board(bucket.protocol, bucket.path("team", "pins"),
                        storage_options=bucket.storage_options, cache=None)  # fmt: skip

    def listed() -> list[str]:
        fresh = open_board(bucket, tmp_path)  # another machine: nothing cached
        return [v.version for v in fresh.pin_versions("obj", as_df=False)]

    def pins_writes(start: int, n: int) -> list[str]:
        # pins-python 0.9.2 leaves files open while writing (ResourceWarning); not ours.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", ResourceWarning)
            written = [theirs.pin_write({"k": start + i}, "obj", type="json") for i in range(n)]
            gc.collect()
        return [meta.version.version for meta in written]

    few = pins_writes(100, 2)
    assert listed() == sorted([*ours, *few])
    many = pins_writes(200, 20)
    orphan = "20200101T120000Z-fffff"  # among them: a pins write cut short, no data.txt
    bucket.fs.pipe(bucket.path("team", "pins", "obj", orphan, "obj.json"), b"{}")
    assert listed() == sorted([*ours, *few, *many])
    theirs.pin_version_delete("obj", ours[3])
    theirs.pin_version_delete("obj", many[0])
    assert listed() == sorted({*ours, *few, *many} - {ours[3], many[0]})
    index = board.store.read_bytes("index/obj.txt").decode()
    assert orphan not in index
    assert ours[3] not in index  # the listing that saw it gone wrote the index again


@pytest.mark.parametrize("backend", BACKENDS)
def test_deleted_versions_leave_the_index(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)
    versions = _many_versions(bucket, board, 30)
    board.pin_versions("obj")
    assert board.pin_versions_prune("obj", n=10) == versions[:-10]
    index = board.store.read_bytes("index/obj.txt").decode()
    assert not any(v in index for v in versions[:-10])
    # A folder the index still names but whose data.txt is gone, left by a deletion
    # that was cut short, is what the index cannot see; pinyard deletes data.txt only
    # after taking the version out of the index.
    assert [v.version for v in board.pin_versions("obj", as_df=False)] == versions[-10:]
    board.pin_delete("obj")
    assert not board.store.exists("index/obj.txt")
    with pytest.raises(errors.PinNotFoundError):
        board.pin_versions("obj")


def test_latest_of_many_versions_is_one_delimited_list_and_skips_uncommitted(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    old = board.pin_write({"k": 0}, "obj")
    raw = board.store.read_bytes(f"pins/obj/{old.version}/data.txt")
    fs, base = bucket.fs, f"{bucket.name}/team/pins/obj"
    fs.pipe(
        {f"{base}/20200101T00{i // 60:02d}{i % 60:02d}Z-abcde/data.txt": raw for i in range(150)}
    )
    # The newest folder holds a data file but no data.txt: a write in progress or killed.
    fs.pipe_file(f"{base}/20990101T000000Z-fffff/obj.json", b'{"k": "uncommitted"}')
    reader = open_board(bucket, tmp_path)
    with bucket.proxy.measure() as latest:
        assert reader.pin_read("obj") == {"k": 0}
    lists = [r for r in latest.records if "list-type=" in r.query]
    assert len(lists) == 1, lists
    assert "delimiter=%2F" in lists[0].query
    gets = [(r.path.rsplit("/", 2)[-2], r.status) for r in latest.records if r not in lists]
    assert gets == [("20990101T000000Z-fffff", 404), (old.version, 200), (old.version, 200)]
    assert board.pin_meta("obj").version == old.version
    assert [v.version for v in board.pin_versions("obj", as_df=False)][-1] == old.version
    # A new write sorts after the uncommitted folder, so it is the latest for pins too.
    new = board.pin_write({"k": 1}, "obj")
    assert new.version > "20990101T000000Z-fffff"
    assert open_board(bucket, tmp_path).pin_read("obj") == {"k": 1}


@pytest.mark.parametrize("backend", BACKENDS)
def test_write_meets_an_uncommitted_identical_version_at_its_id(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)
    moment = datetime(2031, 1, 1, tzinfo=UTC)
    first = board.pin_write({"same": "bytes"}, "obj", created=moment)
    data_txt = f"pins/obj/{first.version}/data.txt"
    raw = board.store.read_bytes(data_txt)
    data = board.store.read_bytes(f"pins/obj/{first.version}/obj.json")
    board.store.delete_tree(f"pins/obj/{first.version}")
    board.store.write_exclusive(f"pins/obj/{first.version}/obj.json", data)
    assert board.pin_list() == ["obj"]  # pin folders are listed, not checked
    with pytest.raises(errors.PinNotFoundError):
        board.pin_read("obj")
    # Another writer of the same bytes was killed before data.txt: writing them again
    # at the same second publishes at that id instead of moving past it.
    again = board.pin_write({"same": "bytes"}, "obj", created=moment)
    assert again.written
    assert again.version == first.version
    assert board.store.read_bytes(data_txt) != raw  # a new data.txt (its own write time)
    assert open_board(bucket, tmp_path).pin_read("obj") == {"same": "bytes"}
    assert len(board.pin_versions("obj", as_df=False)) == 1


# -- large files ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_files_stream_through_staging(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)
    payload = bytes(range(256)) * (80 * 1024)  # 20 MiB: more than one upload block
    source = tmp_path / "model.bin"
    source.write_bytes(payload)
    meta = board.pin_upload(source, "big")
    assert meta.file_size == len(payload)
    (path,) = open_board(bucket, tmp_path).pin_download("big")
    assert Path(path).read_bytes() == payload
    assert bucket.fs.find(f"{bucket.name}/team/staging") == []


class Restless:
    """Pickles to different bytes every time (a counter), with a payload over 8 MiB."""

    pickled = 0

    def __init__(self, payload: bytes, stamp: int = 0) -> None:
        self.payload, self.stamp = payload, stamp

    def __reduce__(self) -> tuple[Any, tuple[bytes, int]]:
        Restless.pickled += 1
        return (Restless, (self.payload, Restless.pickled))


def _open_uploads(bucket: Bucket) -> list[Any]:
    return list(bucket.fs.call_s3("list_multipart_uploads", Bucket=bucket.name).get("Uploads", []))


MIB = 1024 * 1024


def _stored_checksum(bucket: Bucket, key: str) -> str | None:
    head = bucket.fs.call_s3("head_object", Bucket=bucket.name, Key=key, ChecksumMode="ENABLED")
    return head.get("ChecksumSHA256")


LARGE = bytes(range(256)) * (96 * 1024)  # 24 MiB: three 8 MiB blocks or parts


def upload_large(bucket: Bucket, board: pinyard.Board, tmp_path: Path) -> tuple[Any, Any]:
    """``board.pin_upload`` of a `LARGE` file as pin ``big``: (its meta, the requests)."""
    assert bucket.proxy is not None
    source = tmp_path / "model.bin"
    source.write_bytes(LARGE)
    with bucket.proxy.measure() as write:
        meta = board.pin_upload(source, "big")
    return meta, write


def test_s3_large_write_is_one_exclusive_put_at_its_version(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    board = open_board(bucket, tmp_path)
    meta, write = upload_large(bucket, board, tmp_path)  # under the single-PUT limit
    paths = [r.path for r in write.records]
    assert not [p for p in paths if "/staging/" in p], paths  # no staged copy
    # LIST of the pin's folder, LIST of the pins (a new pin's name is checked for
    # look-alikes), data, data.txt
    assert write.by_method == {"GET": 2, "PUT": 2}, write.by_method
    key = f"team/pins/big/{meta.version}/model.bin"
    assert bucket.fs.cat_file(bucket.path(key)) == LARGE
    # S3 checked the body against the sha256 in data.txt, and keeps it.
    sha256 = base64.b64encode(bytes.fromhex(meta.files[0].sha256)).decode()
    assert _stored_checksum(bucket, key) == sha256
    assert open_board(bucket, tmp_path).pin_download("big") != []
    assert _open_uploads(bucket) == []


def test_s3_write_over_the_single_put_limit_streams_into_a_multipart_upload(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    board = open_board(bucket, tmp_path)
    board.store.single_put_bytes = 16 * MIB  # type: ignore[attr-defined]
    meta, write = upload_large(bucket, board, tmp_path)  # three parts
    paths = [r.path for r in write.records]
    assert not [p for p in paths if "/staging/" in p], paths  # no staged copy
    assert write.by_method["PUT"] == 3 + 1, write.by_method  # parts + data.txt
    assert write.by_method["POST"] == 2, write.by_method  # create, complete
    assert bucket.fs.cat_file(bucket.path("team/pins/big", meta.version, "model.bin")) == LARGE
    assert open_board(bucket, tmp_path).pin_download("big") != []
    assert _open_uploads(bucket) == []


def test_s3_write_goes_multipart_when_it_cannot_spill_to_local_disk(
    s3_bucket_via_proxy: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "no-such-folder"))
    payload = b"\x03" * (10 * MIB)
    with bucket.proxy.measure() as write:
        board.pin_write(payload, "big", type="joblib")
    assert write.by_method["POST"] == 2, write.by_method  # a multipart upload instead
    assert open_board(bucket, tmp_path).pin_read("big") == payload


def test_s3_single_put_never_replaces_an_object(s3_bucket: Bucket, tmp_path: Path) -> None:
    from pinyard.boards._retry import retrying
    from pinyard.boards._s3 import put_exclusive

    key = "team/pins/big/20300101T000000Z-abcde/model.bin"
    s3_bucket.fs.pipe_file(s3_bucket.path(key), b"committed")

    def call(what: str, fn: Any) -> Any:
        return retrying(what, fn, key)

    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"x" * (9 * MIB))
    sha = hashlib.sha256(mine.read_bytes()).hexdigest()
    with mine.open("rb") as body, pytest.raises(FileExistsError):
        put_exclusive(s3_bucket.fs, call, s3_bucket.name, key, body, sha)
    assert s3_bucket.fs.cat_file(s3_bucket.path(key)) == b"committed"
    # The same bytes already there (our earlier attempt, or an identical writer's):
    # present, but not created by this call.
    other = "team/pins/big/20300101T000000Z-abcde/other.bin"
    with mine.open("rb") as body:
        assert put_exclusive(s3_bucket.fs, call, s3_bucket.name, other, body, sha) is True
    with mine.open("rb") as body:
        assert put_exclusive(s3_bucket.fs, call, s3_bucket.name, other, body, sha) is False
    assert s3_bucket.fs.cat_file(s3_bucket.path(other)) == mine.read_bytes()


def test_s3_single_put_is_not_hashed_again_and_other_puts_are_untouched(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    from pinyard.boards._retry import retrying
    from pinyard.boards._s3 import put_exclusive

    fs, sent = s3_bucket.fs, []
    fs.pipe_file(s3_bucket.path("warm"), b"x")  # the client exists
    fs.s3.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(request.headers)
    )
    data = b"y" * (3 * MIB)
    with io.BytesIO(data) as body:
        call = lambda what, fn: retrying(what, fn, "k")  # noqa: E731
        put_exclusive(fs, call, s3_bucket.name, "k", body, hashlib.sha256(data).hexdigest())
    fs.pipe_file(s3_bucket.path("plain"), b"z")  # someone else's PutObject, same client
    ours, plain = (h["X-Amz-Content-SHA256"] for h in sent)
    assert ours == b"UNSIGNED-PAYLOAD"  # bound by the signed x-amz-checksum-sha256
    assert plain == hashlib.sha256(b"z").hexdigest().encode()  # botocore's default


def test_s3_download_leaves_the_checksum_to_its_own_sha256(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    """An object sent by put_exclusive carries a sha256 checksum; botocore would hash
    every download of it a second time to check it."""
    from pinyard.boards._retry import retrying
    from pinyard.boards._s3 import download, put_exclusive

    fs, sent = s3_bucket.fs, []
    data = b"y" * (3 * MIB)
    with io.BytesIO(data) as body:
        call = lambda what, fn: retrying(what, fn, "k")  # noqa: E731
        put_exclusive(fs, call, s3_bucket.name, "k", body, hashlib.sha256(data).hexdigest())
    fs.s3.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: sent.append(request.headers)
    )
    digest = download(fs, s3_bucket.path("k"), str(tmp_path / "k"))
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert fs.cat_file(s3_bucket.path("k")) == data  # someone else's GET, same client
    ours, plain = sent
    assert "x-amz-checksum-mode" not in {k.lower() for k in ours}
    assert plain.get("x-amz-checksum-mode") == b"ENABLED"  # botocore's default


def test_s3_request_body_is_rewound_before_each_attempt(s3_bucket: Bucket) -> None:
    """s3fs retries some failures by calling again with the same, partly read, body."""
    from pinyard.boards._s3 import call_with_body

    body = io.BytesIO(b"0123456789" * 100_000)
    body.read()  # where an earlier, failed attempt leaves it
    call_with_body(s3_bucket.fs, "put_object", Bucket=s3_bucket.name, Key="k", Body=body)
    assert s3_bucket.fs.cat_file(s3_bucket.path("k")) == b"0123456789" * 100_000


def test_s3_multipart_complete_never_replaces_an_object(s3_bucket: Bucket) -> None:
    from pinyard.boards._retry import retrying
    from pinyard.boards._s3 import MultipartUpload

    key = "team/pins/big/20300101T000000Z-abcde/model.bin"
    s3_bucket.fs.pipe_file(s3_bucket.path(key), b"committed")

    def call(what: str, fn: Any) -> Any:
        return retrying(what, fn, key)

    upload = MultipartUpload(s3_bucket.fs, call, s3_bucket.name, key, 9 * 1024 * 1024)
    upload.write(b"x" * (9 * 1024 * 1024))
    with pytest.raises(FileExistsError):
        upload.complete()
    assert s3_bucket.fs.cat_file(s3_bucket.path(key)) == b"committed"
    assert _open_uploads(s3_bucket) == []


@pytest.mark.parametrize("single_put", [True, False])
def test_s3_lost_answer_to_the_creating_request_counts_as_success(
    s3_bucket_via_proxy: Bucket, tmp_path: Path, single_put: bool
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    if not single_put:
        board.store.single_put_bytes = 0  # type: ignore[attr-defined]
    source = tmp_path / "model.bin"
    source.write_bytes(b"\x01" * (12 * MIB))
    if single_put:
        bucket.proxy.fail_next("drop_after", count=1, methods="PUT", path_regex=r"model\.bin")
    else:
        bucket.proxy.fail_next("drop_after", count=1, methods="POST", path_regex=r"\?uploadId=")
    meta = board.pin_upload(source, "big")
    assert bucket.proxy.faults()["drop_after"] == 1
    assert [v.version for v in board.pin_versions("big", as_df=False)] == [meta.version]
    # Recognised as our own: no second attempt under a later id left an orphan folder.
    assert len(bucket.fs.ls(bucket.path("team/pins/big"), refresh=True)) == 1
    (path,) = open_board(bucket, tmp_path).pin_download("big")
    assert Path(path).read_bytes() == source.read_bytes()


def test_s3_large_put_that_fails_for_good_leaves_nothing(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"k": 0}, "obj")
    bucket.proxy.set_faults(error_rate=1.0, methods="PUT", path_regex=r"obj\.joblib")
    with pytest.raises(errors.StorageError, match=r"uploading failed at s3://"):
        board.pin_write(b"\x04" * (10 * MIB), "obj", type="joblib")
    bucket.proxy.clear_faults()
    assert len(board.pin_versions("obj", as_df=False)) == 1
    assert len(bucket.fs.ls(f"{bucket.name}/team/pins/obj", refresh=True)) == 1


def test_s3_object_under_the_limit_is_serialized_once(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    board = open_board(s3_bucket_via_proxy, tmp_path)
    before = Restless.pickled
    board.pin_write(Restless(b"\x02" * (10 * MIB)), "obj", type="joblib")
    assert Restless.pickled == before + 1  # spilled and sent: never produced again
    back = open_board(s3_bucket_via_proxy, tmp_path).pin_read("obj")
    assert back.payload == b"\x02" * (10 * MIB)


@pytest.mark.parametrize("backend", ["s3_bucket_via_proxy", "azure_container_via_proxy"])
def test_object_that_serializes_differently_twice_is_staged_instead(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.store.single_put_bytes = 0  # type: ignore[attr-defined]  # produced again
    with bucket.proxy.measure() as write:
        meta = board.pin_write(Restless(b"\x02" * (10 * MIB)), "obj", type="joblib")
    assert [r for r in write.records if "/staging/" in r.path]  # the fallback ran
    back = open_board(bucket, tmp_path).pin_read("obj")  # verified against data.txt
    assert back.payload == b"\x02" * (10 * MIB)
    assert [v.version for v in board.pin_versions("obj", as_df=False)] == [meta.version]
    assert bucket.fs.find(f"{bucket.name}/team/staging") == []
    if bucket.protocol == "s3":
        assert _open_uploads(bucket) == []


def test_azure_large_write_is_committed_straight_at_its_version(
    azure_container_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = azure_container_via_proxy
    board = open_board(bucket, tmp_path)
    meta, write = upload_large(bucket, board, tmp_path)  # three blocks
    queries = [r.query for r in write.records if r.method == "PUT"]
    assert not [r.path for r in write.records if "/staging/" in r.path]  # no staged copy
    assert sum("comp=block&" in f"{q}&" for q in queries) == 3, queries  # blocks
    assert sum("comp=blocklist" in q for q in queries) == 1, queries  # the commit
    assert not [r for r in write.records if r.method == "DELETE"]
    key = bucket.path("team/pins/big", meta.version, "model.bin")
    assert bucket.fs.cat_file(key) == LARGE
    (path,) = open_board(bucket, tmp_path).pin_download("big")
    assert Path(path).read_bytes() == LARGE


def _azure_upload(bucket: Bucket, blob: str, data: bytes) -> Any:
    from pinyard.boards._azure import BlockListUpload
    from pinyard.boards._retry import retrying

    def call(what: str, fn: Any) -> Any:
        return retrying(what, fn, blob)

    sha = hashlib.sha256(data).hexdigest()
    upload = BlockListUpload(bucket.fs, call, bucket.name, blob, len(data), sha)
    upload.write(data)
    return upload


def test_azure_block_commit_never_replaces_a_blob(azure_container: Bucket) -> None:
    fs, blob = azure_container.fs, "team/pins/big/20300101T000000Z-abcde/model.bin"
    fs.pipe_file(azure_container.path(blob), b"committed")
    with pytest.raises(FileExistsError):
        _azure_upload(azure_container, blob, b"x" * (9 * MIB)).complete()
    assert fs.cat_file(azure_container.path(blob)) == b"committed"
    other = "team/pins/big/20300101T000000Z-abcde/other.bin"
    pending = _azure_upload(azure_container, other, b"y" * (9 * MIB))  # a block staged
    assert not fs.exists(azure_container.path(other))  # invisible until committed
    assert pending.complete() is True
    # Identical bytes already there (our lost earlier commit, or an identical writer's):
    # present, but not created by this call.
    assert _azure_upload(azure_container, other, b"y" * (9 * MIB)).complete() is False
    assert fs.cat_file(azure_container.path(other)) == b"y" * (9 * MIB)


def test_azure_lost_answer_to_the_commit_counts_as_success(
    azure_container_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = azure_container_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    source = tmp_path / "model.bin"
    source.write_bytes(b"\x01" * (12 * MIB))
    bucket.proxy.fail_next("drop_after", count=1, methods="PUT", path_regex=r"comp=blocklist")
    meta = board.pin_upload(source, "big")
    assert bucket.proxy.faults()["drop_after"] == 1
    assert [v.version for v in board.pin_versions("big", as_df=False)] == [meta.version]
    # Recognised as our own: no second attempt under a later id left an orphan folder.
    assert len(bucket.fs.ls(bucket.path("team/pins/big"), refresh=True)) == 1
    (path,) = open_board(bucket, tmp_path).pin_download("big")
    assert Path(path).read_bytes() == source.read_bytes()


def test_s3_large_read_is_checked_as_it_downloads(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    payload = bytes(range(256)) * (48 * 1024)  # 12 MiB: downloaded to the cache, hashed on the way
    meta = board.pin_write(payload, "big", type="joblib")
    reader = open_board(bucket, tmp_path)
    with bucket.proxy.measure() as cold:
        assert reader.pin_read("big") == payload
    assert (cold.total, cold.by_method["GET"]) == (3, 3), cold.by_method  # LIST, data.txt, data
    key = bucket.path("team/pins/big", meta.version, meta.file)
    stored = bytearray(bucket.fs.cat_file(key))
    stored[len(stored) // 2] ^= 1  # one flipped bit, same size
    bucket.fs.pipe_file(key, bytes(stored))
    fresh = open_board(bucket, tmp_path)
    with pytest.raises(errors.IntegrityError, match="corrupt"):
        fresh.pin_read("big")
    assert fresh.cache is not None
    assert not fresh.cache.blob_path(meta.files[0].sha256).exists()


def _race(boards: list[pinyard.Board], payloads: list[bytes]) -> list[pinyard.WriteResult]:
    """Each board writes its payload to pin "big" at once, all stamped the same second."""
    start = threading.Barrier(len(boards))
    moment = datetime(2031, 1, 1, tzinfo=UTC)  # one second for all: ids collide or meet
    results: dict[int, pinyard.WriteResult] = {}

    def write(i: int) -> None:
        start.wait()
        results[i] = boards[i].pin_write(payloads[i], "big", type="joblib", created=moment)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(boards))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results[i] for i in range(len(boards))]


def _large_boards(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, n: int
) -> tuple[Bucket, list[pinyard.Board]]:
    """``n`` boards on one bucket; "s3_multipart": on S3, sending large files multipart."""
    bucket: Bucket = request.getfixturevalue(backend.replace("_multipart", "_bucket"))
    boards = [open_board(bucket, tmp_path) for _ in range(n)]
    if backend == "s3_multipart":
        for board in boards:
            board.store.single_put_bytes = 0  # type: ignore[attr-defined]
    return bucket, boards


@pytest.mark.parametrize("backend", [*BACKENDS, "s3_multipart"])
def test_concurrent_large_writers_lose_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    size = 9 * 1024 * 1024  # over the small-file limit: one PUT or multipart (S3), or staged
    payloads = [bytes([i]) * size for i in range(3)]
    bucket, boards = _large_boards(backend, request, tmp_path, len(payloads))
    results = _race(boards, payloads)
    assert all(r.written for r in results)
    reader = open_board(bucket, tmp_path)
    versions = [v.version for v in reader.pin_versions("big", as_df=False)]
    assert sorted(versions) == sorted(r.version for r in results)
    assert {reader.pin_read("big", version=v) for v in versions} == set(payloads)


@pytest.mark.parametrize("backend", [*BACKENDS, "s3_multipart"])
def test_concurrent_identical_large_writers_meet_at_one_version(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    payload = b"\x07" * (9 * 1024 * 1024)
    bucket, boards = _large_boards(backend, request, tmp_path, 2)
    results = _race(boards, [payload, payload])
    assert sorted(r.written for r in results) == [False, True]
    assert results[0].version == results[1].version
    reader = open_board(bucket, tmp_path)
    assert len(reader.pin_versions("big", as_df=False)) == 1
    assert reader.pin_read("big") == payload


# -- faults, lost responses, races ---------------------------------------------------------


@pytest.mark.parametrize("backend", PROXIED)
def test_faults_never_leave_partial_or_corrupt_versions(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"i": -1}, "obj")
    bucket.proxy.set_faults(
        error_rate=0.08, drop_before=0.04, drop_after=0.04, truncate_rate=0.04, seed=7
    )
    written: dict[str, int] = {}
    failures = 0
    for i in range(12):
        try:
            written[board.pin_write({"i": i}, "obj").version] = i
        except errors.StorageError:
            failures += 1
    bucket.proxy.clear_faults()
    assert sum(bucket.proxy.faults().values()) > 0
    reader = open_board(bucket, tmp_path)
    for info in reader.pin_versions("obj", as_df=False):
        value = reader.pin_read("obj", version=info.version)  # verified, or it raises
        if info.version in written:
            assert value == {"i": written[info.version]}
    assert set(written) <= {v.version for v in reader.pin_versions("obj", as_df=False)}


@pytest.mark.parametrize("backend", PROXIED)
def test_lost_responses_to_exclusive_creates_count_as_success(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"k": 0}, "obj")
    # Both creates of the write (data file, then data.txt) happen, and their answers
    # are lost; each retry finds the object and must recognise it as its own.
    if bucket.protocol == "gs":  # uploads name the object in the body, not the URL
        methods, path = "POST", r"/upload/"
    else:
        methods, path = "PUT", r"/pins/obj/"
    bucket.proxy.fail_next("drop_after", count=2, methods=methods, path_regex=path)
    meta = board.pin_write({"k": 1}, "obj")
    assert meta.written
    assert bucket.proxy.faults()["drop_after"] == 2
    versions = [v.version for v in board.pin_versions("obj", as_df=False)]
    assert versions[-1] == meta.version
    assert open_board(bucket, tmp_path).pin_read("obj") == {"k": 1}


@pytest.mark.parametrize("backend", BACKENDS)
def test_identical_concurrent_writes_give_one_version(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    boards = [open_board(bucket, tmp_path) for _ in range(2)]
    boards[0].pin_write({"seed": 0}, "obj")
    start = threading.Barrier(2)
    results: list[pinyard.WriteResult] = []
    moment = datetime(2031, 1, 1, tzinfo=UTC)  # same second, so the same version id

    def write(board: pinyard.Board) -> None:
        start.wait()
        results.append(board.pin_write({"same": "bytes"}, "obj", created=moment))

    threads = [threading.Thread(target=write, args=(b,)) for b in boards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    assert results[0].version == results[1].version
    assert sorted(r.written for r in results) == [False, True]
    assert len(boards[0].pin_versions("obj", as_df=False)) == 2


def test_empty_exclusive_create_does_not_overwrite(s3_bucket: Bucket, tmp_path: Path) -> None:
    board = open_board(s3_bucket, tmp_path)
    board.store.write_exclusive("probe", b"first")
    with pytest.raises(FileExistsError):
        board.store.write_exclusive("probe", b"")
    assert board.store.read_bytes("probe") == b"first"


# -- many processes ------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import pinyard
    url, options, writer, writes, cache = sys.argv[1:6]
    board = pinyard.board(
        url, cache=pinyard.Cache(cache), allow_pickle_read=True, **json.loads(options)
    )
    for i in range(int(writes)):
        board.pin_write({"writer": int(writer), "i": i}, "shared")
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eight_processes_lose_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)  # creates the board once
    options = json.dumps(bucket.storage_options)
    writers, writes = 8, 25
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                f"{bucket.url}/team",
                options,
                str(w),
                str(writes),
                str(tmp_path / f"cache{w}"),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    outcomes = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        if p.stderr:
            p.stderr.close()
    assert [code for code, _ in outcomes] == [0] * writers, outcomes
    versions = board.pin_versions("shared", as_df=False)
    assert len(versions) == writers * writes
    seen = {_pair(board.pin_read("shared", v.version)) for v in versions}
    assert seen == {(w, i) for w in range(writers) for i in range(writes)}


# -- a killed writer ----------------------------------------------------------------------

BIG_WRITER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import numpy as np
    import pinyard
    url, options, cache = sys.argv[1:4]
    board = pinyard.board(
        url, cache=pinyard.Cache(cache), allow_pickle_read=True, **json.loads(options)
    )
    print("ready", flush=True)
    board.pin_write(np.ones(48 * 1024 * 1024 // 8), "big", type="joblib")
    print("done", flush=True)
    """
)


def _wait_until_settled(bucket: Bucket, prefix: str, quiet_s: float = 1.0) -> None:
    """Until the objects and open uploads under ``prefix`` stop changing: the server may
    still be handling what a killed writer sent (a PUT whose body had arrived completes
    after the client is gone)."""
    seen, since, deadline = None, time.monotonic(), time.monotonic() + 60
    while time.monotonic() < deadline:
        bucket.fs.invalidate_cache()
        now = (
            sorted(bucket.fs.find(bucket.path(prefix))),
            sorted(u["UploadId"] for u in _open_uploads(bucket)),
        )
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.2)
    raise AssertionError(f"the objects under {prefix} did not stop changing in 60 s: {seen}")


@pytest.mark.parametrize("kill_at", ["during-data-put", "before-data-txt"])
def test_writer_killed_during_a_large_write_leaves_no_version(
    s3_bucket_via_proxy: Bucket, tmp_path: Path, kill_at: str
) -> None:
    """The kill is placed by what the server side sees, not by a sleep: while the data
    file's PUT is streaming through the proxy, or once the data file is stored and
    every PUT of data.txt is dropped before it reaches the store. Either way the writer
    never finishes, no version appears, and gc takes back what it left."""
    bucket = s3_bucket_via_proxy
    proxy = bucket.proxy
    assert proxy is not None
    board = open_board(bucket, tmp_path)
    committed = board.pin_write({"k": 1}, "big", type="joblib")
    if kill_at == "before-data-txt":
        proxy.fail_next("drop_before", count=10_000, methods="PUT", path_regex=r"data\.txt")
    proc = subprocess.Popen(
        [sys.executable, "-c", BIG_WRITER, f"{bucket.url}/team",
         json.dumps(bucket.storage_options), str(tmp_path / "writer-cache")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the writer ended before the kill point"
            assert time.monotonic() < deadline, f"the writer never reached {kill_at}"
            records = proxy.records()
            if kill_at == "during-data-put":
                reached = any(r.method == "PUT" and "big.joblib" in r.path for r in records)
            else:
                reached = any(r.fault == "drop_before" for r in records)
            if reached:
                break
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = "done" in proc.stdout.read()
    proc.stdout.close()
    proxy.clear_faults()
    assert not finished
    _wait_until_settled(bucket, "team/pins/big")
    reader = open_board(bucket, tmp_path)
    assert [v.version for v in reader.pin_versions("big", as_df=False)] == [committed.version]
    assert reader.pin_read("big") == {"k": 1}
    # gc takes back what the killed writer left: a folder without data.txt.
    report = reader.gc(older_than=timedelta(0))
    if kill_at == "before-data-txt":
        assert len(report.orphan_versions) == 1, report  # the data file, stored alone
    assert _open_uploads(bucket) == []
    folders = bucket.fs.ls(bucket.path("team/pins/big"), refresh=True)
    assert len(folders) == 1
    assert reader.gc(older_than=timedelta(0)).orphan_versions == []


# -- clear errors -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_bucket_is_named(backend: str, request: pytest.FixtureRequest) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    url = f"{bucket.protocol}://no-such-bucket-{time.monotonic_ns()}/team"
    with pytest.raises(errors.BoardNotFoundError, match="does not exist") as info:
        pinyard.board(url, **bucket.storage_options)
    assert "no-such-bucket" in str(info.value)


def test_wrong_azure_key_says_check_credentials(azure_container: Bucket) -> None:
    options = dict(azure_container.storage_options)
    options["connection_string"] = options["connection_string"].replace(
        "AccountKey=Eby8", "AccountKey=AAAA"
    )
    with pytest.raises(errors.StorageError, match="credentials") as info:
        pinyard.board(f"{azure_container.url}/team", **options)
    assert azure_container.name in str(info.value)


def test_read_only_sas_cannot_write_and_says_why(azure_container: Bucket, tmp_path: Path) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    writer = open_board(azure_container, tmp_path)
    writer.pin_write({"k": 1}, "obj")
    sas = generate_container_sas(
        account_name=AZURITE_ACCOUNT,
        container_name=azure_container.name,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    endpoint = azure_container.server.blob_endpoint
    reader = pinyard.board(
        f"{azure_container.url}/team",
        cache=pinyard.Cache(tmp_path / "ro-cache"),
        connection_string=f"BlobEndpoint={endpoint};SharedAccessSignature={sas}",
        create=False,
    )
    assert reader.pin_read("obj") == {"k": 1}
    with pytest.raises(errors.StorageError, match="credentials"):
        reader.pin_write({"k": 2}, "obj")
    assert len(writer.pin_versions("obj", as_df=False)) == 1


def test_write_that_fails_for_good_leaves_nothing_and_says_what(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"k": 0}, "obj")
    bucket.proxy.set_faults(error_rate=1.0, methods="PUT", path_regex=r"data\.txt")
    with pytest.raises(errors.StorageError, match=r"writing failed at s3://.*data\.txt") as info:
        board.pin_write({"k": 1}, "obj")
    assert "injected by the test proxy" in str(info.value)  # the server's own words
    bucket.proxy.clear_faults()
    assert len(board.pin_versions("obj", as_df=False)) == 1
    folders = bucket.fs.ls(f"{bucket.name}/team/pins/obj")
    assert len(folders) == 1  # the failed write took its data file back


READER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import pinyard
    url, options, cache = sys.argv[1:4]
    board = pinyard.board(
        url, cache=pinyard.Cache(cache), allow_pickle_read=True, **json.loads(options)
    )
    print("ready", flush=True)
    print(board.pin_read("big").shape[0], flush=True)
    """
)


def test_processes_sharing_one_cache_and_a_killed_reader(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    np = pytest.importorskip("numpy")
    board = open_board(s3_bucket, tmp_path)
    n = 40 * 1024 * 1024 // 8
    board.pin_write(np.arange(n, dtype="float64"), "big", type="joblib")
    cache_dir = tmp_path / "shared-cache"
    args = [f"{s3_bucket.url}/team", json.dumps(s3_bucket.storage_options), str(cache_dir)]
    victim = subprocess.Popen(
        [sys.executable, "-c", READER, *args], stdout=subprocess.PIPE, text=True
    )
    assert victim.stdout is not None
    assert victim.stdout.readline().strip() == "ready"
    time.sleep(0.4)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    victim.stdout.close()
    procs = [
        subprocess.Popen([sys.executable, "-c", READER, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(out == ["ready", str(n)] for out in outputs), outputs
    blobs = [p for p in (cache_dir / "blobs").rglob("*") if p.is_file() and p.name[0] != "."]
    assert [p.name for p in blobs] == [board.pin_meta("big").files[0].sha256]
    pinyard.Cache(cache_dir).prune(10**12, stale_temp_after_s=0)
    assert [p.name for p in (cache_dir / "blobs").rglob("*") if p.is_file()] == [blobs[0].name]


def test_fsspec_local_mv_replaces_which_is_why_pinyard_renames_with_noreplace(
    tmp_path: Path,
) -> None:
    import fsspec

    from pinyard.boards._local import rename_no_replace

    fs = fsspec.filesystem("file")
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("committed")
    fs.mv(str(tmp_path / "a"), str(tmp_path / "b"))
    assert (tmp_path / "b").read_text() == "new"  # the trap: silently replaced
    (tmp_path / "c").mkdir()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "data.txt").write_text("committed")
    with pytest.raises(FileExistsError):
        rename_no_replace(str(tmp_path / "c"), str(tmp_path / "d"))
    assert (tmp_path / "d" / "data.txt").read_text() == "committed"


def _pair(value: dict[str, int]) -> tuple[int, int]:
    return value["writer"], value["i"]


# -- the window between a version's data and its data.txt (decision 0018) -----------------

KILLED_BETWEEN_FILES = textwrap.dedent(
    """
    import json, os, sys
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import pinyard
    from pinyard.boards import _s3
    url, options, cache, first, second = sys.argv[1:6]
    board = pinyard.board(url, cache=pinyard.Cache(cache), **json.loads(options))
    board.store.single_put_bytes = 9 * 1024 * 1024  # both files go multipart
    opened = []
    real = _s3.MultipartUpload.__init__

    def init(self, *args, **kwargs):
        opened.append(self)
        if len(opened) == 2:  # the first large file is sent whole: killed here
            os._exit(9)
        real(self, *args, **kwargs)

    _s3.MultipartUpload.__init__ = init
    board.pin_upload([first, second], "big")
    """
)


def test_s3_writer_killed_between_large_files_leaves_nothing_pins_lists(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    """Every large file is sent before any is completed: a writer killed after the first
    of two leaves only incomplete uploads (invisible, taken back by gc), not a version
    folder that pins-python lists and fails to read."""
    open_board(s3_bucket, tmp_path).pin_write({"k": 1}, "other")
    files = []
    for i in range(2):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(bytes([i]) * (12 * 1024 * 1024))
        files.append(str(path))
    done = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_FILES, f"{s3_bucket.url}/team",
         json.dumps(s3_bucket.storage_options), str(tmp_path / "cache"), *files],
        check=False,
    )  # fmt: skip
    assert done.returncode == 9
    _wait_until_settled(s3_bucket, "team/pins")
    s3_bucket.fs.invalidate_cache()
    assert s3_bucket.fs.find(s3_bucket.path("team/pins/big")) == []
    assert len(_open_uploads(s3_bucket)) == 1  # the first file's, sent but not completed
    import pins

    reader = pins.board(
        "s3", s3_bucket.path("team/pins"), storage_options=s3_bucket.storage_options,
        cache=None,
    )  # fmt: skip
    assert reader.pin_list() == ["other"]
    board = open_board(s3_bucket, tmp_path)
    assert board.gc(older_than=timedelta(0)).uploads
    assert _open_uploads(s3_bucket) == []
