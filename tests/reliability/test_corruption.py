"""Corruption: flip a byte, truncate, empty or edit each stored kind -- data files,
``data.txt``, registry events and snapshots, run records, series chunks, notes,
artifacts, checkpoints, segments, cache entries -- and read it back the way a user
does. Every read either detects the damage with a typed `PinyardError` whose message
names the damaged object, or heals (returns exactly what was written, from a good
copy or by recomputing derived data). Never a wrong value, never a raw error.

Edits into other valid content (``data.txt`` fields, run records, notes, series
chunks) are caught by the digests those kinds carry (decision 0018).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import pinyard
from pinyard.errors import PinyardError
from tests.reliability.conftest import record


@dataclass
class World:
    root: Path
    runs: list[str]  # run ids: 0-2 compacted into an open segment, 3-5 loose
    good: dict[str, Any]


def _reads(board: pinyard.Board, runs: list[str]) -> dict[str, Callable[[], Any]]:
    """Every user-level read of the world, by the kind of object it reads."""
    tracker = pinyard.Tracker(board, "exp")
    registry = pinyard.Registry(board)
    return {
        "pin:js": lambda: board.pin_read("js"),
        "pin:df": lambda: board.pin_read("df").to_dict("list"),
        "pin:pk": lambda: board.pin_read("pk"),
        "meta:js": lambda: _meta(board.pin_meta("js")),
        "meta:df": lambda: _meta(board.pin_meta("df")),
        "meta:pk": lambda: _meta(board.pin_meta("pk")),
        "download:js": lambda: [Path(p).read_bytes() for p in board.pin_download("js")],
        "aliases": lambda: registry.aliases("js"),
        "history": lambda: [(e.id, e.seq, e.version) for e in registry.history("js")],
        "runs": lambda: _table(tracker.runs()),
        "get_run": lambda: [_record(tracker.get_run(r)) for r in runs],
        "series": lambda: [tracker.history(r).to_dict("list") for r in runs],
        "artifacts": lambda: [tracker.artifact(r, "art") for r in runs[:3]],
        "notes": lambda: tracker.notes(runs[0]),
    }


def _meta(meta: Any) -> tuple[Any, ...]:
    return (meta.type, meta.user, meta.created, meta.title, meta.file_names, meta.pin_hash)


def _record(run: Any) -> dict[str, Any]:
    return {k: getattr(run, k) for k in ("status", "params", "metrics", "tags", "artifacts")}


def _table(frame: pd.DataFrame) -> Any:
    columns = ["run_id", "status", *sorted(c for c in frame.columns if "." in c)]
    return frame.sort_values("run_id")[columns].astype(str).to_dict("list")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("corruption") / "board"
    board = pinyard.board_folder(root, create=True, allow_pickle_read=True)
    board.pin_write({"a": 1, "b": "hello world"}, "js", type="json")
    board.pin_write(pd.DataFrame({"x": [1, 2, 3]}), "df")
    board.pin_write({"m": 1}, "pk", type="joblib")
    registry = pinyard.Registry(board)
    registry.set_alias("js", "champion", board.pin_meta("js").version)
    registry.set_alias("js", "challenger", board.pin_meta("js").version)
    tracker = pinyard.Tracker(board, "exp")
    runs = []
    for i in range(6):
        with tracker.start_run(params={"p": i}) as run:
            for step in range(3):
                run.log_metric("loss", step + i * 10.0, step=step)
            run.log_artifact(f"artifact {i}".encode(), name="art")
            runs.append(run.run_id)
        if i == 0:
            tracker.note(run.run_id, "a note")
        if i == 2:
            tracker.compact(all_finished=True)  # runs 0-2 into an open segment
    reader = pinyard.Tracker(pinyard.board_folder(root, allow_pickle_read=True), "exp")
    reader.checkpoint_after = 1
    reader.runs()  # writes a checkpoint of the loose runs
    board = pinyard.board_folder(root, allow_pickle_read=True)
    good = {k: read() for k, read in _reads(board, runs).items()}
    return World(root, runs, good)


# -- the damage ----------------------------------------------------------------------------


def _flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def _edit_json(change: Callable[[Any], None]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        value = json.loads(data)
        change(value)
        return json.dumps(value).encode()

    return edit


def _edit_yaml(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        value = yaml.safe_load(data)
        change(value)
        return yaml.safe_dump(value).encode()

    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        d[key] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


def _edit_first_point(d: list[list[Any]]) -> None:
    d[0][2] = -1.0  # [key, step, value, time]: the first value


MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "flip": _flip,
    "truncate": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
}


@dataclass(frozen=True)
class Case:
    kind: str
    pattern: str  # glob under the board root
    names: tuple[str, ...]  # what the error message may name (any of them)
    mutations: tuple[tuple[str, Callable[[bytes], bytes]], ...] = tuple(MUTATIONS.items())


CASES = [
    Case("data file (json)", "pins/js/*/js.json", ("'js'",)),
    Case("data file (parquet)", "pins/df/*/df.parquet", ("'df'",)),
    Case("data file (pickle)", "pins/pk/*/pk.joblib", ("'pk'",)),
    Case("data.txt", "pins/js/*/data.txt", ("'js'", "pins/js/")),
    Case("registry event", "registry/js/events/000000000002.json", ("events/000000000002",)),
    Case("registry event (first)", "registry/js/events/000000000001.json", ("events/0000000",)),
    Case("registry snapshot", "registry/js/state.json", ("registry/js",)),
    Case("artifact", "runs/exp/artifacts/{art0}", ("artifact 'art'",)),
    Case("checkpoint", "runs/exp/checkpoints/*/*.arrow", ("checkpoints/",)),
    Case("segment", "runs/exp/segments/*.parquet", ("segments/",)),
    Case("run record (truncated)", "runs/exp/records/*/{run3}.json", ("{run3}",),
         (("truncate", MUTATIONS["truncate"]), ("empty", MUTATIONS["empty"]))),
]  # fmt: skip

#: edits into other valid content, and damage to the kinds whose digest came last
EDIT_CASES = [
    Case("data.txt field type", "pins/js/*/data.txt", ("'js'", "pins/js/"),
         (("edit", _edit_yaml(_set("type", "csv"))),)),
    Case("data.txt field user", "pins/js/*/data.txt", ("'js'", "pins/js/"),
         (("edit", _edit_yaml(_set("user", {"owner": "mallory"}))),)),
    Case("data.txt field created", "pins/js/*/data.txt", ("'js'", "pins/js/"),
         (("edit", _edit_yaml(_set("created", "20200101T000000Z"))),)),
    Case("data.txt field title", "pins/js/*/data.txt", ("'js'", "pins/js/"),
         (("edit", _edit_yaml(_set("title", "another title"))),)),
    Case("data.txt lost its pinyard key", "pins/js/*/data.txt", ("'js'", "pins/js/"),
         (("edit", _edit_yaml(_drop("pinyard"))),)),
    Case("run record (edited)", "runs/exp/records/*/{run3}.json", ("{run3}",),
         (("edit", _edit_json(lambda d: d["params"].update(p=99))), ("flip", _flip))),
    Case("series chunk", "runs/exp/series/{run3}/000000*.json", ("{run3}",),
         (*MUTATIONS.items(), ("edit", _edit_json(_edit_first_point)))),
    Case("note", "runs/exp/notes/{run0}/*.json", ("{run0}",),
         (*MUTATIONS.items(), ("edit", _edit_json(_set("text", "another note"))))),
]  # fmt: skip


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(case, label, mutate, id=f"{case.kind}-{label}")
        for case in cases
        for label, mutate in case.mutations
    ]


def _ids(world: World) -> dict[str, str]:
    ids = {f"run{i}": r for i, r in enumerate(world.runs)}
    ids["art0"] = hashlib.sha256(b"artifact 0").hexdigest()
    return ids


def _damage(world: World, tmp_path: Path, case: Case, mutate: Callable[[bytes], bytes]) -> Path:
    root = tmp_path / "board"
    shutil.copytree(world.root, root)
    ids = _ids(world)
    found = sorted(root.glob(case.pattern.format(**ids)))
    assert len(found) == 1, f"{case.pattern}: {found}"
    path = found[0]
    data = path.read_bytes()
    damaged = mutate(data)
    assert damaged != data
    os.chmod(path, 0o644)
    path.write_bytes(damaged)
    return root


def _check_every_read(world: World, root: Path, case: Case) -> dict[str, int]:
    return _check_reads(world, pinyard.board_folder(root, allow_pickle_read=True), case)


def _check_reads(world: World, board: pinyard.Board, case: Case) -> dict[str, int]:
    ids = _ids(world)
    names = [n.format(**ids) for n in case.names]
    outcome = {"detected": 0, "healed": 0}
    wrong: list[str] = []
    unnamed: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "checkpoint ... skipped": the heal says so
        for what, read in _reads(board, world.runs).items():
            try:
                got = read()
            except PinyardError as exc:
                named = any(n in str(exc) for n in names)
                if not named:
                    unnamed.append(f"{what}: {type(exc).__name__}: {exc}")
                outcome["detected"] += 1
                continue
            except Exception as exc:
                raise AssertionError(f"{what}: raw {type(exc).__name__}: {exc}") from exc
            if got == world.good[what]:
                outcome["healed"] += 1
            else:
                wrong.append(what)
    assert not wrong, f"damage read back as if true by: {wrong}"
    assert not unnamed, f"errors that do not name the damaged object ({names}): {unnamed}"
    assert outcome["detected"] or case.kind in HEALS, "nothing noticed the damage"
    return outcome


#: kinds that are derived or replayable: a read recomputes them instead of failing
HEALS = {"registry snapshot", "checkpoint"}


@pytest.mark.parametrize(("case", "label", "mutate"), _params(CASES))
def test_damage_is_detected_or_healed(
    world: World, tmp_path: Path, case: Case, label: str, mutate: Callable[[bytes], bytes]
) -> None:
    root = _damage(world, tmp_path, case, mutate)
    outcome = _check_every_read(world, root, case)
    record("corruption", damaged_objects=1, **outcome)


@pytest.mark.parametrize(("case", "label", "mutate"), _params(EDIT_CASES))
def test_edits_into_valid_content_are_caught_by_digests(
    world: World, tmp_path: Path, case: Case, label: str, mutate: Callable[[bytes], bytes]
) -> None:
    root = _damage(world, tmp_path, case, mutate)
    outcome = _check_every_read(world, root, case)
    record("corruption", damaged_objects=1, **outcome)


# -- cache entries of a remote board -----------------------------------------------------


@pytest.mark.parametrize("label", sorted(MUTATIONS))
@pytest.mark.parametrize("entry", ["blobs", "meta"])
def test_a_damaged_cache_entry_is_fetched_again(
    s3_bucket: Any, tmp_path: Path, entry: str, label: str
) -> None:
    """A cached data file or data.txt that fails its check is dropped and fetched
    again from the (good) remote: the read heals, and the cache holds a good copy."""
    cache = pinyard.Cache(tmp_path / "cache")
    url = f"{s3_bucket.url}/board"
    board = pinyard.board(url, cache=cache, **s3_bucket.storage_options)
    value = {"a": 1, "b": "the remote copy is good"}
    board.pin_write(value, "js", type="json")
    assert board.pin_read("js") == value  # fills the cache
    cached = sorted(p for p in (tmp_path / "cache" / entry).rglob("*") if p.is_file())
    assert cached, f"nothing cached under {entry}/"
    for path in cached:
        os.chmod(path, 0o644)
        path.write_bytes(MUTATIONS[label](path.read_bytes()))
    options = s3_bucket.storage_options
    fresh = pinyard.board(url, cache=pinyard.Cache(tmp_path / "cache"), **options)
    assert fresh.pin_read("js") == value
    assert fresh.pin_meta("js").user == {}
    again = pinyard.board(url, cache=pinyard.Cache(tmp_path / "cache"), **options)
    assert again.pin_read("js") == value
    record("corruption", damaged_objects=len(cached), healed=1)


# -- the same damage on S3 and Azure -----------------------------------------------------

REMOTE_CASES = [c for c in CASES if c.kind in {
    "data file (json)", "data file (pickle)", "data.txt", "registry event", "registry snapshot",
    "artifact", "segment", "run record (truncated)",
}]  # fmt: skip


@pytest.mark.parametrize("backend", ["s3_bucket", "azure_container"])
@pytest.mark.parametrize("case", REMOTE_CASES, ids=lambda c: c.kind)
def test_damage_on_a_remote_board_is_detected_or_healed(
    world: World, tmp_path: Path, request: pytest.FixtureRequest, backend: str, case: Case
) -> None:
    """The board in a bucket, one object truncated there (below pinyard), read through a
    board with an empty cache: detected naming the object, or healed."""
    bucket = request.getfixturevalue(backend)
    root = _damage(world, tmp_path, case, MUTATIONS["truncate"])
    bucket.fs.put(str(root), bucket.path("board"), recursive=True)
    bucket.fs.invalidate_cache()
    board = pinyard.board(f"{bucket.url}/board", cache=pinyard.Cache(tmp_path / "cache"),
                          allow_pickle_read=True,
                          **bucket.storage_options)  # fmt: skip
    outcome = _check_reads(world, board, case)
    record("corruption (remote)", damaged_objects=1, **outcome)
