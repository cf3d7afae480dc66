"""What `Board.gc` removes under ``runs/`` (registered by ``import pinyard``).

* **Artifacts no run refers to**: ``artifacts/<sha256>`` named by no start or final
  record of the experiment. A run lists its artifacts only in its final record, so
  an artifact newer than the start of any live run is kept: that run may name it
  when it ends.
* **Series of runs that never finished**: ``series/<run_id>/`` of a run with no
  final record that is not live. Only a final record lists chunks, so nothing can
  read them.

A run is *live* while it has a start record and no final record, and either its
process still runs on this host or (another host's) its start record or series
changed after the cutoff. Artifacts from up to `CLOCK_MARGIN_S` before a live
run's start are kept too (clocks of writers and of the store differ). A run on
another machine that writes nothing for longer than ``older_than`` is therefore
taken for dead: choose ``older_than`` longer than the longest silence of a run.
Everything else is judged by the cutoff too: only objects untouched since it go.
Temporary files of small local writes are found by the board's own gc, anywhere on
the board, ``runs/`` included.

Records are read as bytes, not parsed: any 64-hex string in a record keeps the
artifact of that name, so a record damaged since it was written still protects
what it names. A start record that disappears while gc reads (its run just ended)
keeps every artifact of the experiment for this pass.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from typing import TYPE_CHECKING

from pinyard.errors import InvalidArgumentError, PinyardError
from pinyard.tracking._records import RunRecord, validate_experiment

if TYPE_CHECKING:
    from pinyard.boards import Board, GcReport
    from pinyard.boards._store import Store

log = logging.getLogger("pinyard")
_SHA256 = re.compile(rb"[0-9a-f]{64}")
_RECORD = re.compile(r"^(?P<run>[^/]+)\.json$")
#: How far the writer's clock (a record's start time) and the store's (an object's
#: modification time, whole seconds on S3) may disagree: a live run keeps artifacts
#: from this long before its start.
CLOCK_MARGIN_S = 300.0


def collect_runs_garbage(board: Board, cutoff: float, dry_run: bool, report: GcReport) -> None:
    """See the module docstring: add (and unless ``dry_run`` remove) the leftovers of
    every experiment under ``runs/`` untouched since ``cutoff`` (epoch seconds)."""
    store = board.store
    for experiment in store.list_names("runs"):
        try:
            validate_experiment(experiment)
        except InvalidArgumentError:
            continue
        artifacts, series = _experiment_garbage(store, f"runs/{experiment}", cutoff)
        report.run_artifacts += artifacts
        report.run_series += series
    if dry_run:
        return
    for path in report.run_artifacts:
        store.delete_file(path)
    for path in report.run_series:
        store.delete_tree(path)


def _records(store: Store, prefix: str, kind: str) -> dict[str, str]:
    """run id -> path of each record under ``prefix/kind/<hour>/``."""
    found = {}
    for hour in store.list_names(f"{prefix}/{kind}"):
        for name in store.list_names(f"{prefix}/{kind}/{hour}"):
            match = _RECORD.match(name)
            if match:
                found[match["run"]] = f"{prefix}/{kind}/{hour}/{name}"
    return found


def _stale(store: Store, path: str, cutoff: float) -> bool:
    changed = store.newest_change(path)
    return changed is not None and changed <= cutoff


def _experiment_garbage(store: Store, prefix: str, cutoff: float) -> tuple[list[str], list[str]]:
    started = _records(store, prefix, "started")  # listed first: see Tracker._listing
    finals = _records(store, prefix, "records")
    referenced: set[bytes] = set()
    for path in finals.values():
        try:
            referenced.update(_SHA256.findall(store.read_bytes(path)))
        except FileNotFoundError:  # final records are never deleted; be safe all the same
            return [], []
    floor = float("inf")  # artifacts newer than the start of a live run are kept
    dead: set[str] = set()
    for run_id, path in started.items():
        if run_id in finals:
            continue
        try:
            raw = store.read_bytes(path)
        except FileNotFoundError:  # the run ended meanwhile: its final record is unread
            floor = 0.0
            continue
        referenced.update(_SHA256.findall(raw))
        start = _live_since(store, prefix, run_id, raw, path, cutoff)
        if start is None:
            dead.add(run_id)
        else:
            floor = min(floor, start)
    series = [
        f"{prefix}/series/{run_id}"
        for run_id in store.list_names(f"{prefix}/series")
        if run_id not in finals
        and (run_id not in started or run_id in dead)
        and _stale(store, f"{prefix}/series/{run_id}", cutoff)
    ]
    artifacts = []
    for name in store.list_names(f"{prefix}/artifacts"):
        path = f"{prefix}/artifacts/{name}"
        if name.encode() in referenced:
            continue
        changed = store.newest_change(path)
        if changed is not None and changed <= cutoff and changed < floor:
            artifacts.append(path)
    return artifacts, series


def _live_since(
    store: Store, prefix: str, run_id: str, raw: bytes, path: str, cutoff: float
) -> float | None:
    """The start (epoch seconds) of a run that has no final record, if it is live;
    None if it is dead (see the module docstring)."""
    try:
        record = RunRecord.from_json(raw, path)
    except PinyardError as exc:  # unreadable: presumed live, from the beginning of time
        log.warning("gc: %s; keeping every artifact of its experiment", exc)
        return 0.0
    context = record.context
    if context.get("host") == socket.gethostname():  # its process is there to ask
        return (
            record.start_time.timestamp() - CLOCK_MARGIN_S if alive(context.get("pid")) else None
        )
    if _stale(store, path, cutoff) and (
        not store.list_names(f"{prefix}/series/{run_id}")
        or _stale(store, f"{prefix}/series/{run_id}", cutoff)
    ):
        return None
    return record.start_time.timestamp() - CLOCK_MARGIN_S


def alive(pid: object) -> bool:
    """False only when no process ``pid`` exists on this host (as the tracker's own
    check, without its numpy import: gc runs where tracking's extras may be missing)."""
    if not isinstance(pid, int) or isinstance(pid, bool):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True
