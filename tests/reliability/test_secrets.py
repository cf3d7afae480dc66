"""Secrets: storage keys and tokens never reach what pinyard stores or says -- version
metadata, run records and their context, registry events, logs at DEBUG, the serving
app's ``/metadata``, error messages (pinyard's and the CLI's) -- and environment
variables with secret-looking names are not captured by runs.

The board is opened with distinctive credentials (moto and Azurite accept any key for
S3 and the documented development key for Azure, which is checked the same way), and
every stored object is read back raw and searched."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import pinyard
from pinyard.cli._main import main
from pinyard.errors import PinyardError
from pinyard.models import ModelBundle
from pinyard.serving import create_app
from tests.reliability.conftest import record
from tests.serving.conftest import running

S3_KEY = "AKIAPINYARDSECRETKEY1"
S3_SECRET = "pinyard/secret+S3/0123456789abcdefSECRET"
ENV_SECRETS = {
    "PINYARD_TEST_API_TOKEN": "tok-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "DATABASE_PASSWORD": "hunter2-pinyard-password",
    "MY_SERVICE_SECRET": "svc-secret-5a5a5a5a5a5a5a5a",
    "GITHUB_TOKEN": "ghp_pinyardtestnotarealtoken0000000000",
}


@pytest.fixture(params=["s3", "az"])
def secret_board(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, ...]:
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        options = {**bucket.storage_options, "key": S3_KEY, "secret": S3_SECRET}
        secrets = [S3_KEY, S3_SECRET]
    else:
        bucket = request.getfixturevalue("azure_container")
        options = dict(bucket.storage_options)
        key = options["connection_string"].split("AccountKey=")[1].split(";")[0]
        secrets = [key, options["connection_string"]]
    url = f"{bucket.url}/board"
    board = pinyard.board(
        url, cache=pinyard.Cache(tmp_path / "cache"), allow_pickle_read=True, **options
    )
    return board, bucket, url, options, [*secrets, *ENV_SECRETS.values()]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def test_no_secret_reaches_stored_objects_logs_metadata_or_errors(
    secret_board: tuple[Any, ...],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    board, bucket, _, _, secrets = secret_board
    for name, value in ENV_SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    features = pd.DataFrame({"x": np.arange(5.0)})
    tracker = pinyard.Tracker(board, "exp")
    with tracker.start_run(params={"alpha": 1}) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_artifact(b"artifact", name="art")
        model = LinearRegression().fit(features, np.arange(5.0))
        run.log_model(ModelBundle(model, prototype=features), "model")
        run_id = run.run_id
    board.pin_write({"a": 1}, "data", type="json", metadata={"owner": "ana"})
    registry = pinyard.Registry(board)
    registry.set_alias("model", "champion", board.pin_meta("model").version)
    tracker.note(run_id, "a note")

    # everything stored, raw
    stored = []
    for path in bucket.fs.find(bucket.path("board")):
        data = bucket.fs.cat_file(path)
        stored.append(path)
        text = data.decode("utf-8", "replace")
        assert not _leaks(text, secrets), f"{path} holds a secret"
    assert len(stored) > 10
    context = tracker.get_run(run_id).context
    assert not _leaks(repr(context), secrets)
    assert not [k for k in context if "TOKEN" in k.upper() or "SECRET" in k.upper()]

    # what pinyard says
    said = [repr(board), str(board.pin_meta("model")), repr(registry.history("model"))]
    with running(create_app(board, "model", alias="champion")) as client:
        said.append(client.get("/metadata").text)
        said.append(client.get("/ping").text)
    for bad in (lambda: board.pin_read("nope"), lambda: board.pin_read("data", version="x")):
        with pytest.raises(PinyardError) as info:
            bad()
        said.append(str(info.value))
    # pinyard's own log lines (botocore's DEBUG lines show the access key id in the
    # signed headers it logs: that is botocore's, and the id is not the secret)
    said.extend(r.getMessage() for r in caplog.records if r.name.startswith("pinyard"))
    assert not _leaks("\n".join(r.getMessage() for r in caplog.records), secrets[1:2])
    for text in said:
        assert not _leaks(text, secrets), f"a secret in: {text[:300]}"
    record("secrets", stored_objects_searched=len(stored), messages_searched=len(said))


def test_storage_errors_do_not_carry_the_credentials(
    secret_board: tuple[Any, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A board that cannot be reached (a closed port) fails with a StorageError whose
    message names the location but not the key; so does the CLI's line for a bucket
    that does not exist."""
    _, bucket, url, options, secrets = secret_board
    monkeypatch.setattr("pinyard.boards._retry.RETRY_BASE_DELAY", 0.01)
    if "endpoint_url" in options:
        once = {"connect_timeout": 1, "retries": {"max_attempts": 1}}
        broken = {**options, "endpoint_url": "http://127.0.0.1:9", "retries": 1,
                  "config_kwargs": once}  # fmt: skip
    else:
        broken = {"connection_string": options["connection_string"].replace(
            str(bucket.server.port), "9")}  # fmt: skip
    with pytest.raises(PinyardError) as info:
        pinyard.board(url, cache=pinyard.Cache(tmp_path / "c2"), **broken).pin_list()
    message = f"{info.value} {info.value!r}"
    assert not _leaks(message, secrets), message
    assert url.split("://")[1].split("/")[0] in message or "127.0.0.1" in message

    out, err = io.StringIO(), io.StringIO()
    if "connection_string" in options:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", options["connection_string"])
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
        monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
    missing = url.replace(bucket.name, f"{bucket.name}-missing")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["list", missing])
    assert code == 3, err.getvalue()  # not found: the bucket does not exist
    assert "Traceback" not in err.getvalue()
    assert not _leaks(out.getvalue() + err.getvalue(), secrets), err.getvalue()
