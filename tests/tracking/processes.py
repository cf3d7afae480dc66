"""A separate process holding a running run, for the tests of runs killed outright."""

from __future__ import annotations

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
