"""The served API, over real HTTP: endpoints, formats, headers, and every bad request."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pinyard
from pinyard.errors import (
    InsecureReadError,
    IntegrityError,
    InvalidArgumentError,
    VersionNotFoundError,
)
from pinyard.models import ModelBundle
from pinyard.serving import create_app

from .conftest import running

ROW = {"income": 61.0, "age": 40, "region": "north"}
ARROW = "application/vnd.apache.arrow.stream"


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_predicts_json_records_one_record_and_columns(served: Any, model: Any) -> None:
    rows = [ROW, {**ROW, "income": 20.0, "region": "south"}]
    expected = model.predict(pd.DataFrame(rows).astype({"region": "category"})).tolist()
    with served() as client:
        for body in (rows, {k: [r[k] for r in rows] for k in ROW}):
            response = client.post("/predict", json=body)
            assert response.status_code == 200, response.text
            assert response.json() == {"predict": expected}
        assert client.post("/predict", json=ROW).json() == {"predict": expected[:1]}
        proba = client.post("/predict_proba", json=rows).json()
        assert set(proba) == {"0", "1"}
        assert [round(a + b, 6) for a, b in zip(proba["0"], proba["1"], strict=True)] == [1, 1]


def test_every_response_names_the_version_and_sha256(served: Any) -> None:
    result = served.result
    with served() as client:
        for response in (
            client.get("/ping"),
            client.get("/metadata"),
            client.post("/predict", json=[ROW]),
            client.post("/predict", json=[{}]),
        ):
            assert response.headers["x-pinyard-version"] == result.version
            assert response.headers["x-pinyard-sha256"] == result.files[0].sha256


def test_metadata_signature_and_docs(served: Any) -> None:
    with served() as client:
        meta = client.get("/metadata").json()
        assert meta["version"] == served.result.version
        assert meta["sha256"] == served.result.files[0].sha256
        assert [c["name"] for c in meta["signature"]["columns"]] == ["income", "age", "region"]
        assert "scikit-learn" in meta["environment"]["packages"]
        assert meta["lineage"] == {}
        assert meta["methods"][:2] == ["predict", "predict_proba"]
        schema = client.get("/signature").json()
        assert schema["anyOf"][1]["properties"]["region"]["enum"] == ["north", "south"]
        openapi = client.get("/openapi.json").json()
        body = openapi["paths"]["/predict"]["post"]["requestBody"]["content"]
        assert body["application/json"]["schema"] == schema
        assert client.get("/docs").status_code == 200


def test_bulk_arrow_and_parquet_bodies(served: Any, train: pd.DataFrame, model: Any) -> None:
    table = pa.Table.from_pandas(train, preserve_index=False)
    expected = model.predict(train).tolist()
    with served() as client:
        response = client.post("/predict", content=arrow_bytes(table),
                               headers={"content-type": ARROW})  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == ARROW
        assert pa.ipc.open_stream(response.content).read_all()["predict"].to_pylist() == expected
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        response = client.post(
            "/predict",
            content=buffer.getvalue(),
            headers={
                "content-type": "application/vnd.apache.parquet",
                "accept": "application/json",
            },
        )
        assert response.json() == {"predict": expected}


@pytest.mark.parametrize(
    ("body", "column", "fragment"),
    [
        ([{"income": 1.0, "age": 3}], "region", "missing"),
        ([{**ROW, "extra": 1}], "extra", "not an input"),
        ([{**ROW, "income": "high"}], "income", "expected float64"),
        ([{**ROW, "age": None}], "age", "missing value"),
        ([{**ROW, "region": "east"}], "region", "not a known category"),
        ([], None, "no rows"),
        ({}, None, "no rows"),
        ("rows", None, "cannot read model input"),
    ],
)
def test_bad_rows_get_422_naming_the_column(
    served: Any, body: Any, column: str | None, fragment: str
) -> None:
    with served() as client:
        response = client.post("/predict", json=body)
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["column"] == column
    assert fragment in detail["msg"]


def test_not_json_and_unknown_media_types(served: Any) -> None:
    with served() as client:
        response = client.post(
            "/predict", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert "not valid JSON" in response.json()["detail"][0]["msg"]
        response = client.post("/predict", content=b"\x00garbage", headers={"content-type": ARROW})
        assert response.status_code == 422
        response = client.post("/predict", content=b"a,b", headers={"content-type": "text/csv"})
        assert response.status_code == 415


class Boom:
    """Unpickling this runs code: a server that unpickled bodies would create the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (Path(self.path),))


def test_request_bodies_are_never_unpickled(served: Any, tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "unpickled"
    payload = pickle.dumps(Boom(str(marker)))
    with served() as client:
        for content_type in ("application/octet-stream", "application/python-pickle", ARROW):
            response = client.post("/predict", content=payload,
                                   headers={"content-type": content_type})  # fmt: skip
            assert response.status_code in (415, 422)
    assert not marker.exists()


def test_bodies_over_the_limit_get_413(served: Any) -> None:
    with served(max_body_bytes=4096) as client:
        declared = _raw_post(client, 100 * 1024 * 1024)  # says 100 MB, sends little
        assert declared.startswith(b"HTTP/1.1 413")

        def chunks() -> Any:
            for _ in range(10):
                yield b" " * 1024

        response = client.post("/predict", content=chunks(),
                               headers={"content-type": "application/json"})  # fmt: skip
        assert response.status_code == 413
        assert "limit" in response.json()["detail"]
        assert client.post("/predict", json=[ROW]).status_code == 200


def _raw_post(client: Any, length: int) -> bytes:
    url = urlsplit(str(client.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
            + b"[" * 1024
        )
        return sock.recv(65536)


def test_a_100_mb_body_is_refused_without_being_read(served: Any) -> None:
    body = b"[" + b"0," * (50 * 1024 * 1024) + b"0]"
    with served() as client:
        response = client.post("/predict", content=body,
                               headers={"content-type": "application/json"})  # fmt: skip
        assert response.status_code == 413


def failing(data: pd.DataFrame) -> Any:
    raise RuntimeError("secret-internal-detail")


def test_internal_errors_are_500_without_a_traceback(train: pd.DataFrame, tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b", allow_pickle_read=True)
    version = board.pin_write(ModelBundle(failing, prototype=train), "bad").version
    with running(create_app(board, "bad", version)) as client:
        response = client.post("/predict", json=[ROW])
    assert response.status_code == 500
    assert "secret-internal-detail" not in response.text
    assert "Traceback" not in response.text
    assert "internal error" in response.json()["detail"]


def test_bearer_token(served: Any) -> None:
    with served(token="s3cret") as client:
        assert client.get("/ping").status_code == 200  # health checks need no token
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
            response = client.post("/predict", json=[ROW], headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert "x-pinyard-version" not in response.headers
        assert client.get("/metadata").status_code == 401
        ok = client.post("/predict", json=[ROW], headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_the_server_refuses_to_start_on_bad_versions(served: Any) -> None:
    board, result = served.board, served.result
    with pytest.raises(InvalidArgumentError, match="one explicit version"):
        create_app(board, "income", None)  # type: ignore[arg-type]
    with pytest.raises(VersionNotFoundError):
        create_app(board, "income", "20200101T000000Z-00000")
    with pytest.raises(IntegrityError, match="refusing to load"):
        create_app(board, "income", result.version, sha256="0" * 64)
    (path,) = board.pin_download("income")
    Path(path).chmod(0o644)
    with open(path, "r+b") as handle:
        handle.seek(30)
        handle.write(b"XXXX")
    with pytest.raises(IntegrityError, match="sha256"):
        create_app(board, "income", result.version)
    with pytest.raises(InvalidArgumentError, match="max_body_bytes"):
        create_app(board, "income", result.version, max_body_bytes=0)


def test_json_output_of_non_finite_values_is_null(train: pd.DataFrame, tmp_path: Path) -> None:
    board = pinyard.board_folder(tmp_path / "b", allow_pickle_read=True)
    version = board.pin_write(ModelBundle(nan_model, prototype=train), "nan").version
    with running(create_app(board, "nan", version)) as client:
        assert json.loads(client.post("/predict", json=[ROW, ROW]).text) == {
            "predict": [None, None]
        }


def nan_model(data: pd.DataFrame) -> Any:
    return [float("nan"), float("inf")]


def test_the_app_mounted_under_a_prefix_serves_the_same(served: Any, model: Any) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    board, result = served.board, served.result
    outer = Starlette(
        routes=[Mount("/models/income", app=create_app(board, "income", result.version))]
    )
    with running(outer) as client:
        response = client.post("/models/income/predict", json=[ROW])
        assert response.status_code == 200
        assert response.headers["x-pinyard-version"] == result.version
        assert response.json() == {
            "predict": model.predict(pd.DataFrame([ROW]).astype({"region": "category"})).tolist()
        }
        assert client.post("/models/income/predict", json=[{}]).status_code == 422


def _rebuild_tripwire(marker: str) -> Tripwire:
    Path(marker).touch()
    return Tripwire(marker)


class Tripwire:
    """A model whose unpickling leaves a file behind: shows what was unpickled when."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def predict(self, data: Any) -> Any:
        return [0] * len(data)

    def __reduce__(self) -> Any:
        return (_rebuild_tripwire, (self.marker,))


def test_digest_checks_and_docker_files_never_unpickle(
    train: pd.DataFrame, tmp_path: Path
) -> None:
    from pinyard.serving import write_docker_files

    marker = tmp_path / "unpickled"
    board = pinyard.board_folder(tmp_path / "b", allow_pickle_read=True)
    version = board.pin_write(ModelBundle(Tripwire(str(marker)), prototype=train), "t").version
    marker.unlink(missing_ok=True)  # pickling for the environment record rebuilt nothing
    with pytest.raises(IntegrityError, match="not the expected"):
        create_app(board, "t", version, sha256="0" * 64)
    write_docker_files(board, "t", version, tmp_path / "image")
    assert not marker.exists()
    create_app(board, "t", version)
    assert marker.exists()  # serving does unpickle, after the checks


def test_compressed_tables_that_would_decode_past_the_limit_get_413(served: Any) -> None:
    big = pa.table({"income": pa.array([1.0] * 2_000_000), "age": pa.array([1] * 2_000_000)})
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, big.schema, options=options) as writer:
        writer.write_table(big)
    arrow = sink.getvalue().to_pybytes()
    buffer = io.BytesIO()
    pq.write_table(big, buffer, compression="zstd")
    assert len(arrow) < 1024 * 1024  # small on the wire
    assert buffer.tell() < 1024 * 1024
    with served(max_body_bytes=1024 * 1024) as client:
        for body, kind in ((arrow, ARROW), (buffer.getvalue(), "application/vnd.apache.parquet")):
            response = client.post("/predict", content=body, headers={"content-type": kind})
            assert response.status_code == 413, (kind, response.text)
            assert "decodes to more than" in response.json()["detail"]
        assert client.get("/ping").status_code == 200


def test_booleans_among_numbers_and_empty_columns_are_422(served: Any) -> None:
    with served() as client:
        mixed = client.post("/predict", json=[ROW, {**ROW, "income": True}])
        assert mixed.status_code == 422
        assert mixed.json()["detail"][0]["column"] == "income"
        empty = client.post("/predict", json={"income": [], "age": [], "region": []})
        assert empty.status_code == 422
        assert "no rows" in empty.json()["detail"][0]["msg"]


def test_a_small_parquet_body_of_long_repeated_strings_gets_413(served: Any) -> None:
    # One long value on every row: dictionary-encoded and compressed it is a few KB on the
    # wire, decoded it would be rows x length bytes.
    rows, length = 300, 1024 * 1024
    table = pa.table(
        {
            "income": pa.array([1.0] * rows),
            "age": pa.array([1] * rows),
            "region": pa.array(["x" * length] * rows),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", use_dictionary=True)
    assert buffer.tell() < 64 * 1024
    with served(max_body_bytes=1024 * 1024) as client:
        response = client.post(
            "/predict",
            content=buffer.getvalue(),
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        assert response.status_code == 413, response.text
        assert "decodes to more than" in response.json()["detail"]


def test_parquet_text_columns_come_back_as_plain_text(served: Any, train: pd.DataFrame) -> None:
    rows = train.head(5).astype({"region": str})  # plain text, read back dictionary-encoded
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), buffer)
    assert not pa.types.is_dictionary(pq.read_schema(buffer).field("region").type)
    with served() as client:
        response = client.post(
            "/predict",
            content=buffer.getvalue(),
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        assert response.status_code == 200, response.text


def test_the_app_needs_a_board_allowed_to_unpickle(
    served: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PINS_ALLOW_PICKLE_READ", raising=False)
    board = pinyard.board_folder(tmp_path / "board")
    with pytest.raises(InsecureReadError, match="allow_pickle_read=True"):
        create_app(board, "income", served.result.version)
