"""The pinyard command on a folder board and an S3 (moto) board: every subcommand as text
and as --json, exit codes, one-line errors for bad input, and a few real subprocess and
terminal (pty) runs. Boards are shared per module; tests that change a board make their own.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import pinyard
from pinyard.cli._main import EXIT_CODES, exit_code_for, parser
from tests.backends import conftest as backends
from tests.cli_support import Result, cli_environment, open_cli_board, overwrite, run_cli

moto_server = backends.moto_server  # the session's emulator, for the S3 half
PINYARD = str(Path(sys.executable).parent / "pinyard")
VERSION = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{5}$")


@dataclass
class Board:
    """A board every read-only test shares: three pins, an experiment, a registry alias."""

    kind: str
    url: str
    board: pinyard.Board
    fs: Any
    root: str
    versions: dict[str, list[str]] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)


def fill(where: Board, scratch: Path) -> Board:
    b = where.board
    sales = pd.DataFrame({"region": ["north", "south", "east"], "amount": [1.5, 2.0, 3.25]})
    where.versions["sales"] = [
        b.pin_write(sales.head(2), "sales", type="parquet", title="daily sales").version,
        b.pin_write(sales, "sales", type="parquet", title="daily sales").version,
    ]
    where.versions["cfg"] = [b.pin_write({"k": i}, "cfg").version for i in range(3)]
    (scratch / "report.txt").write_text("quarterly report\n")
    where.versions["report"] = [b.pin_upload(str(scratch / "report.txt"), "report").version]
    tracker = pinyard.Tracker(b, "sweep")
    for lam in (0.1, 1.0, 10.0):
        with tracker.start_run(params={"lambda": lam, "model": "ridge"}) as run:
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
            run.log_metric("rmse", abs(lam - 1.0) + 0.5)
            run.log_artifact(b"weights", name="weights.bin")
        where.runs.append(run.run_id)
    pinyard.Registry(b, user="setup").set_alias("cfg", "stable", where.versions["cfg"][1])
    return where


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pytest.MonkeyPatch]:
    import s3fs

    # The CLI's s3fs instances are cached by their (empty) arguments, not by the
    # environment that points them at an emulator: an earlier module's would be reused.
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.MonkeyPatch.context() as patch:
        cli_environment(patch, tmp_path_factory.mktemp("cache"))
        patch.delenv("PINYARD_BOARD", raising=False)
        yield patch
    s3fs.S3FileSystem.clear_instance_cache()  # and this module's for the next


@pytest.fixture(scope="module", params=["folder", "s3"])
def shared(
    request: pytest.FixtureRequest,
    env: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Board:
    return make_board(request.param, request, env, tmp_path_factory.mktemp("shared"))


def make_board(
    kind: str, request: pytest.FixtureRequest, env: pytest.MonkeyPatch, scratch: Path
) -> Board:
    opened = open_cli_board(kind, scratch, env, request, "cli")
    found = Board(kind, opened.url, opened.board, opened.fs, opened.root)
    return fill(found, scratch)


@pytest.fixture
def fresh(
    request: pytest.FixtureRequest, shared: Board, env: pytest.MonkeyPatch, tmp_path: Path
) -> Board:
    """A board of the same kind as ``shared``, for one test that changes it."""
    return make_board(shared.kind, request, env, tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    return run_cli(capsys, argv)


# -- reading commands, as text and as JSON ------------------------------------------------


def test_pins_list_versions_meta(shared: Board, capsys: pytest.CaptureFixture[str]) -> None:
    url = shared.url
    text = cli(capsys, "pins", "list", url).ok().out
    assert re.search(r"^NAME\s+TYPE\s+SIZE\s+CREATED\s+LATEST\s+TITLE$", text, re.M)
    assert re.search(
        r"^sales\s+parquet\s+[\d.]+ KiB\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+"
        + shared.versions["sales"][-1]
        + r"\s+daily sales$",
        text,
        re.M,
    )
    docs = cli(capsys, "pins", "list", "--board", url, "--json").ok().doc
    assert [d["name"] for d in docs] == ["cfg", "report", "sales"]
    assert set(docs[0]) == {"name", "type", "title", "latest", "created", "size"}
    found = cli(capsys, "pins", "list", url, "--search", "^sa", "--json").ok().doc
    assert [d["name"] for d in found] == ["sales"]

    text = cli(capsys, "pins", "versions", url, "cfg").ok().out.splitlines()
    assert text[0].split() == ["VERSION", "CREATED", "SIZE", "TYPE", "HASH"]
    assert text[-1].endswith("latest")
    assert len(text) == 4
    docs = cli(capsys, "pins", "versions", url, "cfg", "--json").ok().doc
    assert [d["version"] for d in docs] == shared.versions["cfg"]
    assert [d["latest"] for d in docs] == [False, False, True]
    assert set(docs[0]) == {"version", "created", "hash", "type", "size", "latest"}

    first = shared.versions["sales"][0]
    text = cli(capsys, "pins", "meta", url, "sales", "--version", first).ok().out
    assert text.startswith(f"sales:{first}\n")
    assert re.search(r"file sales\.parquet: [\d.]+ KiB, sha256 [0-9a-f]{64}", text)
    doc = cli(capsys, "pins", "meta", url, "sales", "--json").ok().doc
    assert (doc["version"], doc["type"], doc["title"]) == (
        shared.versions["sales"][-1],
        "parquet",
        "daily sales",
    )
    assert re.fullmatch(r"[0-9a-f]{64}", doc["files"][0]["sha256"])


def test_pins_read_prints_tables_and_json_or_writes_out(
    shared: Board, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = shared.url
    lines = cli(capsys, "pins", "read", url, "sales").ok().out.splitlines()
    assert lines[0].split() == ["region", "amount"]
    assert lines[3].split() == ["east", "3.25"]
    doc = cli(capsys, "pins", "read", url, "sales", "--json", "--rows", "1").ok().doc
    assert (doc["kind"], doc["columns"], doc["total_rows"]) == ("table", ["region", "amount"], 3)
    assert doc["rows"] == [{"region": "north", "amount": 1.5}]
    text = cli(capsys, "pins", "read", url, "sales", "--rows", "1").ok().out
    assert "(1 of 3 rows; --rows N for more, --out FILE for all)" in text
    assert json.loads(cli(capsys, "pins", "read", url, "cfg").ok().out) == {"k": 2}
    doc = (
        cli(capsys, "pins", "read", url, "cfg", "--version", shared.versions["cfg"][0], "--json")
        .ok()
        .doc
    )
    assert (doc["kind"], doc["value"]) == ("value", {"k": 0})
    out = tmp_path / "sales.csv"
    doc = cli(capsys, "pins", "read", url, "sales", "--out", str(out), "--json").ok().doc
    assert doc["out"] == str(out)
    assert pd.read_csv(out)["amount"].tolist() == [1.5, 2.0, 3.25]
    cli(capsys, "pins", "read", url, "report").error(2, "pinyard pins download", "report")
    cli(capsys, "pins", "read", url, "sales", "--out", str(tmp_path / "x.txt")).error(2, "x.txt")


def test_pins_read_of_a_joblib_pin_needs_leave_to_unpickle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As pins asks: refused, naming the flag, unless --allow-pickle-read (or the variable)."""
    monkeypatch.delenv("PINS_ALLOW_PICKLE_READ", raising=False)
    url = str(tmp_path / "board")
    pinyard.board_folder(url).pin_write({"model": (1, 2)}, "model", type="joblib")
    out = tmp_path / "model.joblib"
    cli(capsys, "pins", "read", url, "model", "--out", str(out)).error(
        2, "pass --allow-pickle-read", "PINS_ALLOW_PICKLE_READ=1"
    )
    assert not out.exists()
    cli(capsys, "pins", "read", url, "model", "--out", str(out), "--allow-pickle-read").ok()
    assert out.exists()
    monkeypatch.setenv("PINS_ALLOW_PICKLE_READ", "1")
    cli(capsys, "pins", "read", url, "model", "--out", str(tmp_path / "again.joblib")).ok()


def test_runs_commands(shared: Board, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url, first, best = shared.url, shared.runs[0], shared.runs[1]  # lambda 1.0: rmse 0.5
    text = cli(capsys, "runs", "experiments", url).ok().out.splitlines()
    assert text[0].split() == ["EXPERIMENT", "RUNS", "FINISHED", "LAST", "START"]
    assert text[1].split()[:3] == ["sweep", "3", "3"]
    docs = cli(capsys, "runs", "experiments", url, "--json").ok().doc
    assert [(d["experiment"], d["runs"], d["finished"]) for d in docs] == [("sweep", 3, 3)]

    lines = cli(capsys, "runs", "list", url, "sweep").ok().out.splitlines()
    assert lines[0].split() == [
        "RUN_ID",
        "STATUS",
        "START_TIME",
        "DURATION",
        "lambda",
        "model",
        "loss",
        "rmse",
    ]
    assert lines[1].split()[0] == first
    assert re.search(r"  \d+ ms  |  \d+\.\d s  ", lines[1])  # a duration in human units
    rows = (
        cli(capsys, "runs", "list", url, "sweep", "--where", "metrics.rmse < 1", "--json").ok().doc
    )
    assert [r["run_id"] for r in rows] == [best]
    assert rows[0]["params.lambda"] == 1.0
    rows = cli(capsys, "runs", "search", url, "sweep", "params.lambda >= 1", "--json").ok().doc
    assert [r["run_id"] for r in rows] == shared.runs[1:]
    text = cli(capsys, "runs", "list", url, "sweep", "--columns", "run_id,metrics.rmse").ok().out
    assert text.splitlines()[0].split() == ["RUN_ID", "metrics.rmse"]

    text = cli(capsys, "runs", "show", url, "sweep", first).ok().out
    assert text.startswith(f"run {first} of sweep\n")
    assert re.search(r"params\.lambda:\s+0\.1$", text, re.M)
    doc = cli(capsys, "runs", "show", url, "sweep", first, "--json").ok().doc
    assert (doc["run_id"], doc["status"], doc["params"]["lambda"]) == (first, "finished", 0.1)
    assert set(doc) >= {"metrics", "tags", "artifacts", "start_time", "end_time", "duration_s"}

    doc = cli(capsys, "runs", "best", url, "sweep", "rmse", "--json").ok().doc
    assert (doc["run_id"], doc["metrics"]["rmse"]) == (best, 0.5)
    doc = cli(capsys, "runs", "best", url, "sweep", "rmse", "--max", "--json").ok().doc
    assert doc["run_id"] == shared.runs[2]
    assert f"run {best} of sweep" in cli(capsys, "runs", "best", url, "sweep", "rmse").ok().out

    text = cli(capsys, "runs", "compare", url, "sweep", first, best).ok().out
    assert re.search(rf"^\s+{first}\s+{best}$", text.splitlines()[0])
    assert re.search(r"^\*params\.lambda\s+0\.1\s+1$", text, re.M)
    assert re.search(r"^params\.model\s+ridge\s+ridge$", text, re.M)
    doc = cli(capsys, "runs", "compare", url, "sweep", first, best, "--json").ok().doc
    assert [r["run_id"] for r in doc["runs"]] == [first, best]
    assert doc["differs"] == ["params.lambda", "metrics.rmse"]

    for suffix in (".png", ".svg"):
        out = tmp_path / f"sweep{suffix}"
        doc = (
            cli(
                capsys,
                "runs",
                "plot",
                url,
                "sweep",
                "--x",
                "lambda",
                "--y",
                "rmse",
                "--out",
                str(out),
                "--json",
            )
            .ok()
            .doc
        )
        assert doc["out"] == str(out)
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "sweep.svg").read_bytes()[:500]
    out = tmp_path / "steps.png"
    cli(capsys, "runs", "plot", url, "sweep", "--y", "loss", "--steps", first, "--out", str(out))
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_registry_gc_fsck_cache_on_an_intact_board(
    shared: Board, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = shared.url
    assert (
        cli(capsys, "registry", "resolve", url, "cfg@stable").ok().out.strip()
        == (shared.versions["cfg"][1])
    )
    doc = cli(capsys, "registry", "resolve", "--board", url, "cfg@stable", "--json").ok().doc
    assert doc["version"] == shared.versions["cfg"][1]
    assert "would remove 0 leftover(s)" in cli(capsys, "gc", url, "--dry-run").ok().out
    doc = cli(capsys, "gc", url, "--dry-run", "--json").ok().doc
    assert doc == {
        "dry_run": True,
        "staging": [],
        "orphan_versions": [],
        "temporary": [],
        "uploads": [],
        "run_artifacts": [],
        "run_series": [],
    }
    text = cli(capsys, "fsck", url).ok().out
    assert "pins: 6 version(s) checked: 6 ok, 0 damaged" in text
    assert "runs: 3 run(s) read: 3 ok, 0 damaged" in text
    assert "cfg: ok (1 event, 1 held version re-hashed)" in text
    assert text.rstrip().endswith("board OK")
    doc = cli(capsys, "fsck", url, "--json").ok().doc
    assert (doc["ok"], doc["pins"]["verified"], doc["runs"]["checked"]) == (True, 6, 3)
    assert {r["name"] for r in doc["registry"]} == {".board", "cfg"}
    doc = cli(capsys, "pins", "verify", url, "--json").ok().doc
    assert (doc["ok"], doc["verified"], doc["failed"]) == (True, 6, [])
    assert cli(capsys, "pins", "verify", url, "cfg").ok().out.strip() == (
        "3 version(s) checked: 3 ok, 0 damaged"
    )

    cache = tmp_path / "cache"
    assert re.fullmatch(
        rf"{cache}: 0 file\(s\), 0 B of at most [\d.]+ GiB\n",
        cli(capsys, "cache", "info", "--cache-dir", str(cache)).ok().out,
    )
    doc = (
        cli(capsys, "cache", "prune", "--cache-dir", str(cache), "--max-bytes", "0", "--json")
        .ok()
        .doc
    )
    assert doc == {"freed_bytes": 0, "entries": 0, "bytes": 0}


def test_the_board_comes_from_the_flag_the_first_argument_or_the_environment(
    shared: Board, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = shared.versions["cfg"][-1]
    forms = (
        ["pins", "versions", shared.url, "cfg"],
        ["pins", "versions", "--board", shared.url, "cfg"],
        ["pins", "versions", "cfg", "--board", shared.url],
        ["--board", shared.url, "pins", "versions", "cfg"],
        ["pins", "versions", shared.url, "--json", "cfg"],
    )
    for argv in forms:
        assert cli(capsys, *argv, "--json").ok().doc[-1]["version"] == latest, argv
    cli(capsys, "pins", "versions", "cfg").error(2, "--board URL", "PINYARD_BOARD")
    monkeypatch.setenv("PINYARD_BOARD", shared.url)
    assert cli(capsys, "pins", "versions", "cfg", "--json").ok().doc[-1]["version"] == latest
    assert cli(capsys, "runs", "list", "sweep", "--json").ok().doc[0]["run_id"] == shared.runs[0]
    # with the variable set, a path given first still names the board
    if shared.kind == "folder":
        assert cli(capsys, "pins", "list", shared.url, "--json").ok().doc[0]["name"] == "cfg"


# -- commands that change a board ---------------------------------------------------------


def test_write_upload_download(
    fresh: Board, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = fresh.url
    csv = tmp_path / "prices.csv"
    csv.write_text("item,price\npen,1.5\nink,3\n")
    doc = (
        cli(
            capsys,
            "pins",
            "write",
            url,
            "prices",
            str(csv),
            "--title",
            "price list",
            "--meta",
            "owner=ops",
            "--json",
        )
        .ok()
        .doc
    )
    assert (doc["name"], doc["type"], doc["written"]) == ("prices", "csv", True)
    assert VERSION.match(doc["version"])
    meta = fresh.board.pin_meta("prices")
    assert (meta.title, dict(meta.user)) == ("price list", {"owner": "ops"})
    assert fresh.board.pin_read("prices")["price"].tolist() == [1.5, 3.0]
    text = cli(capsys, "pins", "write", url, "prices", str(csv)).ok().out
    assert "same content as version" in text
    assert "nothing written" in text
    js = tmp_path / "settings.json"
    js.write_text('{"depth": 3}')
    assert cli(capsys, "pins", "write", url, "settings", str(js), "--json").ok().doc["type"] == (
        "json"
    )
    assert fresh.board.pin_read("settings") == {"depth": 3}
    doc = (
        cli(capsys, "pins", "write", url, "settings-pq", str(csv), "--type", "parquet", "--json")
        .ok()
        .doc
    )
    assert doc["type"] == "parquet"

    files = [tmp_path / "a.bin", tmp_path / "b.bin"]
    for i, path in enumerate(files):
        path.write_bytes(bytes([i]) * 1000)
    text = cli(capsys, "pins", "upload", url, "blobs", *map(str, files)).ok().out
    assert re.fullmatch(rf"wrote blobs:{VERSION.pattern[1:-1]} \(file, 2\.0 KiB\)\n", text)
    out = tmp_path / "got"
    doc = cli(capsys, "pins", "download", url, "blobs", "--out", str(out), "--json").ok().doc
    assert doc["files"] == [str(out / "a.bin"), str(out / "b.bin")]
    assert [Path(p).read_bytes() for p in doc["files"]] == [f.read_bytes() for f in files]
    text = cli(capsys, "pins", "download", url, "blobs", "--out", str(out)).ok().out
    assert "(2.0 KiB, verified):" in text
    # the copies are the user's to edit; the board's files stay as they were
    Path(doc["files"][0]).write_bytes(b"edited")
    assert cli(capsys, "pins", "verify", url, "blobs").code == 0

    cli(capsys, "pins", "write", url, "x", str(tmp_path / "missing.csv")).error(3, "missing.csv")
    cli(capsys, "pins", "write", url, "x", str(tmp_path)).error(2, "is a folder")
    cli(capsys, "pins", "write", url, "x", str(files[0])).error(2, "'.bin'", "pins upload")
    cli(capsys, "pins", "download", url, "blobs", "--out", str(csv)).error(2, "is a file")


def test_write_makes_a_board_only_with_create(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d.json"
    data.write_text("[1, 2]")
    target = str(tmp_path / "new-board")
    cli(capsys, "pins", "write", target, "d", str(data)).error(3, "no pinyard board", "--create")
    assert not os.path.exists(target)
    cli(capsys, "pins", "write", target, "d", str(data), "--create").ok()
    assert pinyard.board_folder(target, create=False).pin_read("d") == [1, 2]


def test_delete_and_prune_ask_show_and_refuse(
    fresh: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    url, cfg = fresh.url, fresh.versions["cfg"]
    doc = cli(capsys, "pins", "prune", url, "cfg", "--keep", "1", "--dry-run", "--json").ok().doc
    # the newest is kept, and so is the one the alias 'stable' holds
    assert doc == {"name": "cfg", "deleted": [cfg[0]], "dry_run": True}
    text = cli(capsys, "pins", "prune", url, "cfg", "--keep", "1", "--dry-run").ok().out
    assert text == f"would delete 1 version(s) of cfg (dry run):\n  {cfg[0]}\n"
    cli(capsys, "pins", "prune", url, "cfg", "--keep", "1").error(2, "--yes", "--dry-run")
    cli(capsys, "pins", "prune", url, "cfg").error(2, "--keep N", "--days D")
    assert [v.version for v in fresh.board.pin_versions("cfg", as_df=False)] == cfg
    doc = cli(capsys, "pins", "prune", url, "cfg", "--keep", "1", "--yes", "--json").ok().doc
    assert doc["deleted"] == [cfg[0]]
    assert [v.version for v in fresh.board.pin_versions("cfg", as_df=False)] == cfg[1:]

    cli(capsys, "pins", "delete-version", url, "cfg", cfg[1], "--yes").error(
        5, "protected", "stable"
    )
    cli(capsys, "pins", "delete-version", url, "cfg", cfg[2], "--yes").error(
        5, "latest", "write a newer version first"
    )
    sales = fresh.versions["sales"]
    text = cli(capsys, "pins", "delete-version", url, "sales", sales[0], "--dry-run").ok().out
    assert text == f"would delete sales:{sales[0]} (dry run; nothing deleted)\n"
    cli(capsys, "pins", "delete-version", url, "sales", sales[0]).error(2, "--yes")
    doc = cli(capsys, "pins", "delete-version", url, "sales", sales[0], "-y", "--json").ok().doc
    assert doc == {"name": "sales", "deleted": [sales[0]], "dry_run": False}
    assert [v.version for v in fresh.board.pin_versions("sales", as_df=False)] == sales[1:]
    cli(capsys, "pins", "delete-version", url, "sales", sales[0], "-y").error(3, sales[0])


def test_verify_and_fsck_report_every_damage_and_repair_only_leftovers(
    fresh: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    url, b = fresh.url, fresh
    # two damaged pin versions, a damaged run artifact, an edited registry event, a leftover
    for name, version, file in (
        ("cfg", b.versions["cfg"][0], "cfg.json"),
        ("sales", b.versions["sales"][1], "sales.parquet"),
    ):
        _overwrite(b, f"pins/{name}/{version}/{file}", b"damaged")
    record = b.board.store.read_bytes(f"runs/sweep/artifacts/{_sha(b'weights')}")
    assert record == b"weights"
    _overwrite(b, f"runs/sweep/artifacts/{_sha(b'weights')}", b"weightz")
    orphan = "pins/report/20200101T000000Z-abcde/report.txt"
    _overwrite(b, orphan, b"left behind")

    r = cli(capsys, "pins", "verify", url)
    r.error(4, "2 version(s) damaged", "listed above")
    assert f"DAMAGED cfg:{b.versions['cfg'][0]}:" in r.out
    assert f"DAMAGED sales:{b.versions['sales'][1]}:" in r.out
    assert r.out.strip().endswith("6 version(s) checked: 4 ok, 2 damaged")
    doc = cli(capsys, "pins", "verify", url, "--json").doc
    assert (doc["ok"], doc["verified"], len(doc["failed"])) == (False, 4, 2)

    r = cli(capsys, "fsck", url, "--older-than-hours", "0")
    r.error(4, "fsck found", "problem(s)", "--repair removes leftovers only")
    assert "runs: 3 run(s) read: 0 ok, 3 damaged" in r.out  # every run shares the artifact
    assert "weights.bin" in r.out
    assert "leftovers: 1 found" in r.out
    assert "orphan version" in r.out
    assert r.out.rstrip().endswith("board DAMAGED: see the lines marked above")
    r = cli(capsys, "fsck", url, "--older-than-hours", "0", "--repair", "--json")
    assert r.code == 4
    doc = r.doc
    assert doc["ok"] is False
    assert doc["repaired"] is True
    assert doc["leftovers"]["dry_run"] is False
    assert len(doc["leftovers"]["orphan_versions"]) == 1
    assert len(doc["pins"]["failed"]) == 2
    assert len(doc["runs"]["failed"]) == 3
    assert not b.fs.exists(f"{b.root}/{orphan}")
    # damage is left for a backup to restore; only the leftover went
    assert b.fs.cat_file(f"{b.root}/pins/cfg/{b.versions['cfg'][0]}/cfg.json") == b"damaged"

    events = sorted(p for p in b.fs.find(f"{b.root}/registry/cfg") if "events" in p)
    assert events
    raw = b.fs.cat_file(events[0])
    _overwrite(b, events[0][len(b.root) + 1 :], raw.replace(b"setup", b"mallory"))
    r = cli(capsys, "fsck", url)
    r.error(8, "fsck found")
    assert "cfg: DAMAGED, chain broken" in r.out


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _overwrite(b: Board, relative: str, data: bytes) -> None:
    overwrite(b.fs, b.root, relative, data)


# -- bad input: one line, the right exit code ---------------------------------------------


def test_bad_input(shared: Board, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = shared.url
    cli(capsys, "pins", "list", "ftp9://host/board").error(2, "unknown storage protocol 'ftp9'")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a board")
    cli(capsys, "pins", "list", str(a_file)).error(3, "is a file, not a folder")
    cli(capsys, "runs", "experiments", str(a_file)).error(3, "is a file, not a folder")
    cli(capsys, "fsck", str(a_file)).error(3, "is a file, not a folder")
    cli(capsys, "pins", "list", str(tmp_path / "typo")).error(3, "no pinyard board", "--create")
    assert not (tmp_path / "typo").exists()
    for argv in (
        ["runs", "list", url, "nope"],
        ["runs", "show", url, "nope", shared.runs[0]],
        ["runs", "best", url, "nope", "rmse"],
        ["runs", "compare", url, "nope", "x"],
        ["runs", "plot", url, "nope", "--x", "a", "--y", "b", "--out", "p.png"],
    ):
        cli(capsys, *argv).error(3, "experiment 'nope' has no runs", "sweep")
    cli(capsys, "runs", "list", url, "sweep", "--where", "metrics.rmse <").error(2, "expected")
    cli(capsys, "runs", "search", url, "sweep", "params.lambda ==== 1").error(2, "params.lambda")
    cli(capsys, "runs", "best", url, "sweep", "nope").error(2, "metrics logged: loss, rmse")
    cli(capsys, "runs", "show", url, "sweep", "20200101T000000Z-00000000").error(3, "no run")
    cli(capsys, "runs", "show", url, "sweep", "../etc").error(
        2, "invalid run id", "pinyard runs list"
    )
    cli(capsys, "pins", "meta", url, "missing").error(3, "pin missing does not exist", "cfg")
    cli(capsys, "pins", "meta", url, "cfg", "--version", "20200101T000000Z-abcde").error(3)
    cli(capsys, "pins", "meta", url, "../x").error(2, "invalid pin name")
    cli(capsys, "pins", "lst", url).error(2, "invalid choice: 'lst'", "pinyard pins --help")
    cli(capsys, "pins", "list", url, "--bogus").error(2, "unrecognized arguments: --bogus")
    cli(capsys, "pins", "list", url, "-o", "novalue").error(2, "KEY=VALUE")
    cli(
        capsys, "runs", "plot", url, "sweep", "--x", "lambda", "--y", "rmse", "--out", "plot.gif"
    ).error(2, ".png, .svg or .pdf")


def test_an_unreachable_board_is_a_storage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, env: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    cli(
        capsys, "pins", "list", "s3://bucket/board", "-o", f"endpoint_url=http://127.0.0.1:{port}"
    ).error(9, "s3://bucket/board", "connect")


def test_an_unexpected_error_is_one_line_too(
    shared: Board, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(pinyard.Board, "pin_meta", broken)
    cli(capsys, "pins", "meta", shared.url, "cfg").error(
        1, "unexpected RuntimeError: something nobody expected", "PINYARD_DEBUG=1"
    )


def test_exit_codes_come_from_one_table_and_are_documented() -> None:
    from pinyard import errors

    assert exit_code_for(errors.PinNotFoundError("x")) == 3
    assert exit_code_for(errors.ChainError("x")) == 8
    assert exit_code_for(errors.IntegrityError("x")) == 4
    assert exit_code_for(errors.QueryError("x")) == 2
    assert exit_code_for(errors.StorageError("x")) == 9
    assert exit_code_for(errors.ConflictError("x")) == 6
    assert exit_code_for(errors.ProtectedVersionError("x")) == 5
    assert exit_code_for(errors.PromotionRefusedError("x", evidence={})) == 7
    assert exit_code_for(KeyboardInterrupt()) == 130
    assert exit_code_for(RuntimeError("x")) == 1
    text = parser().format_help()
    codes = sorted({code for _, code in EXIT_CODES} | {0})
    for code in codes:
        assert re.search(rf"^  {code}\s+\w", text, re.M), code
    doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for code in codes:
        assert re.search(rf"^\| {code} \|", doc, re.M), code


# -- the command tree ---------------------------------------------------------------------


def _leaves(p: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Any]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, p
        return
    shown = {c.dest for c in subs[0]._choices_actions}
    for name, child in subs[0].choices.items():
        if name in shown:
            yield from _leaves(child, (*path, name))


LEAVES = dict(_leaves(parser()))
#: Commands that run a server (they print no result to shape as JSON).
SERVERS = {("serve",), ("ui",)}


def _groups(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            shown = {c.dest for c in action._choices_actions}
            for name, child in action.choices.items():
                if name in shown and any(
                    isinstance(a, argparse._SubParsersAction) for a in child._actions
                ):
                    yield child


def test_every_command_has_help_with_an_example_and_json() -> None:
    assert len(LEAVES) >= 35
    groups = list(_groups(parser()))
    assert {g.prog for g in groups} == {f"pinyard {g}" for g in ("pins", "runs", "registry",
                                                                 "cache")}  # fmt: skip
    for grouped in groups:
        assert "example:\n  pinyard " in grouped.format_help(), grouped.prog
    for path, cmd in LEAVES.items():
        text = cmd.format_help()
        assert "example:\n  pinyard " in text, path
        if path not in SERVERS:
            assert "--json" in text, path
    for command in ("pins", "runs", "registry", "fsck", "gc", "cache", "completion"):
        assert command in parser().format_help()
    for action in (
        "list",
        "versions",
        "meta",
        "read",
        "write",
        "upload",
        "download",
        "delete-version",
        "prune",
        "verify",
    ):
        assert ("pins", action) in LEAVES
    for action in ("experiments", "list", "show", "best", "search", "compare", "plot"):
        assert ("runs", action) in LEAVES


def test_docs_show_every_command_with_its_json() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for path in LEAVES:
        assert f"### `pinyard {' '.join(path)}`" in doc, path


def test_the_old_flat_forms_keep_working(
    shared: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    url = shared.url
    r = cli(capsys, "list", url).ok()
    assert r.doc == ["cfg", "report", "sales"]
    assert "`pinyard pins list BOARD`" in r.err
    r = cli(capsys, "versions", url, "cfg").ok()
    assert [v["version"] for v in r.doc] == shared.versions["cfg"]
    assert cli(capsys, "meta", url, "cfg").ok().doc["version"] == shared.versions["cfg"][-1]
    assert cli(capsys, "verify", url).ok().doc["verified"] == 6
    r = cli(capsys, "runs", url, "sweep", "--where", "metrics.rmse < 1").ok()
    assert [row["run_id"] for row in r.doc] == [shared.runs[1]]
    assert "`pinyard runs list BOARD EXPERIMENT`" in r.err
    assert cli(capsys, "compact", url, "sweep").ok().doc == {"segments": []}


def test_completion_scripts_know_every_command(tmp_path: Path) -> None:
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        done = subprocess.run(
            [PINYARD, "completion", shell], capture_output=True, text=True, check=True, timeout=60
        )
        scripts[shell] = done.stdout
        for path in LEAVES:
            assert path[-1] in done.stdout, (shell, path)
    assert "complete -F _pinyard pinyard" in scripts["bash"].replace("-o default ", "")
    assert scripts["zsh"].startswith("#compdef pinyard")
    assert "__fish_seen_subcommand_from pins" in scripts["fish"]
    (tmp_path / "c.bash").write_text(scripts["bash"])
    subprocess.run(["bash", "-n", str(tmp_path / "c.bash")], check=True, timeout=30)

    def complete(*words: str) -> list[str]:
        line = " ".join(["pinyard", *words])
        probe = (
            f"source {tmp_path / 'c.bash'}; COMP_WORDS=({line}); "
            f"COMP_CWORD={len(words)}; _pinyard; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        )
        done = subprocess.run(
            ["bash", "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            timeout=30,
        )
        return done.stdout.split()

    assert complete("pi") == ["pins"]
    assert set(complete("pins", "d")) == {"delete-version", "download"}
    assert "--dry-run" in complete("pins", "prune", "--d")
    assert complete("runs", "./board", "--lim") == []  # list takes --limit, not the group
    assert complete("runs", "list", "--lim") == ["--limit"]

    # zsh loads its script (bash's function through bashcompinit); fish completes for real
    (tmp_path / "_pinyard").write_text(scripts["zsh"])
    zsh = "autoload -U compinit && compinit -u -D; source ./_pinyard && whence -w _pinyard"
    loaded = subprocess.run(["zsh", "-f", "-c", zsh], capture_output=True, text=True,
                            cwd=tmp_path, timeout=30, check=True)  # fmt: skip
    assert loaded.stdout.strip() == "_pinyard: function", loaded.stderr
    (tmp_path / "c.fish").write_text(scripts["fish"])

    def fish(line: str) -> list[str]:
        probe = f"source c.fish; complete -C '{line}'"
        done = subprocess.run(["fish", "--no-config", "-c", probe], capture_output=True,
                              text=True, cwd=tmp_path, timeout=30, check=True)  # fmt: skip
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    assert fish("pinyard pi") == ["pins"]
    assert set(fish("pinyard pins d")) == {"delete-version", "download"}
    assert "--dry-run" in fish("pinyard pins prune --d")


# -- real processes: a terminal's width, a pipe, a prompt ---------------------------------


def in_terminal(argv: list[str], columns: int, answer: bytes | None = None) -> tuple[int, str]:
    """Run ``pinyard ARGV`` on a pseudo-terminal ``columns`` wide; what it printed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "PINYARD_PROGRESS": "0"}
    proc = subprocess.Popen(
        [PINYARD, *argv], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    asked = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed
                break
            if not data:
                break
            chunks.append(data)
            if answer is not None and not asked and b"[y/N]" in b"".join(chunks):
                os.write(master, answer)
                asked = True
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode().replace("\r\n", "\n")


def test_tables_fit_the_terminal_and_pipes_get_everything(shared: Board) -> None:
    shown = {}
    for argv in (["pins", "list", shared.url], ["runs", "list", shared.url, "sweep"]):
        code, text = in_terminal(argv, 60)
        assert code == 0, text
        assert max(len(line) for line in text.splitlines()) <= 60, text
        shown[argv[0]] = text
        piped = subprocess.run(
            [PINYARD, *argv], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        assert max(len(line) for line in piped.splitlines()) > 60
        assert "…" not in piped
        assert "see --json" not in piped
    assert "…" in shown["pins"]  # the title column is shortened
    assert re.search(r"\(\+\d columns?: see --json\)", shown["runs"])  # counted, not wrapped
    assert shown["runs"].splitlines()[1].startswith(shared.runs[0])  # the id is never cut
    piped = subprocess.run(
        [PINYARD, "runs", "list", shared.url, "sweep", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [r["run_id"] for r in json.loads(piped.stdout)] == shared.runs


def test_a_terminal_user_is_asked_before_anything_is_deleted(fresh: Board) -> None:
    cfg = fresh.versions["cfg"]
    code, text = in_terminal(["pins", "prune", fresh.url, "cfg", "--keep", "1"], 100, b"n\n")
    assert code == 0, text
    assert f"cfg: 1 version(s) to delete:\n  {cfg[0]}" in text
    assert "delete 1 version(s) of 'cfg'? [y/N]" in text
    assert "nothing deleted" in text
    assert len(fresh.board.pin_versions("cfg", as_df=False)) == 3
    code, text = in_terminal(["pins", "prune", fresh.url, "cfg", "--keep", "1"], 100, b"y\n")
    assert code == 0, text
    assert f"deleted 1 version(s) of cfg:\n  {cfg[0]}" in text
    assert len(fresh.board.pin_versions("cfg", as_df=False)) == 2


def test_the_installed_command_exits_with_the_documented_codes(
    shared: Board, tmp_path: Path
) -> None:
    done = subprocess.run(
        [PINYARD, "pins", "meta", shared.url, "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith("pinyard: error: pin nope does not exist")
    assert done.stderr.count("\n") == 1
    done = subprocess.run(
        [PINYARD, "pins", "list", shared.url, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert [d["name"] for d in json.loads(done.stdout)] == ["cfg", "report", "sales"]
    # a reader that has gone (`| head` when it has seen enough) is no error
    reader, writer = os.pipe()
    os.close(reader)  # gone before the command writes anything
    with subprocess.Popen(
        [PINYARD, "pins", "meta", shared.url, "sales", "--json"],
        stdout=writer,
        stderr=subprocess.PIPE,
    ) as proc:
        os.close(writer)
        assert proc.stderr is not None
        assert (proc.wait(timeout=60), proc.stderr.read()) == (0, b"")
    done = subprocess.run(
        [PINYARD, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert "exit codes:" in done.stdout


def test_the_cli_imports_only_public_names() -> None:
    import ast

    cli_dir = Path(__file__).parents[1] / "src" / "pinyard" / "cli"
    private = []
    for path in cli_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "pinyard" and parts[1:2] != ["cli"]:
                    names = [*parts[1:], *(alias.name for alias in node.names)]
                    private += [f"{path.name}: {node.module}" for n in names if n[0] == "_"]
    assert private == []


def test_a_typo_in_a_board_path_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    """Read commands never create a board; import-pins makes one only in an existing
    folder unless given --create, and says so (as the flag, not the Python argument)."""
    import shutil

    from tests.interop._support import PINS_PYTHON_BOARD

    typo = tmp_path / "nonexistent" / "dir" / "board"
    cli(capsys, "pins", "list", str(typo)).error(3, str(typo))
    source = Path(shutil.copytree(PINS_PYTHON_BOARD, tmp_path / "plain"))
    cli(capsys, "import-pins", str(source), str(typo)).error(3, str(typo), "--create")
    assert not (tmp_path / "nonexistent").exists()
    doc = cli(capsys, "import-pins", str(source), str(typo), "--create", "--json").ok().doc
    assert doc["imported"]
    assert pinyard.board_folder(typo, create=False).pin_list()
