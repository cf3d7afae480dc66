"""A separate process holding a running run, for the tests of runs killed outright."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pinyard

_RUNNING = textwrap.dedent(
    """
    import sys, time
    import pinyard
    run = pinyard.Tracker(pinyard.board_folder(sys.argv[1]), "sweep").start_run(params={"i": -1})
    print(run.run_id, flush=True)
    time.sleep(60)
    """
)


class RunningProcess:
    """A process that started a run of experiment ``sweep`` on ``board`` and sleeps."""

    def __init__(self, board: pinyard.Board) -> None:
        root = board.store.local_path("")
        assert root is not None
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _RUNNING, root], stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        self.run_id = self._proc.stdout.readline().strip()

    def kill(self) -> None:
        """SIGKILL: the run gets no final record."""
        self._proc.kill()
        self._proc.wait()
        assert self._proc.stdout is not None
        self._proc.stdout.close()


_ABANDONED = textwrap.dedent(
    """
    import json, os, sys
    import pinyard
    from pinyard.tracking._run import SERIES_CHUNK_POINTS
    board = pinyard.board(sys.argv[1], create=False, **json.loads(sys.argv[2]))
    run = pinyard.Tracker(board, "sweep").start_run(params={"i": -2})
    for step in range(SERIES_CHUNK_POINTS):  # one whole chunk: flushed to the board
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    entry = run.log_artifact(b"logged by a run that never ended", name="weights")
    print(run.run_id, entry["sha256"], flush=True)
    os._exit(0)  # no final record, and the process is gone
    """
)


def abandoned_run(url: str, storage_options: dict[str, object] | None = None) -> tuple[str, str]:
    """(run id, artifact sha256) of a run of ``sweep`` whose process flushed a series
    chunk, logged an artifact and exited without ending it."""
    done = subprocess.run(
        [sys.executable, "-c", _ABANDONED, url, json.dumps(storage_options or {})],
        capture_output=True,
        text=True,
        check=True,
    )
    run_id, sha256 = done.stdout.split()
    return run_id, sha256
