"""`BoardTests`: the behaviour every board backend must show, as a pytest mixin."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pinyard import Board, errors
from pinyard.boards._meta import DIGEST_KEY, content_digest
from pinyard.tracking import Tracker

#: 'sales' in fullwidth letters: a look-alike that NFKC folds onto 'sales'.
WIDE = "\uff53\uff41\uff4c\uff45\uff53"
#: Set by `_Tripwire` when it is unpickled: proves a read unpickled nothing.
UNPICKLED: list[str] = []


def _trip(label: str) -> str:
    UNPICKLED.append(label)
    return label


class _Tripwire:
    """An object whose unpickling leaves a trace in `UNPICKLED`."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_trip, ("tripwire",))


def _in_pins(board: Board, rel: str) -> str:
    """A store path inside the board's pins folder (``pins/`` on a pinyard board, the
    root itself on a plain pins board)."""
    prefix = board._pins
    return f"{prefix}/{rel}" if prefix else rel


class BoardTests:
    """Subclass in a test module and implement `make_board` and `overwrite`.

    ``make_board`` returns a new, empty board; ``overwrite`` replaces the
    bytes of one stored object behind the board's back (to simulate
    corruption). Every test here then runs against that backend.
    """

    def make_board(self, tmp_path: Path) -> Board:
        """A new, empty board (or override the ``board`` fixture instead)."""
        raise TypeError(f"{type(self).__name__} must define make_board or a board fixture")

    def overwrite(self, board: Board, path: str, data: bytes) -> None:
        """Replace the bytes of one stored object behind the board's back."""
        raise TypeError(f"{type(self).__name__} must define overwrite(board, path, data)")

    @pytest.fixture
    def board(self, tmp_path: Path) -> Board:
        return self.make_board(tmp_path)

    def _data_path(self, board: Board, name: str, version: str | None = None) -> str:
        meta = board.pin_meta(name, version)
        return _in_pins(board, f"{name}/{meta.version}/{meta.file_names[0]}")

    # -- round trips -----------------------------------------------------------

    @pytest.mark.parametrize("obj", [{"a": [1, 2.5, None], "b": "text"}, [1, "two", True]])
    def test_json_round_trip(self, board: Board, obj: Any) -> None:
        meta = board.pin_write(obj, "obj")
        assert meta.type == "json"
        assert board.pin_read("obj") == obj

    def test_joblib_round_trip(self, board: Board) -> None:
        obj = {"weights": (1.5, 2.5), "labels": {"x", "y"}}
        assert board.pin_write(obj, "model", type="joblib").type == "joblib"
        board.allow_pickle_read = True  # as if opened with allow_pickle_read=True
        assert board.pin_read("model") == obj

    def test_pickles_are_read_only_when_allowed(
        self, board: Board, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """As in pins: refused unless the board allows it or PINS_ALLOW_PICKLE_READ=1."""
        board.pin_write({"k": 1}, "model", type="joblib")
        board.allow_pickle_read = None
        monkeypatch.delenv("PINS_ALLOW_PICKLE_READ", raising=False)
        UNPICKLED.clear()
        with pytest.raises(errors.InsecureReadError, match="allow_pickle_read=True"):
            board.pin_read("model")
        monkeypatch.setenv("PINS_ALLOW_PICKLE_READ", "1")
        assert board.pin_read("model") == {"k": 1}
        board.allow_pickle_read = False  # the argument wins over the variable
        with pytest.raises(errors.InsecureReadError, match="PINS_ALLOW_PICKLE_READ=1"):
            board.pin_read("model")

    def test_object_that_is_not_data_defaults_to_joblib(self, board: Board) -> None:
        assert board.pin_write(complex(1, 2), "c").type == "joblib"
        board.allow_pickle_read = True
        assert board.pin_read("c") == complex(1, 2)

    @pytest.mark.parametrize("type_name", ["parquet", "arrow", "csv"])
    def test_pandas_round_trip(self, board: Board, type_name: str) -> None:
        pd = pytest.importorskip("pandas")
        df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.5, 2.5], "z": ["a", "b c", "d,e"]})
        meta = board.pin_write(df, "df", type=type_name)
        assert meta.title == "df: a pinned 3 x 3 DataFrame"
        pd.testing.assert_frame_equal(board.pin_read("df"), df, check_dtype=type_name != "csv")

    @pytest.mark.parametrize("type_name", ["parquet", "arrow", "csv"])
    def test_arrow_table_round_trip(self, board: Board, type_name: str) -> None:
        pa = pytest.importorskip("pyarrow")
        table = pa.table({"x": [1, 2], "s": ["a", "b"]})
        board.pin_write(table, "t", type=type_name)
        back = board.pin_read("t")
        assert isinstance(back, pa.Table)
        assert back.to_pylist() == table.to_pylist()

    def test_data_frame_defaults_to_parquet(self, board: Board) -> None:
        pd = pytest.importorskip("pandas")
        assert board.pin_write(pd.DataFrame({"a": [1]}), "df").type == "parquet"

    # -- metadata and hashes ---------------------------------------------------

    def test_metadata_records_both_digests_of_the_stored_bytes(self, board: Board) -> None:
        xxhash = pytest.importorskip("xxhash")
        meta = board.pin_write({"k": 1}, "obj", metadata={"owner": "ana"}, description="d")
        raw = board.store.read_bytes(_in_pins(board, f"obj/{meta.version}/obj.json"))
        assert meta.files[0].sha256 == hashlib.sha256(raw).hexdigest()
        assert meta.pin_hash == xxhash.xxh64(raw, seed=0).hexdigest()
        assert meta.version.endswith("-" + meta.pin_hash[:5])
        assert meta.file_size == len(raw)
        again = board.pin_meta("obj")
        assert (again.user, again.description, again.files) == ({"owner": "ana"}, "d", meta.files)

    def test_identical_content_is_not_written_again(self, board: Board) -> None:
        first = board.pin_write({"k": 1}, "obj")
        second = board.pin_write({"k": 1}, "obj")
        assert (first.written, second.written) == (True, False)
        assert second.version == first.version
        assert len(board.pin_versions("obj", as_df=False)) == 1
        third = board.pin_write({"k": 1}, "obj", force_identical_write=True)
        assert third.written
        assert third.version > first.version
        assert len(board.pin_versions("obj", as_df=False)) == 2

    def test_latest_is_the_last_write_even_within_one_second(self, board: Board) -> None:
        written = [board.pin_write({"i": i}, "fast").version for i in range(12)]
        assert written == sorted(written)
        assert len(set(written)) == 12
        listed = [v.version for v in board.pin_versions("fast", as_df=False)]
        assert listed == written
        assert board.pin_read("fast") == {"i": 11}

    def test_read_with_hash_checks_it(self, board: Board) -> None:
        meta = board.pin_write({"k": 1}, "obj")
        assert board.pin_read("obj", hash=meta.pin_hash) == {"k": 1}
        assert board.pin_read("obj", hash=meta.files[0].sha256) == {"k": 1}
        with pytest.raises(errors.HashMismatchError, match="doesn't match pin hash") as info:
            board.pin_read("obj", hash="0000000000000000")
        assert not isinstance(info.value, errors.IntegrityError)  # nothing is damaged

    # -- verification ------------------------------------------------------------

    def test_corrupt_byte_raises_integrity_error_naming_everything(self, board: Board) -> None:
        meta = board.pin_write({"k": "value"}, "obj")
        path = self._data_path(board, "obj")
        raw = bytearray(board.store.read_bytes(path))
        raw[3] ^= 0x01
        self.overwrite(board, path, bytes(raw))
        with pytest.raises(errors.IntegrityError) as info:
            board.pin_read("obj")
        message = str(info.value)
        for part in ("'obj'", meta.version, "obj.json", meta.files[0].sha256):
            assert part in message
        with pytest.raises(errors.IntegrityError):
            board.pin_download("obj")

    def test_corrupt_pickle_is_never_unpickled(self, board: Board) -> None:
        pickle = pytest.importorskip("pickle")
        board.pin_write({"safe": True}, "model", type="joblib")
        board.allow_pickle_read = True
        UNPICKLED.clear()
        self.overwrite(board, self._data_path(board, "model"), pickle.dumps(_Tripwire()))
        with pytest.raises(errors.IntegrityError):
            board.pin_read("model")
        assert UNPICKLED == []

    def test_truncated_metadata_raises_metadata_error(self, board: Board) -> None:
        meta = board.pin_write({"k": 1}, "obj")
        path = _in_pins(board, f"obj/{meta.version}/data.txt")
        self.overwrite(board, path, board.store.read_bytes(path)[:20])
        with pytest.raises(errors.MetadataError, match=r"data\.txt"):
            board.pin_read("obj")

    @pytest.mark.parametrize(
        "text", [b"[1, 2]", b"file: x.json\n", b"{{{", b"api_version: 2\nfile: a\ntype: json\n"]
    )
    def test_malformed_metadata_raises_metadata_error(self, board: Board, text: bytes) -> None:
        meta = board.pin_write({"k": 1}, "obj")
        self.overwrite(board, _in_pins(board, f"obj/{meta.version}/data.txt"), text)
        with pytest.raises(errors.MetadataError):
            board.pin_meta("obj")

    def test_metadata_pointing_outside_the_version_is_refused(self, board: Board) -> None:
        meta = board.pin_write({"k": 1}, "obj")
        path = _in_pins(board, f"obj/{meta.version}/data.txt")
        text = board.store.read_bytes(path).replace(b"file: obj.json", b"file: ../../x.json")
        self.overwrite(board, path, text)
        with pytest.raises(errors.IntegrityError, match="edited or damaged"):
            board.pin_read("obj")  # caught first by data.txt's digest (0018)
        self.overwrite(board, path, _sealed_again(text))  # a forger's, digest and all
        with pytest.raises(errors.MetadataError, match="separator"):
            board.pin_read("obj")

    # -- bad input -----------------------------------------------------------------

    @pytest.mark.parametrize(
        "name",
        ["", "a/b", "..", "../x", "/abs", "a\\b", "tab\there", "nul\x00", "x" * 248, ".hidden",
         7, "a\ud800", "CON", "nul.txt", "a*b", "why?", "end.", "cafe\u0301", "DATA.TXT"],
    )  # fmt: skip
    def test_invalid_names_are_refused_and_nothing_is_written(
        self, board: Board, name: Any
    ) -> None:
        writes: list[Callable[[], object]] = [
            lambda: board.pin_write({"k": 1}, name),
            lambda: board.pin_upload([__file__], name),
        ]
        for write in writes:
            with pytest.raises(errors.InvalidNameError, match="invalid pin name") as info:
                write()
            assert repr(name)[:40] in str(info.value)
            assert "A new pin name is one path component" in str(info.value)
        assert board.pin_list() == []
        assert list(board.store.walk_files("pins")) == []

    @pytest.mark.parametrize("name", ["n" * 247, "é" * 123 + "x", "daily prices", WIDE])
    def test_every_name_accepted_can_be_written_and_read(self, board: Board, name: str) -> None:
        meta = board.pin_write(pd_frame(), name)  # parquet: the longest extension
        assert meta.file_names == (f"{name}.parquet",)
        assert board.pin_list() == [name]
        assert board.pin_read(name).equals(pd_frame())

    def test_a_new_name_that_folds_onto_an_existing_pin_is_refused(self, board: Board) -> None:
        board.pin_write({"k": 1}, "Sales")
        before = sorted(board.store.walk_files(""))
        for other in (
            "sales",
            "SALES",
            WIDE,
            WIDE.upper(),
        ):
            with pytest.raises(errors.InvalidNameError, match="only in case or Unicode") as info:
                board.pin_write({"k": 2}, other)
            assert repr(other) in str(info.value)
            assert "existing pin 'Sales'" in str(info.value)
        with pytest.raises(errors.InvalidNameError, match="existing pin 'Sales'"):
            board.pin_upload([__file__], "sALES")
        assert sorted(board.store.walk_files("")) == before  # nothing half-written
        assert board.pin_write({"k": 2}, "Sales").written  # the pin itself takes versions
        assert board.pin_write({"k": 1}, "Sales-2").written
        assert board.pin_list() == ["Sales", "Sales-2"]

    @pytest.mark.parametrize(
        "path", ["../x", "pins/../../x", "/abs", "a//b", "a/./b", "pins/", "a\\b", "a\x00b"]
    )
    def test_store_paths_that_could_leave_the_root_are_refused(
        self, board: Board, path: str
    ) -> None:
        for call in (
            lambda: board.store.read_bytes(path),
            lambda: board.store.exists(path),
            lambda: board.store.list_dir(path),
            lambda: board.store.write_exclusive(path, b"x"),
            lambda: board.store.delete_tree(path),
        ):
            with pytest.raises(errors.InvalidNameError, match="refusing store path") as info:
                call()
            assert repr(path) in str(info.value)

    @pytest.mark.parametrize(
        "run_id", ["../../../x/../../../../y", "/etc/passwd", "20260101T000000Z-0000000\x00"]
    )
    def test_run_ids_that_are_not_run_ids_are_refused(self, board: Board, run_id: str) -> None:
        if board.kind == "pins":  # a plain pins board has no runs at all
            with pytest.raises(errors.InvalidArgumentError, match="needs a pinyard board"):
                Tracker(board, "sweep")
            return
        tracker = Tracker(board, "sweep")
        with tracker.start_run() as run:
            run.log_metric("loss", 1.0, step=0)
        before = sorted(board.store.walk_files(""))
        for call in (
            lambda: tracker.get_run(run_id),
            lambda: tracker.note(run_id, "text"),
            lambda: tracker.notes(run_id),
            lambda: tracker.history(run_id),
            lambda: tracker.artifact(run_id, "a"),
        ):
            with pytest.raises(errors.InvalidNameError, match="invalid run id") as info:
                call()
            assert repr(run_id) in str(info.value)
        assert sorted(board.store.walk_files("")) == before
        with pytest.raises(errors.InvalidNameError, match="invalid experiment name"):
            Tracker(board, "../sweep")

    def test_unknown_type_and_unfit_objects(self, board: Board) -> None:
        with pytest.raises(errors.UnsupportedTypeError, match="known types"):
            board.pin_write({"k": 1}, "obj", type="xlsx")
        with pytest.raises(errors.UnsupportedTypeError, match="parquet"):
            board.pin_write({"k": 1}, "obj", type="parquet")
        with pytest.raises(errors.SerializationError, match="joblib"):
            board.pin_write({"k": {1, 2}}, "obj", type="json")
        with pytest.raises(errors.SerializationError):
            board.pin_write({"k": float("nan")}, "obj")
        with pytest.raises(errors.SerializationError, match="metadata"):
            board.pin_write({"k": 1}, "obj", metadata={"when": object()})
        assert board.pin_list() == []

    def test_missing_pin_and_version(self, board: Board) -> None:
        with pytest.raises(errors.PinNotFoundError, match="nope does not exist"):
            board.pin_read("nope")
        with pytest.raises(KeyError):
            board.pin_meta("nope")
        meta = board.pin_write({"k": 1}, "obj")
        with pytest.raises(errors.VersionNotFoundError, match=meta.version):
            board.pin_read("obj", version="20000101T000000Z-abcde")
        with pytest.raises(errors.InvalidNameError, match="version id"):
            board.pin_read("obj", version="../../etc")

    def test_versioned_false_keeps_one_version(self, board: Board) -> None:
        first = board.pin_write({"k": 1}, "obj", versioned=False)
        second = board.pin_write({"k": 2}, "obj", versioned=False)
        assert [v.version for v in board.pin_versions("obj", as_df=False)] == [second.version]
        assert board.pin_read("obj") == {"k": 2}
        assert first.version != second.version  # written beside, then the old one deleted
        board.pin_write({"k": 3}, "obj")  # versioned again: pins' default
        with pytest.raises(errors.InvalidArgumentError, match="Pin is versioned"):
            board.pin_write({"k": 4}, "obj", versioned=False)
        assert len(board.pin_versions("obj", as_df=False)) == 2

    # -- listing, search, files ----------------------------------------------------

    def test_list_search_and_exists(self, board: Board) -> None:
        board.pin_write({"k": 1}, "alpha", title="first thing")
        board.pin_write([1], "beta", title="second")
        assert board.pin_list() == ["alpha", "beta"]
        assert board.pin_exists("alpha")
        assert not board.pin_exists("gamma")
        found = board.pin_search("first", as_df=False)
        assert [m.name for m in found] == ["alpha"]

    def test_upload_and_download_files(self, board: Board, tmp_path: Path) -> None:
        a, b = tmp_path / "a.txt", tmp_path / "b.csv"
        a.write_bytes(b"hello")
        b.write_bytes(b"x,y\n1,2\n")
        meta = board.pin_upload([a, b], "files")
        assert (meta.type, meta.file) == ("file", ["a.txt", "b.csv"])
        paths = board.pin_download("files")
        assert [Path(p).read_bytes() for p in paths] == [b"hello", b"x,y\n1,2\n"]
        with pytest.raises(errors.UnsupportedTypeError, match="pin_download"):
            board.pin_read("files")
        with pytest.raises(errors.InvalidArgumentError, match="not an existing file"):
            board.pin_upload([tmp_path / "missing.txt"], "files2")

    # -- deleting --------------------------------------------------------------------

    def test_prune_keeps_latest_and_protected_versions(self, board: Board) -> None:
        versions = [board.pin_write({"i": i}, "obj").version for i in range(5)]
        board.add_protection_hook(lambda n, v: "alias @champion" if v == versions[1] else None)
        deleted = board.pin_versions_prune("obj", n=2)
        assert deleted == [versions[0], versions[2]]
        left = [v.version for v in board.pin_versions("obj", as_df=False)]
        assert left == [versions[1], versions[3], versions[4]]
        with pytest.raises(errors.InvalidArgumentError):
            board.pin_versions_prune("obj", n=0)
        with pytest.raises(errors.InvalidArgumentError):
            board.pin_versions_prune("obj")
        assert board.pin_versions_prune("obj", days=1) == []

    def test_version_delete_refuses_latest_and_protected(self, board: Board) -> None:
        v1 = board.pin_write({"i": 1}, "obj").version
        v2 = board.pin_write({"i": 2}, "obj").version
        with pytest.raises(errors.ProtectedVersionError, match="latest"):
            board.pin_version_delete("obj", v2)
        board.add_protection_hook(lambda n, v: "stage production" if v == v1 else None)
        with pytest.raises(errors.ProtectedVersionError, match="production"):
            board.pin_version_delete("obj", v1)
        with pytest.raises(errors.ProtectedVersionError):
            board.pin_delete("obj")
        assert board.pin_read("obj", version=v1) == {"i": 1}

    def test_delete_version_and_pin(self, board: Board) -> None:
        v1 = board.pin_write({"i": 1}, "obj").version
        board.pin_write({"i": 2}, "obj")
        board.pin_version_delete("obj", v1)
        assert len(board.pin_versions("obj", as_df=False)) == 1
        board.pin_delete("obj")
        assert board.pin_list() == []

    # -- concurrency -------------------------------------------------------------------

    def test_concurrent_writers_lose_nothing(self, board: Board) -> None:
        def writer(w: int) -> None:
            for i in range(10):
                board.pin_write({"writer": w, "i": i}, "shared")

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        versions = board.pin_versions("shared", as_df=False)
        assert len(versions) == 40
        contents = {_pair(board.pin_read("shared", v.version)) for v in versions}
        assert contents == {(w, i) for w in range(4) for i in range(10)}


def pd_frame() -> Any:
    import pandas as pd

    return pd.DataFrame({"a": [1, 2]})


def _pair(value: dict[str, int]) -> tuple[int, int]:
    return value["writer"], value["i"]


def _sealed_again(text: bytes) -> bytes:
    """data.txt with its digest recomputed after an edit: what a deliberate forger
    writes, to test the checks behind the digest."""
    doc = yaml.safe_load(text)
    doc[DIGEST_KEY] = f"sha256:{content_digest(doc)}"
    return yaml.safe_dump(doc, sort_keys=True).encode()
