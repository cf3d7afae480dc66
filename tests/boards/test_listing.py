"""The listing index: what it lets a listing skip, and what it never makes it trust.

An in-memory store that behaves like an object store (``needs_cache``) and
counts the calls that cost requests there; the request counts on the real
emulators are in tests/backends/test_remote_boards.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinyard import errors
from pinyard.boards._listing import (
    CHECKS_AT_ONCE,
    FEW,
    MAX_PIECES,
    committed_versions,
    forget,
    name_prefixes,
)
from pinyard.boards._memory import MemoryStore

PIN = "pins/obj"
INDEX = "index/obj.txt"


class ObjectStoreLike(MemoryStore):
    """A memory store listed as an object store is, counting the costly calls."""

    needs_cache = True

    def __init__(self, *, writable: bool = True) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.writable = writable

    def committed_versions(
        self, pin_dir: str, meta_name: str, prefixes: Sequence[str] | None = None
    ) -> list[str]:
        self.calls["undelimited listing"] += len(prefixes) if prefixes is not None else 1
        self.calls["folders listed"] += sum(
            1
            for e in self.list_dir(pin_dir)
            if e.is_dir and (prefixes is None or e.name.startswith(tuple(prefixes)))
        )
        return super().committed_versions(pin_dir, meta_name, prefixes)

    def has_files(self, paths: list[str]) -> list[bool]:
        self.calls["check"] += len(paths)
        return super().has_files(paths)

    def replace_small(self, path: str, data: bytes) -> None:
        if not self.writable:
            raise errors.StorageError("read-only credentials")
        self.calls["index written"] += 1
        with self._lock:
            self._objects[path] = bytes(data)


def version(i: int) -> str:
    return f"20200101T00{i // 60:02d}{i % 60:02d}Z-abcde"


def add(store: MemoryStore, *ids: str, committed: bool = True) -> None:
    for v in ids:
        store.write_exclusive(f"{PIN}/{v}/obj.json", b"{}")
        if committed:
            store.write_exclusive(f"{PIN}/{v}/data.txt", b"file: obj.json\n")


def listed(store: ObjectStoreLike) -> list[str]:
    store.calls.clear()
    return committed_versions(store, PIN, INDEX)


def test_a_small_pin_is_listed_once_without_an_index() -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(FEW - 1)]
    add(store, *ids)
    add(store, version(70), committed=False)  # FEW folders in all
    assert listed(store) == ids
    assert store.calls == {"undelimited listing": 1, "folders listed": FEW}
    assert not store.exists(INDEX)


def test_a_pin_with_no_folder_costs_no_listing_of_objects() -> None:
    store = ObjectStoreLike()
    assert listed(store) == []
    assert store.calls == {}


def test_an_indexed_pin_is_listed_without_checking_a_folder() -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    assert listed(store) == ids
    assert store.calls == {"undelimited listing": 1, "folders listed": 50, "index written": 1}
    assert listed(store) == ids
    assert store.calls == {}


def test_a_few_new_folders_are_checked_one_by_one() -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    listed(store)
    new = [version(60 + i) for i in range(FEW)]
    add(store, *new)
    assert listed(store) == ids + new
    assert store.calls == {"check": FEW, "index written": 1}


def test_new_folders_past_the_indexed_ones_are_listed_alone() -> None:
    """More than `FEW` new folders after the indexed ones: one listing, of them only."""
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    listed(store)
    new = [version(60 + i) for i in range(CHECKS_AT_ONCE)]
    add(store, *new)
    assert listed(store) == ids + new
    assert store.calls == {
        "undelimited listing": 1, "folders listed": CHECKS_AT_ONCE, "index written": 1
    }  # fmt: skip


def test_many_new_folders_spread_among_the_indexed_ones_are_listed() -> None:
    store = ObjectStoreLike()
    ids = [version(2 * i) for i in range(50)]
    add(store, *ids)
    listed(store)
    new = [version(2 * i + 1) for i in range(CHECKS_AT_ONCE + 1)]  # between the old ones
    add(store, *new)
    assert listed(store) == sorted(ids + new)
    assert store.calls["undelimited listing"] == 1
    assert store.calls["check"] == 0


def test_an_old_folder_left_without_data_txt_costs_one_check_not_a_long_listing() -> None:
    """A write cut short early in a long history (until gc removes it) is checked with
    the new folders, one request each, not by listing every object written after it."""
    store = ObjectStoreLike()
    add(store, version(0), committed=False)
    ids = [version(i) for i in range(1, 50)]
    add(store, *ids)
    assert listed(store) == ids
    new = [version(60 + i) for i in range(FEW + 2)]
    add(store, *new)
    assert listed(store) == ids + new
    assert store.calls == {"check": FEW + 3, "index written": 1}


def test_a_folder_without_data_txt_is_never_listed() -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    add(store, version(70), committed=False)
    assert listed(store) == ids
    assert version(70) not in store.read_bytes(INDEX).decode()
    assert listed(store) == ids  # checked again every time, until it is committed
    assert store.calls == {"check": 1}
    store.write_exclusive(f"{PIN}/{version(70)}/data.txt", b"file: obj.json\n")
    assert listed(store) == [*ids, version(70)]


def test_an_entry_whose_folder_is_gone_is_dropped() -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    listed(store)
    store.delete_tree(f"{PIN}/{ids[3]}")  # deleted by pins or R, which know no index
    assert listed(store) == ids[:3] + ids[4:]
    assert store.calls == {"index written": 1}
    assert ids[3] not in store.read_bytes(INDEX).decode()


@pytest.mark.parametrize("raw", [b"", b"not an index\n", b"\xff\xfe garbage", b"# other\nx"])
def test_an_unreadable_index_is_not_trusted(raw: bytes) -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    add(store, version(70), committed=False)
    store.replace_small(INDEX, raw + b"\n" + version(70).encode() + b"\n")
    assert listed(store) == ids
    assert store.calls["undelimited listing"] == 1


def test_read_only_credentials_list_without_writing_the_index() -> None:
    store = ObjectStoreLike(writable=False)
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    assert listed(store) == ids
    assert listed(store) == ids
    assert store.calls == {"undelimited listing": 1, "folders listed": 50}


def test_forget_takes_versions_out_before_they_are_deleted() -> None:
    store = ObjectStoreLike()
    ids = [version(i) for i in range(50)]
    add(store, *ids)
    listed(store)
    forget(store, INDEX, ids[:10])
    index = store.read_bytes(INDEX).decode()
    assert not any(v in index for v in ids[:10])
    assert all(v in index for v in ids[10:])
    # data.txt deleted first, data left by a deletion cut short: no longer listed
    for v in ids[:10]:
        store.delete_file(f"{PIN}/{v}/data.txt")
    assert listed(store) == ids[10:]


# -- pieces of a listing --------------------------------------------------------------


@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=600, unique=True),
    st.integers(1, 50),
)
def test_name_prefixes_cover_each_name_once_in_bounded_pieces(ids: list[int], most: int) -> None:
    names = sorted(f"2020{i:07d}T000000Z-abcde" for i in ids)
    pieces = name_prefixes(names, most=most)
    assert 1 <= len(pieces) <= MAX_PIECES
    for name in names:
        assert sum(name.startswith(p) for p in pieces) == 1, (name, pieces)
    if len(pieces) > 1:  # split as asked, or grown until there were few enough pieces
        sizes = [sum(n.startswith(p) for n in names) for p in pieces]
        grown = name_prefixes(names, most=max(sizes) // 2 + 1)
        assert max(sizes) <= most or len(grown) > MAX_PIECES


def test_name_prefixes_of_names_that_share_nothing_split_at_the_first_character() -> None:
    assert name_prefixes(["a1", "a2", "b1"], most=1) == ["a1", "a2", "b"]
    assert name_prefixes(["a1", "a2", "b1"], most=2) == ["a", "b"]
    assert name_prefixes(["a1", "a2", "b1"], most=3) == [""]
    assert name_prefixes([]) == []


def test_name_prefixes_count_the_other_folders_they_would_list() -> None:
    """Wanted names among others: pieces split until each lists at most ``most`` of all
    the folders, and pieces holding no wanted name are not listed."""
    within = [f"{a}{b}" for a in "abc" for b in "123"]
    assert name_prefixes(["a1", "c3"], within, most=9) == [""]
    assert name_prefixes(["a1", "c3"], within, most=3) == ["a", "c"]
    assert name_prefixes(["a1", "c3"], within, most=2) == ["a1", "c3"]
    assert name_prefixes(["b2"], within, most=1) == ["b2"]
