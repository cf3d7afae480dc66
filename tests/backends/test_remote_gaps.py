"""Paths on remote boards that the suite never ran before (issue 13, "Gaps in today's
tests"): gc on every remote with real leftovers (an open S3 multipart upload of a killed
writer among them), plain pins boards and their import in the cloud, the CLI and
serving against a URL board, a large write that fails partway, and Azure under its
SDK's default retry policy."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import pinyard
from pinyard import errors
from pinyard.cli._main import main
from pinyard.errors import UnverifiedVersionWarning
from pinyard.models import ModelBundle
from pinyard.serving import create_app
from tests.backends.conftest import Bucket
from tests.serving.conftest import running

DATA = Path(__file__).resolve().parents[1] / "data"
REMOTES = ["s3_bucket", "azure_container", "gcs_bucket"]
MIB = 1024 * 1024


def open_board(bucket: Bucket, tmp_path: Path, prefix: str = "team", **kw: Any) -> pinyard.Board:
    """The board under ``prefix``; it may unpickle (these tests read models they wrote)."""
    cache = pinyard.Cache(tmp_path / f"cache-{time.monotonic_ns()}")
    kw.setdefault("allow_pickle_read", True)
    return pinyard.board(f"{bucket.url}/{prefix}", cache=cache, **bucket.storage_options, **kw)


def _open_uploads(bucket: Bucket) -> list[Any]:
    return list(bucket.fs.call_s3("list_multipart_uploads", Bucket=bucket.name).get("Uploads", []))


# -- gc on every remote ------------------------------------------------------------------


@pytest.mark.parametrize("backend", REMOTES)
def test_gc_on_every_remote_removes_leftovers_and_nothing_else(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """An orphan version folder (data, no data.txt: a writer killed before its commit)
    and a stale staged upload, put there below pinyard; gc lists them on a dry run,
    removes them, keeps every committed version, and finds nothing the second time."""
    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)
    kept = [board.pin_write({"k": i}, "obj", type="json").version for i in range(2)]
    orphan = "20200101T000000Z-0a0b0"
    bucket.fs.pipe_file(bucket.path("team/pins/obj", orphan, "obj.json"), b'{"k": 9}')
    staged = bucket.path("team/staging/deadbeef", "upload-0123456789abcdef")
    bucket.fs.pipe_file(staged, b"x" * 1024)
    bucket.fs.invalidate_cache()
    dry = board.gc(older_than=timedelta(0), dry_run=True)
    assert any(orphan in p for p in dry.orphan_versions), dry
    assert dry.staging, dry
    assert bucket.fs.exists(staged)
    report = board.gc(older_than=timedelta(0))
    assert report.orphan_versions == dry.orphan_versions
    assert report.staging == dry.staging
    bucket.fs.invalidate_cache()
    assert not bucket.fs.exists(staged)
    assert not bucket.fs.exists(bucket.path("team/pins/obj", orphan))
    reader = open_board(bucket, tmp_path)
    assert [v.version for v in reader.pin_versions("obj", as_df=False)] == kept
    assert [reader.pin_read("obj", v) for v in kept] == [{"k": 0}, {"k": 1}]
    again = reader.gc(older_than=timedelta(0))
    assert (again.orphan_versions, again.staging, again.uploads) == ([], [], [])
    # young leftovers are not touched: a write may be in progress elsewhere
    bucket.fs.pipe_file(bucket.path("team/pins/obj", orphan, "obj.json"), b'{"k": 9}')
    assert reader.gc(older_than=timedelta(hours=1)).orphan_versions == []


MULTIPART_WRITER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    import numpy as np
    import pinyard
    url, options, cache = sys.argv[1:4]
    board = pinyard.board(url, cache=pinyard.Cache(cache), **json.loads(options))
    board.store.single_put_bytes = 8 * 1024 * 1024  # so that 64 MiB goes multipart
    from pinyard.boards._s3 import MultipartUpload
    send = MultipartUpload._send

    def send_then_wait(self, number, block):
        sent = send(self, number, block)
        if number == 1:  # one part is on the server: hold here until the test kills us
            print("part", flush=True)
            sys.stdin.readline()
        return sent

    MultipartUpload._send = send_then_wait
    print("ready", flush=True)
    board.pin_write(np.ones(64 * 1024 * 1024 // 8), "big", type="joblib")
    print("done", flush=True)
    """
)


def test_s3_writer_killed_inside_a_multipart_upload_leaves_what_gc_aborts(
    s3_bucket: Bucket, tmp_path: Path
) -> None:
    """The kill lands while a multipart upload is open with parts in it (seen on the
    server, not guessed from a sleep): no version appears, and gc aborts the upload."""
    board = open_board(s3_bucket, tmp_path)
    committed = board.pin_write({"k": 1}, "big", type="joblib")
    proc = subprocess.Popen(
        [sys.executable, "-c", MULTIPART_WRITER, f"{s3_bucket.url}/team",
         json.dumps(s3_bucket.storage_options), str(tmp_path / "writer-cache")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert proc.stdout.readline().strip() == "part", "the writer ended before a part"
        uploads = _open_uploads(s3_bucket)
        assert len(uploads) == 1
        listed = s3_bucket.fs.call_s3(
            "list_parts", Bucket=s3_bucket.name, Key=uploads[0]["Key"],
            UploadId=uploads[0]["UploadId"],
        )  # fmt: skip
        assert len(listed.get("Parts", [])) >= 1  # seen on the server
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()
        rest = proc.stdout.read()
        proc.stdout.close()
    assert "done" not in rest, "the write finished before the kill"
    assert len(_open_uploads(s3_bucket)) == 1
    reader = open_board(s3_bucket, tmp_path)
    assert [v.version for v in reader.pin_versions("big", as_df=False)] == [committed.version]
    assert reader.pin_read("big") == {"k": 1}
    report = reader.gc(older_than=timedelta(0))
    assert len(report.uploads) == 1, report
    assert _open_uploads(s3_bucket) == []
    assert reader.gc(older_than=timedelta(0)).uploads == []
    assert reader.pin_read("big") == {"k": 1}


# -- a large remote write that fails partway -------------------------------------------


def test_s3_multipart_write_failing_at_its_third_part_leaves_nothing(
    s3_bucket_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = s3_bucket_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"k": 0}, "big", type="json")
    board.store.single_put_bytes = 8 * MIB  # type: ignore[attr-defined]
    source = tmp_path / "model.bin"
    source.write_bytes(np.random.default_rng(0).bytes(40 * MIB))
    bucket.proxy.set_faults(error_rate=1.0, methods="PUT", path_regex=r"partNumber=3\b")
    with pytest.raises(errors.StorageError, match=r"s3://") as info:
        board.pin_upload(source, "big")
    bucket.proxy.clear_faults()
    assert "big" in str(info.value)
    stats = bucket.proxy.stats()
    assert stats["faults"].get("error", 0) >= 2, stats  # the part was retried, then given up
    reader = open_board(bucket, tmp_path)
    assert len(reader.pin_versions("big", as_df=False)) == 1
    assert reader.pin_read("big") == {"k": 0}
    assert _open_uploads(bucket) == []  # the upload was aborted, not left open
    bucket.fs.invalidate_cache()
    assert len(bucket.fs.ls(bucket.path("team/pins/big"), refresh=True)) == 1


def test_azure_block_write_failing_at_its_third_block_leaves_nothing(
    azure_container_via_proxy: Bucket, tmp_path: Path
) -> None:
    bucket = azure_container_via_proxy
    assert bucket.proxy is not None
    board = open_board(bucket, tmp_path)
    board.pin_write({"k": 0}, "big", type="json")
    source = tmp_path / "model.bin"
    source.write_bytes(np.random.default_rng(1).bytes(40 * MIB))  # 8 MiB blocks
    seen: list[str] = []
    with bucket.proxy.measure() as window:
        # two blocks of the data file go through, then every block upload fails: the
        # third block and every retry of it
        bucket.proxy.fail_next("error", count=1000, methods="PUT", after=2, status=503,
                               path_regex=r"model\.bin\?.*comp=block")  # fmt: skip
        try:
            board.pin_upload(source, "big")
        except errors.StorageError as exc:
            seen.append(str(exc))
    bucket.proxy.clear_faults()
    block_puts = [r for r in window.records if "comp=block" in r.query and r.method == "PUT"]
    faulted = [r for r in window.records if r.fault]
    assert block_puts, "no block upload seen"
    assert faulted, f"no block matched the fault: {[r.query for r in block_puts][:4]}"
    assert seen, "the write succeeded although a block failed for good"
    assert "big" in seen[0] or "model.bin" in seen[0]
    reader = open_board(bucket, tmp_path)
    assert len(reader.pin_versions("big", as_df=False)) == 1
    assert reader.pin_read("big") == {"k": 0}
    bucket.fs.invalidate_cache()
    assert len(bucket.fs.ls(bucket.path("team/pins/big"), refresh=True)) == 1


# -- plain pins boards in the cloud --------------------------------------------------------


def _same(a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("golden", ["pins_python_board", "r_pins_board"])
@pytest.mark.parametrize("backend", REMOTES)
def test_plain_pins_boards_in_the_cloud_read_and_import(
    backend: str, golden: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A board R pins or pins-python wrote, in a bucket: `board_pins` lists and reads
    it as the same board on disk does, and `import_pins` copies every version into a
    pinyard board in the same bucket, verified."""
    bucket: Bucket = request.getfixturevalue(backend)
    local_copy = Path(shutil.copytree(DATA / golden, tmp_path / golden))
    bucket.fs.put(str(local_copy), bucket.path("src"), recursive=True)
    bucket.fs.invalidate_cache()
    # the golden boards hold pickles their writers made; these tests trust them
    local = pinyard.board_pins(local_copy, allow_pickle_read=True)
    remote = pinyard.board_pins(f"{bucket.url}/src", cache=pinyard.Cache(tmp_path / "c"),
                                allow_pickle_read=True, **bucket.storage_options)  # fmt: skip
    assert remote.pin_list() == local.pin_list()
    read = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedVersionWarning)  # R's multi-file hashes
        for name in local.pin_list():
            versions = [v.version for v in local.pin_versions(name, as_df=False)]
            assert [v.version for v in remote.pin_versions(name, as_df=False)] == versions
            meta = local.pin_meta(name)
            if meta.type in ("file", "rds") or len(meta.file_names) != 1:
                paths = remote.pin_download(name)
                assert sorted(Path(p).read_bytes() for p in paths) == sorted(
                    Path(p).read_bytes() for p in local.pin_download(name)
                )
            else:
                _same(remote.pin_read(name), local.pin_read(name))
            read += 1
        dest = open_board(bucket, tmp_path, prefix="yard")
        report = pinyard.import_pins(remote, dest)
    expected = sorted(
        (n, v.version) for n in local.pin_list() for v in local.pin_versions(n, as_df=False)
    )
    assert sorted(report.imported) == expected
    assert read == len(local.pin_list())
    yard = open_board(bucket, tmp_path, prefix="yard")
    for name, version in expected:
        assert yard.pin_meta(name, version).pin_hash == local.pin_meta(name, version).pin_hash
        yard.pin_download(name, version)  # verified against the sha256 recorded at import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedVersionWarning)
        again = pinyard.import_pins(remote, dest)
    assert again.imported == []  # idempotent
    assert sorted(again.already_present) == expected
    assert [v.version for v in yard.pin_versions(expected[0][0], as_df=False)] == [
        v for n, v in expected if n == expected[0][0]
    ]


# -- the CLI and serving against a URL board -----------------------------------------------


def _env_for(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials as a user's shell has them: the CLI takes a URL, options from env."""
    if bucket.protocol == "s3":
        options = bucket.storage_options
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", options["key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", options["secret"])
        monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
    else:
        monkeypatch.setenv(
            "AZURE_STORAGE_CONNECTION_STRING", bucket.storage_options["connection_string"]
        )


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("backend", ["s3_bucket", "azure_container"])
def test_cli_against_a_url_board(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket: Bucket = request.getfixturevalue(backend)
    board = open_board(bucket, tmp_path)
    first = board.pin_write({"k": 1}, "obj", type="json")
    board.pin_write({"k": 2}, "obj", type="json")
    _env_for(bucket, monkeypatch)
    monkeypatch.setenv("PINYARD_CACHE_DIR", str(tmp_path / "cli-cache"))
    url = f"{bucket.url}/team"
    code, out, err = _cli("pins", "list", url, "--json")
    assert code == 0, err
    assert [p["name"] for p in json.loads(out)] == ["obj"]
    code, out, _ = _cli("pins", "versions", url, "obj", "--json")
    assert code == 0
    assert len(json.loads(out)) == 2
    assert json.loads(out)[0]["version"] == first.version
    code, out, _ = _cli("pins", "meta", url, "obj", "--version", first.version, "--json")
    assert (code, json.loads(out)["version"]) == (0, first.version)
    code, out, err = _cli("registry", "set-alias", url, "obj", "champion", first.version)
    assert code == 0, err
    code, out, err = _cli("registry", "resolve", url, "obj@champion")
    assert (code, first.version in out) == (0, True), err
    assert _cli("pins", "verify", url)[0] == 0
    assert _cli("fsck", url)[0] == 0
    bucket.fs.pipe_file(bucket.path("team/pins/obj", first.version, "obj.json"), b'{"k": 7}')
    monkeypatch.setenv("PINYARD_CACHE_DIR", str(tmp_path / "cold-cache"))
    code, out, err = _cli("pins", "verify", url)
    assert code == 4, (out, err)  # damaged: the integrity exit code
    assert first.version in out + err
    code, _, err = _cli("pins", "meta", url, "missing")
    assert code == 3
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_model_bundle_and_serving_from_a_remote_board(s3_bucket: Bucket, tmp_path: Path) -> None:
    board = open_board(s3_bucket, tmp_path)
    features = pd.DataFrame({"x": np.arange(6.0)})
    model = LinearRegression().fit(features, 2 * np.arange(6.0) + 1)
    written = board.pin_write(ModelBundle(model, prototype=features), "line")
    pinyard.Registry(board).set_alias("line", "champion", written.version)
    reader = open_board(s3_bucket, tmp_path)
    bundle = ModelBundle.from_pin(reader, "line")
    expected = model.predict(features).tolist()
    assert np.allclose(bundle.predict(features), expected)
    with running(create_app(open_board(s3_bucket, tmp_path), "line", alias="champion")) as client:
        answer = client.post("/predict", json={"x": [0.0, 1.0, 2.0]})
        assert answer.status_code == 200, answer.text
        assert np.allclose(answer.json()["predict"], expected[:3])
        meta = client.get("/metadata").json()
        assert written.version in json.dumps(meta)


def test_pinyard_serve_follows_an_alias_on_an_s3_url(
    s3_bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pinyard serve s3://... NAME --follow ALIAS`, as a user runs it from a shell."""
    from tests.serving.test_cli_and_docker import PINYARD, free_port, wait_for_ping

    board = open_board(s3_bucket, tmp_path)
    features = pd.DataFrame({"x": np.arange(4.0)})
    versions = [
        board.pin_write(ModelBundle(LinearRegression().fit(features, k * np.arange(4.0)),
                                    prototype=features), "line").version
        for k in (1.0, 3.0)
    ]  # fmt: skip
    registry = pinyard.Registry(board)
    registry.set_alias("line", "champion", versions[0])
    _env_for(s3_bucket, monkeypatch)
    monkeypatch.setenv("PINYARD_CACHE_DIR", str(tmp_path / "serve-cache"))
    monkeypatch.delenv("PINYARD_TOKEN", raising=False)
    port = free_port()
    command = [*PINYARD, "serve", f"{s3_bucket.url}/team", "line", "--follow", "champion",
               "--interval", "0.2", "--allow-pickle-read", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, env=dict(os.environ))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ping(url, process, seconds=180)

        def predict() -> tuple[str, float]:
            answer = httpx.post(f"{url}/predict", json={"x": [1.0]}, timeout=30)
            assert answer.status_code == 200, answer.text
            return answer.headers["x-pinyard-version"], answer.json()["predict"][0]

        assert predict() == (versions[0], pytest.approx(1.0))
        registry.set_alias("line", "champion", versions[1])
        deadline = time.monotonic() + 60
        while predict()[0] != versions[1]:
            assert time.monotonic() < deadline, "the server never swapped"
            time.sleep(0.1)
        assert predict() == (versions[1], pytest.approx(3.0))
    finally:
        process.terminate()
        err = process.communicate(timeout=30)[1]
    assert f"now serving version {versions[1]}" in err


# -- Azure under the SDK's own retry policy ----------------------------------------------


@pytest.mark.timeout(240)
def test_azure_transient_503_under_the_sdk_default_backoff_heals(
    azurite: Any, fault_proxy_factory: Any, tmp_path: Path
) -> None:
    """No test policy: the SDK's default (about 15 s before its first retry). One
    injected 503 on a read is retried by the SDK and the read returns the right value;
    the time it took is what a user of real Azure waits on a transient error."""
    from tests.backends._servers import unique_name

    proxy = fault_proxy_factory(azurite.base_url)
    name = azurite.make_bucket(unique_name("default-backoff"))
    options = azurite.storage_options(proxy.url)
    board = pinyard.board(f"az://{name}/team", cache=pinyard.Cache(tmp_path / "c"), **options)
    board.pin_write({"k": 1}, "obj", type="json")
    proxy.fail_next("error", methods="GET", path_regex=r"obj\.json", status=503)
    reader = pinyard.board(f"az://{name}/team", cache=pinyard.Cache(tmp_path / "d"), **options)
    started = time.monotonic()
    assert reader.pin_read("obj") == {"k": 1}
    waited = time.monotonic() - started
    assert proxy.faults() == {"error": 1}
    gets = [r for r in proxy.records() if r.method == "GET" and "obj.json" in r.path]
    assert [r.status for r in gets[-2:]] == [503, 200] or [r.fault for r in gets][-2:] == [
        "error",
        None,
    ]
    print(f"one 503 under the SDK default retry policy cost {waited:.1f} s")


@pytest.mark.parametrize("backend", ["s3_bucket", "azure_container"])
def test_cli_import_pins_between_url_boards(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pinyard import-pins SOURCE_URL DEST_URL`: a pins-python board in the bucket into
    a pinyard board beside it, then `verify` of the result; again, nothing is copied."""
    bucket: Bucket = request.getfixturevalue(backend)
    bucket.fs.put(str(DATA / "pins_python_board"), bucket.path("src"), recursive=True)
    _env_for(bucket, monkeypatch)
    monkeypatch.setenv("PINYARD_CACHE_DIR", str(tmp_path / "cli-cache"))
    src, dest = f"{bucket.url}/src", f"{bucket.url}/yard"
    local = pinyard.board_pins(DATA / "pins_python_board")
    expected = sorted(
        f"{n}@{v.version}" for n in local.pin_list() for v in local.pin_versions(n, as_df=False)
    )
    code, out, err = _cli("import-pins", src, dest, "--json", "--create")
    assert code == 0, err
    assert sorted(json.loads(out)["imported"]) == expected
    assert _cli("pins", "verify", dest)[0] == 0
    code, out, err = _cli("import-pins", src, dest, "--json")
    assert code == 0, err
    assert (json.loads(out)["imported"], sorted(json.loads(out)["already_present"])) == (
        [],
        expected,
    )
