"""Tampering with a registry's events, its state.json or a held version.

`verify` walks every event and names what changed. `resolve` trusts a
state.json whose digest holds and reads only the events after it (two
requests, whatever the history's length: docs/decisions/0014), so an edit
of an event the snapshot has already seen is found by `verify`, and by
`resolve` once the snapshot is gone or stale. Tests marked "resolve does
not refuse" pin down that limit as the code has it now. Each check uses a
new `Registry`, as a reader arriving after the edit would: one that has
already confirmed a state keeps it and reads only the events after it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import pinyard
from pinyard import errors
from pinyard.registry import Registry
from pinyard.registry._chain import sealed_snapshot
from pinyard.registry._events import _canonical, _digest
from tests.registry.conftest import write_versions

EVENTS = "registry/m/events"
SNAPSHOT = "registry/m/state.json"


def event_path(seq: int, name: str = "m") -> str:
    return f"registry/{name}/events/{seq:012d}.json"


@dataclass
class Scene:
    """Pin ``m`` with events 1-4 (champion: v0 then v1; v2 to staging; canary: v2) and pin
    ``other`` with five events of its own, on a folder or a memory board."""

    board: pinyard.Board
    versions: list[str]
    root: Path | None  # the folder, or None for a memory board

    @property
    def registry(self) -> Registry:
        """A reader that comes after the tampering (a `Registry` keeps what it confirmed)."""
        return Registry(self.board, user="ana")

    # -- reaching behind the board's back -------------------------------------

    def read(self, path: str) -> bytes:
        return self.board.store.read_bytes(path)

    def write(self, path: str, data: bytes) -> None:
        if self.root is None:
            self.board.store.corrupt(path, data)  # type: ignore[attr-defined]
            return
        file = self.root / path
        if file.exists():
            os.chmod(file, 0o644)  # committed files are read-only
        file.write_bytes(data)

    def delete(self, path: str) -> None:
        if self.root is None:
            self.board.store.delete_file(path)
        else:
            (self.root / path).unlink()

    def edit_event(self, seq: int, keep_digest: bool, **changes: object) -> None:
        """Change fields of event ``seq``; with ``keep_digest=False`` its digest is
        recomputed, so the event is self-consistent again (only the chain tells)."""
        doc = json.loads(self.read(event_path(seq)))
        digest = doc.pop("digest")
        doc.update(changes)
        doc["digest"] = digest if keep_digest else _digest(doc)
        self.write(event_path(seq), _canonical(doc))

    def edit_snapshot(self, recompute: bool, edit: object) -> None:
        doc = json.loads(self.read(SNAPSHOT))
        edit(doc)  # type: ignore[operator]
        if recompute:
            doc.pop("digest")
            self.write(SNAPSHOT, sealed_snapshot(doc))
        else:
            self.write(SNAPSHOT, json.dumps(doc).encode())

    def without_snapshot(self) -> Registry:
        self.delete(SNAPSHOT)
        return self.registry

    def problems(self) -> list[str]:
        (report,) = self.registry.verify("m")
        assert not report.ok
        return report.problems


def make_scene(root: Path | None) -> Scene:
    board = pinyard.board_folder(root) if root else pinyard.board_memory()
    registry = Registry(board, user="ana")
    v0, v1, v2 = write_versions(board, count=3)
    registry.set_alias("m", "champion", v0, reason="first")
    registry.set_alias("m", "champion", v1, reason="second")
    registry.transition("m", v2, "staging", reason="third")
    registry.set_alias("m", "canary", v2, reason="fourth")
    for version in write_versions(board, "other", count=5):
        registry.set_alias("other", "champion", version)
    assert all(r.ok for r in registry.verify())
    return Scene(board, [v0, v1, v2], root)


@pytest.fixture(params=["folder", "memory"])
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    return make_scene(tmp_path / "board" if request.param == "folder" else None)


@pytest.fixture
def folder_scene(tmp_path: Path) -> Scene:
    """For edits only a folder offers (renaming version folders)."""
    return make_scene(tmp_path / "board")


# -- events --------------------------------------------------------------------


def test_an_edited_event_is_named_by_verify_and_refused_without_the_snapshot(
    scene: Scene,
) -> None:
    scene.edit_event(2, keep_digest=True, reason="nothing to see")
    (problem,) = scene.problems()
    assert "000000000002.json was edited" in problem
    assert "digest does not match" in problem
    # resolve does not refuse: the snapshot has seen event 2, and only later events are read
    assert scene.registry.resolve("m@champion").version == scene.versions[1]
    with pytest.raises(errors.ChainError, match=r"000000000002\.json was edited") as refused:
        scene.without_snapshot().resolve("m@champion")
    assert refused.value.seq == 2
    assert "run `pinyard registry verify`" in str(refused.value)  # what to run next
    with pytest.raises(errors.ChainError, match=r"000000000002\.json was edited.*verify"):
        scene.registry.history("m")


def test_an_event_edited_with_its_digest_recomputed_breaks_the_link_after_it(
    scene: Scene,
) -> None:
    scene.edit_event(2, keep_digest=False, actor="mallory")
    (problem,) = scene.problems()
    assert "000000000003.json does not follow event 2" in problem
    assert "edited or replaced" in problem
    assert scene.registry.resolve("m@champion").version == scene.versions[1]  # not refused
    with pytest.raises(errors.ChainError, match="does not follow event 2") as refused:
        scene.without_snapshot().resolve("m@champion")
    assert refused.value.seq == 2


def test_the_newest_event_edited_with_its_digest_recomputed(scene: Scene) -> None:
    """Only state.json, which saw the original, tells: verify compares it with the replay.
    resolve keeps answering from the snapshot, so it is not fooled; without the snapshot
    the forged head is all there is (anchoring the head elsewhere is the only defence)."""
    v0 = scene.registry.resolve(f"m:{scene.versions[0]}")
    forged = {"version": v0.version, "meta_sha256": v0.meta_sha256, "files": v0.files}
    scene.edit_event(4, keep_digest=False, target=forged)
    assert scene.problems() == ["state.json does not match the replay of the events"]
    assert scene.registry.resolve("m@canary").version == scene.versions[2]
    assert scene.without_snapshot().resolve("m@canary").version == scene.versions[0]


def test_the_newest_event_edited_is_named_by_verify(scene: Scene) -> None:
    scene.edit_event(4, keep_digest=True, reason="edited")
    (problem,) = scene.problems()
    assert "000000000004.json was edited" in problem
    # resolve does not refuse: state.json has seen event 4, and event 5 does not exist
    assert scene.registry.resolve("m@canary").version == scene.versions[2]
    with pytest.raises(errors.ChainError, match=r"000000000004\.json was edited"):
        scene.without_snapshot().resolve("m@canary")


def test_a_deleted_event_in_the_middle(scene: Scene) -> None:
    scene.delete(event_path(2))
    (problem,) = scene.problems()
    assert "000000000002.json is missing but event 3 exists" in problem
    assert "removed" in problem
    assert scene.registry.resolve("m@champion").version == scene.versions[1]  # not refused
    with pytest.raises(errors.ChainError, match=r"000000000002\.json is missing") as refused:
        scene.without_snapshot().resolve("m@champion")
    assert refused.value.seq == 2


def test_a_deleted_newest_event_is_seen_by_verify_through_the_snapshot(scene: Scene) -> None:
    scene.delete(event_path(4))
    (problem,) = scene.problems()
    assert "state.json has seen event 4 but the chain ends at 3" in problem
    # resolve does not refuse: it answers from state.json, which still holds event 4
    assert scene.registry.resolve("m@canary").version == scene.versions[2]
    # a writer checks the newest event state.json has seen, and refuses to build past it
    with pytest.raises(errors.ChainError, match=r"000000000004\.json is missing") as refused:
        scene.registry.set_alias("m", "champion", scene.versions[0])
    assert "Nothing was written" in str(refused.value)
    assert not scene.board.store.exists(event_path(5))
    # without the snapshot, and no event after it, nothing is left to tell
    with pytest.raises(errors.AliasNotFoundError, match="'canary'"):
        scene.without_snapshot().resolve("m@canary")


def test_an_inserted_file_that_is_no_event(scene: Scene) -> None:
    scene.write(f"{EVENTS}/notes.json", b"{}")
    (problem,) = scene.problems()
    assert "holds 'notes.json', which is not an event file" in problem
    assert "inserted" in problem
    assert scene.registry.resolve("m@champion").version == scene.versions[1]  # not refused
    with pytest.raises(errors.ChainError, match=r"notes\.json"):
        scene.without_snapshot().resolve("m@champion")


@pytest.mark.parametrize(
    ("inserted", "words"),
    [
        (b"{}", "000000000005.json is not a format-1 registry event"),
        (b"not json", "000000000005.json is not valid JSON"),
        (None, "000000000005.json holds event 4, not 5: events were reordered"),
    ],
)
def test_an_inserted_next_event_is_refused_by_resolve(
    scene: Scene, inserted: bytes | None, words: str
) -> None:
    scene.write(event_path(5), inserted or scene.read(event_path(4)))
    assert words in scene.problems()[0]
    with pytest.raises(errors.ChainError, match=re.escape(words)) as refused:
        scene.registry.resolve("m@champion")
    assert refused.value.seq == 5
    assert "run `pinyard registry verify`" in str(refused.value)
    with pytest.raises(errors.ChainError, match=re.escape(words)):
        scene.registry.set_alias("m", "champion", scene.versions[0])  # nor written after


def test_an_inserted_next_event_that_does_not_link(scene: Scene) -> None:
    doc = json.loads(scene.read(event_path(4)))
    doc.pop("digest")
    doc.update(seq=5, prev="0" * 64)
    doc["digest"] = _digest(doc)
    scene.write(event_path(5), _canonical(doc))
    with pytest.raises(errors.ChainError, match=r"000000000005\.json does not follow event 4"):
        scene.registry.resolve("m@champion")
    assert "000000000005.json does not follow event 4" in scene.problems()[0]


def test_two_swapped_events(scene: Scene) -> None:
    two, three = scene.read(event_path(2)), scene.read(event_path(3))
    scene.write(event_path(2), three)
    scene.write(event_path(3), two)
    (problem,) = scene.problems()
    assert "000000000002.json holds event 3, not 2: events were reordered" in problem
    assert scene.registry.resolve("m@champion").version == scene.versions[1]  # not refused
    with pytest.raises(errors.ChainError, match="reordered"):
        scene.without_snapshot().resolve("m@champion")


def test_an_event_copied_from_another_name(scene: Scene) -> None:
    scene.write(event_path(5), scene.read(event_path(5, "other")))
    words = "000000000005.json is an event of 'other', not 'm': it was copied here"
    with pytest.raises(errors.ChainError, match=re.escape(words)):
        scene.registry.resolve("m@champion")
    assert words in scene.problems()[0]


def test_an_event_copied_over_one_the_snapshot_has_seen(scene: Scene) -> None:
    scene.write(event_path(1), scene.read(event_path(1, "other")))
    assert "000000000001.json is an event of 'other', not 'm'" in scene.problems()[0]
    assert scene.registry.resolve("m@champion").version == scene.versions[1]  # not refused
    with pytest.raises(errors.ChainError, match="copied here from another name"):
        scene.without_snapshot().resolve("m@champion")


# -- state.json ------------------------------------------------------------------


def point_champion_at(version: str) -> object:
    def edit(doc: dict[str, object]) -> None:
        for slot in doc["replay"]["slots"]:  # type: ignore[index]
            if slot["name"] == "champion":
                slot["timeline"][-1][2] = version

    return edit


def test_a_snapshot_whose_digest_fails_is_ignored_and_reported(scene: Scene) -> None:
    """pinyard replays the events instead; verify says so, since pins and R readers still
    read the edited file (found writing this test: verify said nothing)."""
    scene.edit_snapshot(False, point_champion_at(scene.versions[0]))
    assert scene.registry.resolve("m@champion").version == scene.versions[1]
    chain = scene.registry._chain("m")
    assert scene.registry.state("m").to_dict() == chain.replay().to_dict()
    (problem,) = scene.problems()
    assert "state.json is not a valid snapshot of these events" in problem
    assert "pins and R readers" in problem
    scene.registry.set_alias("m", "champion", scene.versions[2])  # the next change rewrites it
    assert scene.registry.verify("m")[0].ok


def test_the_snapshot_of_another_name_is_ignored_and_reported(scene: Scene) -> None:
    scene.write(SNAPSHOT, scene.read("registry/other/state.json"))
    assert scene.registry.resolve("m@champion").version == scene.versions[1]
    assert "state.json is not a valid snapshot" in scene.problems()[0]


def test_plain_holders_edited_with_the_digest_recomputed(scene: Scene) -> None:
    """What pins and R readers see is checked too (found writing this test: verify compared
    only the replay part, so an edited "aliases" went unreported)."""

    def edit(doc: dict[str, object]) -> None:
        doc["aliases"] = {"champion": scene.versions[0], "canary": scene.versions[2]}

    scene.edit_snapshot(True, edit)
    assert scene.registry.resolve("m@champion").version == scene.versions[1]
    assert scene.problems() == ["state.json does not match the replay of the events"]


def test_a_snapshot_forged_with_its_digest_recomputed(scene: Scene) -> None:
    """resolve does not refuse: a digest anyone can recompute makes the snapshot's replay
    state what resolve answers, until verify compares it with the events."""
    scene.edit_snapshot(True, point_champion_at(scene.versions[0]))
    assert scene.registry.resolve("m@champion").version == scene.versions[0]
    assert scene.problems() == ["state.json does not match the replay of the events"]


# -- the versions the registry holds -------------------------------------------------


def data_txt(scene: Scene, version: str) -> str:
    return f"pins/m/{version}/data.txt"


def test_an_edited_data_txt_of_a_held_version(scene: Scene) -> None:
    v1 = scene.versions[1]
    scene.write(data_txt(scene, v1), scene.read(data_txt(scene, v1)) + b"# edited\n")
    with pytest.raises(errors.IntegrityError, match=f"{v1} \\(m@champion\\) has changed"):
        scene.registry.resolve("m@champion")
    with pytest.raises(errors.IntegrityError, match=r"data\.txt sha256"):
        scene.registry.read("m@champion")
    (problem,) = scene.problems()
    assert v1 in problem
    assert "has changed since the registry recorded it" in problem
    assert scene.registry.resolve("m@canary").version == scene.versions[2]  # others still work


def test_a_data_txt_that_no_longer_parses(scene: Scene) -> None:
    v1 = scene.versions[1]
    scene.write(data_txt(scene, v1), b"title: [unclosed\n")
    # the digest the event recorded fails before the damaged YAML is even parsed
    with pytest.raises(errors.IntegrityError, match=f"{v1} \\(m@champion\\) has changed"):
        scene.registry.resolve("m@champion")
    assert v1 in scene.problems()[0]


def test_an_edited_data_file_of_a_held_version(scene: Scene) -> None:
    """resolve does not refuse: it checks data.txt (which records each file's sha256), not
    the bytes; reading the version, and verify, hash them and refuse."""
    v1 = scene.versions[1]
    scene.write(f"pins/m/{v1}/m.json", b'{"v": 9}')
    assert scene.registry.resolve("m@champion").version == v1
    with pytest.raises(errors.IntegrityError, match=r"file 'm\.json' is corrupt"):
        scene.registry.read("m@champion")
    (problem,) = scene.problems()
    assert v1 in problem
    assert "'m.json' is corrupt" in problem


def test_a_held_version_folder_swapped_with_another(folder_scene: Scene) -> None:
    scene = folder_scene
    assert scene.root is not None
    pins = scene.root / "pins" / "m"
    v1, v2 = scene.versions[1], scene.versions[2]
    (pins / v1).rename(pins / "aside")
    (pins / v2).rename(pins / v1)
    (pins / "aside").rename(pins / v2)
    with pytest.raises(errors.IntegrityError, match=f"{v1} \\(m@champion\\) has changed"):
        scene.registry.resolve("m@champion")
    with pytest.raises(errors.IntegrityError, match=f"{v2} \\(m@canary\\) has changed"):
        scene.registry.resolve("m@canary")
    problems = scene.problems()
    assert len(problems) == 2
    assert v1 in problems[0]
    assert v2 in problems[1]


def test_a_held_version_deleted_behind_the_registry(folder_scene: Scene) -> None:
    scene = folder_scene
    assert scene.root is not None
    v1 = scene.versions[1]
    for file in (scene.root / "pins" / "m" / v1).iterdir():
        file.unlink()
    (scene.root / "pins" / "m" / v1).rmdir()
    with pytest.raises(errors.VersionNotFoundError, match=f"{v1}, which is no longer on"):
        scene.registry.resolve("m@champion")
    assert "no longer on the board" in scene.problems()[0]
