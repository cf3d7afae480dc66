"""DuckDB and polars read the compacted run log (the Parquet segments) from a folder and
from S3 (moto), the way docs/tracking.md says, and find the same runs as `tracker.runs()`."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pytest

import pinyard
from pinyard.tracking import Tracker
from pinyard.tracking._segments import BASE_COLUMNS, base_type
from tests.backends.conftest import Bucket

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracking.md"
#: The query docs/tracking.md gives for one row per run (a run that was running when its
#: start hour was compacted is in two segments: as running, then as ended).
ONE_ROW_PER_RUN = """QUALIFY row_number() OVER (
    PARTITION BY run_id ORDER BY status = 'running', end_time DESC NULLS LAST) = 1"""


def log_runs(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs in two hours, with params, metrics and tags that change between them, compacted
    into a covering segment and an open one; returns the id of a run in both."""
    real_now = Tracker._now
    monkeypatch.setattr(Tracker, "_now", lambda self: real_now(self) - timedelta(hours=3))
    for lam in (0.1, 1.0):
        with tracker.start_run(params={"lambda": lam, "model": "ridge"}) as run:
            run.log_metric("val_rmse", 1.0 + lam)
    with pytest.raises(ZeroDivisionError), tracker.start_run(params={"lambda": 0.0}):
        _ = 1 / 0  # a failed run
    long = tracker.start_run(params={"lambda": 5.0, "model": "ridge"})
    monkeypatch.setattr(Tracker, "_now", real_now)
    assert len(tracker.compact()) == 1  # covers that hour, the long run as running
    long.log_metric("val_rmse", 0.5)
    long.end()
    for lam in (10.0, 100.0):  # a new param, a tag, a NaN metric
        with tracker.start_run(
            params={"lambda": lam, "alpha": [1, 2]}, tags={"stage": "refit"}
        ) as run:
            run.log_metric("val_rmse", math.nan if lam > 50 else 3.0)
    assert len(tracker.compact(all_finished=True)) == 1
    return long.run_id


def expected(tracker: Tracker) -> dict[str, dict[str, Any]]:
    """run id -> the columns engines compare, from tracker.runs()."""
    frame = tracker.runs()
    return {row["run_id"]: comparable(row) for row in frame.to_dict("records")}


def comparable(row: dict[str, Any], params_as_json: bool = False) -> dict[str, Any]:
    """The compared columns of a row; ``params_as_json``: its params are JSON text, as in
    a segment (tracker.runs() gives them decoded)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key.startswith(("params.", "metrics.", "tags.")) or key in ("status", "error"):
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            decode = params_as_json and key.startswith("params.") and not missing
            out[key] = None if missing else json.loads(value) if decode else value
        if key == "start_time":
            out[key] = pd.Timestamp(value).tz_convert("UTC").isoformat()
    return out


def test_the_athena_table_in_the_docs_declares_the_segment_schema() -> None:
    import pyarrow as pa

    text = DOC.read_text(encoding="utf-8")
    ddl = text[text.index("CREATE EXTERNAL TABLE") :].split(")\nSTORED AS PARQUET")[0]
    declared = dict(
        line.strip().rstrip(",").replace("`", "").split() for line in ddl.splitlines()[1:]
    )
    athena = {"string": pa.string(), "timestamp": pa.timestamp("us", tz="UTC"),
              "double": pa.float64(), "bigint": pa.int64(), "boolean": pa.bool_()}  # fmt: skip
    assert list(declared) == list(BASE_COLUMNS)
    assert {k: athena[v] for k, v in declared.items()} == {c: base_type(c) for c in BASE_COLUMNS}


def segments_glob(tracker: Tracker) -> str:
    return f"{tracker.board.store.url.removeprefix('file://')}/runs/sweep/segments/*.parquet"


@pytest.fixture(params=["folder", "s3"])
def tracker(request: pytest.FixtureRequest, tmp_path: Path) -> Tracker:
    if request.param == "folder":
        return Tracker(pinyard.board_folder(tmp_path / "board"), "sweep")
    bucket: Bucket = request.getfixturevalue("s3_bucket")
    board = pinyard.board(f"{bucket.url}/team", cache=pinyard.Cache(tmp_path / "cache"),
                          **bucket.storage_options)  # fmt: skip
    return Tracker(board, "sweep")


def connect(tracker: Tracker) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    if tracker.board.store.url.startswith("s3://"):  # DuckDB reads S3 through s3fs here
        db.register_filesystem(tracker.board.store.fs)  # type: ignore[attr-defined]
    return db


def test_duckdb_reads_the_same_runs(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    twice = log_runs(tracker, monkeypatch)
    want = expected(tracker)
    assert " ".join(ONE_ROW_PER_RUN.split()) in " ".join(DOC.read_text(encoding="utf-8").split())
    source = f"read_parquet('{segments_glob(tracker)}', union_by_name = true)"
    db = connect(tracker)
    everything = db.sql(f"SELECT run_id, status FROM {source}").df()
    assert (everything["run_id"] == twice).sum() == 2  # as running, then as finished
    frame = db.sql(f"SELECT * FROM {source} {ONE_ROW_PER_RUN}").df()
    got = {row["run_id"]: comparable(row, True) for row in frame.to_dict("records")}
    assert got == want
    assert got[twice]["status"] == "finished"
    best = db.sql(
        f"""SELECT run_id FROM {source} WHERE status = 'finished'
            {ONE_ROW_PER_RUN} ORDER BY "metrics.val_rmse" LIMIT 1"""
    ).fetchall()
    assert best == [(tracker.best_run("val_rmse").run_id,)]


def test_polars_reads_the_same_runs(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    twice = log_runs(tracker, monkeypatch)
    want = expected(tracker)
    options = None
    if not tracker.board.store.url.startswith("s3://"):
        files = sorted(str(p) for p in Path(segments_glob(tracker)).parent.glob("*.parquet"))
    else:
        fs = tracker.board.store.fs  # type: ignore[attr-defined]
        files = [f"s3://{f}" for f in sorted(fs.glob(segments_glob(tracker)))]
        options = {"aws_endpoint_url": fs.client_kwargs.get("endpoint_url") or fs.endpoint_url,
                   "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                   "aws_region": "us-east-1", "aws_allow_http": "true"}  # fmt: skip
    assert len(files) == 2
    frame = pl.concat(
        [pl.scan_parquet(f, storage_options=options) for f in files], how="diagonal_relaxed"
    ).collect()
    # One row per run: a run's ended row wins over its running one.
    frame = frame.sort(pl.col("status") == "running").unique("run_id", keep="first")
    got = {row["run_id"]: comparable(row, True) for row in frame.to_dicts()}
    assert got == want
    assert got[twice]["status"] == "finished"
