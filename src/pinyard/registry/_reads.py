"""The read half of `Registry`: resolve references, history, lineage, verify, watch
(what they return is in `pinyard.registry._answers`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from pinyard.boards import Board, PinMeta, VersionInfo
from pinyard.boards._boundary import guarded
from pinyard.errors import (
    AliasNotFoundError,
    IntegrityError,
    InvalidArgumentError,
    InvalidReferenceError,
    NotFoundError,
    VersionNotFoundError,
)
from pinyard.registry._answers import Lineage, Resolved
from pinyard.registry._chain import Chain, Committed, Plan
from pinyard.registry._events import Event, Target, utc_text
from pinyard.registry._refs import Reference, parse_reference, registry_name
from pinyard.registry._state import Config, HistoryCut, Slot, State
from pinyard.registry._verify import VerifyReport, uncached, verify_chain

if TYPE_CHECKING:
    import pandas as pd


REGISTRY_DIR = "registry"
HISTORY_COLUMNS = ["seq", "time", "actor", "op", "kind", "slot", "version", "previous",
                   "from_stage", "displaced", "forced", "reason", "gate", "config",
                   "id"]  # fmt: skip
BOARD_CHAIN = ".board"


@guarded(lambda registry: registry.board.store.url)
class RegistryReads:
    """Reading a board's registry (see `Registry` for the whole of it).

    The object keeps the state it last confirmed for each name, and brings
    it up to date by asking for the event after it: one request when
    nothing changed, whatever the length of the history.
    """

    def __init__(self, board: Board) -> None:
        if not isinstance(board, Board) or board.kind != "pinyard":
            raise InvalidArgumentError(
                f"the registry needs a pinyard board, got {board!r}; a plain pins board has "
                "no registry (import it with pinyard import-pins)"
            )
        self.board = board
        self._states: dict[str, State] = {}
        self._lock = threading.RLock()  # a following server resolves from another thread

    def __repr__(self) -> str:
        return f"<Registry on {self.board.store.url}>"

    def _chain(self, name: str) -> Chain:
        return Chain(self.board.store, f"{REGISTRY_DIR}/{name}", name)

    def _board_chain(self) -> Chain:
        return Chain(self.board.store, f"{REGISTRY_DIR}/{BOARD_CHAIN}", BOARD_CHAIN)

    # -- state --------------------------------------------------------------

    def _current(self, chain: Chain) -> State:
        """The newest state of ``chain``: the one this object confirmed last, advanced by
        the events after it (on first use: the snapshot, advanced the same way). Callers
        hold ``self._lock`` while they use it, and never change it themselves."""
        with self._lock:
            known = self._states.get(chain.name)
            try:
                state = chain.load() if known is None else chain.advance(known)
            except BaseException:
                self._states.pop(chain.name, None)
                raise
            self._states[chain.name] = state
            return state

    def _append(self, chain: Chain, plan: Plan) -> Committed:
        """`Chain.append` from the state this object knows; what fails forgets it."""
        with self._lock:
            try:
                committed = chain.append(plan, self._current(chain))
            except BaseException:
                self._states.pop(chain.name, None)
                raise
            self._states[chain.name] = committed.state
            return committed

    @property
    def config(self) -> Config:
        """The board's stages and rules (defaults until `Registry.configure` is called)."""
        return self._current(self._board_chain()).config or Config()

    def names(self) -> list[str]:
        """Names with at least one registry event, sorted."""
        store = self.board.store
        return [
            n for n in store.list_names(REGISTRY_DIR)
            if not n.startswith(".") and store.list_names(f"{REGISTRY_DIR}/{n}/events")
        ]  # fmt: skip

    def state(self, name: str) -> State:
        """The replayed state of ``name``: its aliases, stages and the newest changes of
        each (`history` has every event)."""
        with self._lock:
            return self._current(self._chain(registry_name(name))).copy()

    def aliases(self, name: str) -> dict[str, str]:
        """Each alias of ``name`` and the version it holds now."""
        with self._lock:
            return self._current(self._chain(registry_name(name))).aliases

    def stages(self, name: str) -> dict[str, str]:
        """Each stage of ``name`` that holds a version now (the archive stage excluded)."""
        with self._lock:
            return self._current(self._chain(registry_name(name))).stage_holders()

    # -- resolving ----------------------------------------------------------

    def resolve(self, reference: str, *, as_of: datetime | str | None = None) -> Resolved:
        """The exact version ``reference`` points at (now, or at time ``as_of``).

        ``name@alias`` and ``name@stage`` go through the events; ``name:VERSION``
        and ``name:HASH5`` name a version directly; a bare ``name`` is its
        latest version. A version reached through an alias or stage is
        checked against the sha256 its event recorded: a changed ``data.txt``
        or swapped folder raises `IntegrityError`.
        """
        ref = parse_reference(reference)
        if ref.slot is None:
            if as_of is not None:
                raise InvalidArgumentError(
                    f"as_of= applies to an alias or stage, not to {reference!r}"
                )
            return self._direct(ref)
        with self._lock:
            state = self._current(self._chain(ref.name))
            moment = None if as_of is None else self._moment(ref.name, state, as_of)
            try:
                slot = state.find(ref.slot, moment)
                version = (slot.holder_at(moment) if moment else slot.holder) if slot else None
            except HistoryCut:  # further back than the state keeps: replay to the moment
                state = self._chain(ref.name).replay(lambda e: e.time > str(moment))
                slot = state.find(ref.slot)
                version = slot.holder if slot else None
            return self._resolved(ref, state, slot, version, as_of, reference)

    def _resolved(
        self,
        ref: Reference,
        state: State,
        slot: Slot | None,
        version: str | None,
        as_of: datetime | str | None,
        reference: str,
    ) -> Resolved:
        # An alias is never the archive (one namespace): only a stage or an unknown name
        # needs the board's settings, so resolving an alias reads no settings.
        stage = slot is None or slot.kind == "stage"
        archive = (state.archive or self.config.archive) if stage else None
        if archive is not None and ref.slot == archive:
            raise InvalidReferenceError(
                f"{reference!r}: the {archive!r} stage holds many versions; see "
                f"registry.state({ref.name!r}).archived"
            )
        if version is None:
            if state.seq == 0:
                self.board.pin_meta(ref.name)  # PinNotFoundError (naming the pins) if no pin
            when = f" at {_as_utc(as_of).isoformat()}" if as_of is not None else ""
            raise AliasNotFoundError(
                f"no version of {ref.name!r} holds {ref.slot!r}{when}"
                f"{_known(state)}; set one with registry.set_alias or registry.transition"
            )
        target = state.targets[version]
        self._check_target(ref.name, target, str(ref))
        assert slot is not None
        return Resolved(
            ref.name, version, target.meta_sha256, dict(target.files), ref.slot,
            state.setters.get(f"{slot.kind}:{slot.name}"),
        )  # fmt: skip

    def read(self, reference: str, *, as_of: datetime | str | None = None) -> Any:
        """The object stored in the version ``reference`` points at, verified end to end."""
        found = self.resolve(reference, as_of=as_of)
        return self.board.pin_read(found.name, found.version)

    def _direct(self, ref: Reference) -> Resolved:
        if ref.version is None and ref.hash is None:
            meta = self.board.pin_meta(ref.name)
        elif ref.version is not None:
            meta = self.board.pin_meta(ref.name, ref.version)
        else:
            meta = self.board.pin_meta(ref.name, self._by_hash(ref.name, str(ref.hash)))
        target = self.fingerprint(ref.name, meta)
        return Resolved(ref.name, meta.version, target.meta_sha256, dict(target.files))

    def _by_hash(self, name: str, hash5: str) -> str:
        infos: list[VersionInfo] = self.board.pin_versions(name, as_df=False)
        matches = [i.version for i in infos if i.version.endswith(f"-{hash5}")]
        if not matches:
            raise VersionNotFoundError(f"pin {name!r} has no version with hash {hash5!r}")
        if len(matches) > 1:
            raise InvalidReferenceError(
                f"hash {hash5!r} is ambiguous for pin {name!r}: versions {', '.join(matches)} "
                "share it; use the full version id"
            )
        return matches[0]

    def version_id(self, name: str, version: str) -> str:
        """A full version id from one, or from its 5-hex hash."""
        if isinstance(version, str) and len(version) == 5:
            return self._by_hash(name, version)
        return self.board.pin_meta(name, version).version

    def _require_pin(self, name: str) -> None:
        """`PinNotFoundError` (naming the board's pins) unless ``name`` is a pin."""
        self.board.pin_versions(name, as_df=False)

    def fingerprint(self, name: str, meta: PinMeta) -> Target:
        """The digests an event records for a version: its data.txt and every file."""
        files = {f.name: f.sha256 for f in meta.files}
        if not files:  # written by pins, which records no sha256: hash the verified copies
            from pinyard.boards._hashing import digest_stream

            for path in self.board.pin_download(name, meta.version):
                with open(path, "rb") as stream:
                    files[path.rsplit("/", 1)[-1]] = digest_stream(stream).sha256
        return Target(meta.version, self.board.meta_sha256(name, meta.version), files)

    def _check_target(self, name: str, target: Target, via: str) -> None:
        try:
            actual = self.board.meta_sha256(name, target.version, expected=target.meta_sha256)
        except VersionNotFoundError:
            raise VersionNotFoundError(
                f"{via} points at {name} version {target.version}, which is no longer on the "
                "board (deleted outside pinyard?); roll back or move the alias"
            ) from None
        if actual != target.meta_sha256:
            raise IntegrityError(
                f"{name} version {target.version} ({via}) has changed since the registry "
                f"recorded it: its data.txt sha256 is {actual}, the event recorded "
                f"{target.meta_sha256}. Run `pinyard registry verify` and restore the version."
            )
        # The same data.txt lists the same file digests the event took from it; reading the
        # version checks its files against them.

    def _moment(self, name: str, state: State, as_of: datetime | str) -> str:
        """``as_of`` as event-time text, refused when no event of ``name`` is that old."""
        moment = utc_text(_as_utc(as_of))
        if state.time is None:
            self._require_pin(name)
            raise AliasNotFoundError(f"{name!r} has no registry events yet")
        first = self._chain(name).read(1)
        if first is not None and moment < first[0].time:
            raise AliasNotFoundError(
                f"as_of {moment} is before the first registry event of {name!r} "
                f"({first[0].time}); nothing held any alias or stage then"
            )
        return moment

    # -- history and lineage ------------------------------------------------

    @overload
    def history(self, name: str, *, as_df: Literal[False] = False) -> list[Event]: ...
    @overload
    def history(self, name: str, *, as_df: Literal[True]) -> pd.DataFrame: ...

    def history(self, name: str, *, as_df: bool = False) -> list[Event] | pd.DataFrame:
        """Every event of ``name``, oldest first (the whole chain is checked on the way);
        a DataFrame with one row per event with ``as_df=True``."""
        events = list(self._chain(registry_name(name)).events())
        if not events:
            self._require_pin(name)
        if not as_df:
            return events
        import pandas as pd

        rows = []
        for e in events:
            row = e.as_dict()
            row.pop("target")
            row["version"] = e.version
            row["time"] = pd.Timestamp(e.at)
            rows.append(row)
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS)

    def lineage(self, reference: str) -> Lineage:
        """version -> digests -> the run that made it -> its params, metrics, data, commit."""
        found = self.resolve(reference)
        meta = self.board.pin_meta(found.name, found.version)
        origin = dict(meta.lineage)
        run = None
        run_id, experiment = origin.get("run_id"), origin.get("experiment")
        if run_id and experiment:
            from pinyard.tracking import Tracker

            try:
                run = Tracker(self.board, str(experiment)).get_run(str(run_id))
            except NotFoundError:
                run = None
        return Lineage(
            name=found.name,
            version=found.version,
            meta_sha256=found.meta_sha256,
            files=found.files,
            created=meta.created_at,
            holders=self.state(found.name).holders_of(found.version),
            run_id=run_id,
            experiment=experiment,
            params=dict(run.params) if run else dict(origin.get("params") or {}),
            metrics=dict(run.metrics) if run else dict(origin.get("metrics") or {}),
            data=dict(run.data) if run else dict(origin.get("data") or {}),
            code_commit=(run.context.get("git_commit") if run else origin.get("code_commit")),
            run=run,
        )

    # -- verifying and watching ---------------------------------------------

    def verify(self, name: str | None = None) -> list[VerifyReport]:
        """Walk each chain (or ``name``'s) from the first event, check the snapshot against
        the replay and re-hash every version an alias or stage holds; report every problem.
        Without ``name``: the settings chain, then every folder under ``registry/``.
        A remote board's versions are read afresh, never from the local cache."""
        with uncached(self.board) as board:
            audit = RegistryReads(board)
            if name:
                report = verify_chain(audit, registry_name(name), self._chain(registry_name(name)))
                if report.ok and not report.events:
                    self._require_pin(name)
                return [report]
            folders = [n for n in board.store.list_names(REGISTRY_DIR) if not n.startswith(".")]
            return [verify_chain(audit, BOARD_CHAIN, self._board_chain())] + [
                verify_chain(audit, n, self._chain(n)) for n in folders
            ]

    def watch(
        self,
        name: str | None = None,
        *,
        since: int | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> Iterator[Event]:
        """New events as they land (of ``name``, or of every name), oldest first.

        Starts after the current head (or after event ``since``) and polls
        every ``interval`` seconds; stops after ``timeout`` seconds if given. A
        name that appears after the first poll is new from its first event.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: dict[str, State] = {}
        names = [registry_name(name)] if name else None
        first = True
        while True:
            for n in names or self.names():
                chain = self._chain(n)
                if n not in seen:
                    seen[n] = (
                        chain.replay(lambda e: e.seq > since) if since is not None
                        else chain.load() if first else State(n)
                    )  # fmt: skip
                new: list[Event] = []
                seen[n] = chain.advance(seen[n], new)
                yield from new
            first = False
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(interval)


def _as_utc(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgumentError(
                f"as_of {moment!r} is not an ISO 8601 time such as '2026-12-02T14:02:00Z'"
            ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local time, as people say it
    return moment.astimezone(UTC)


def _known(state: State) -> str:
    labels = sorted(s.name for s in state.slots.values() if s.holder)
    return f" (held now: {', '.join(labels)})" if labels else ""
