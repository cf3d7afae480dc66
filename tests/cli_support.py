"""What the CLI test modules share: the command run in-process and its result, the
environment it runs in, and a folder or S3 (moto) board it finds as a user's would."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pinyard
from pinyard.cli import main
from tests.backends._servers import MotoServer, unique_name


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def doc(self) -> Any:
        return json.loads(self.out)

    def ok(self) -> Result:
        assert self.code == 0, (self.code, self.out, self.err)
        return self

    def error(self, code: int, *needles: str) -> str:
        """The one error line, after checking its exit code and what it names."""
        assert self.code == code, (self.code, self.out, self.err)
        lines = [x for x in self.err.splitlines() if not x.startswith("pinyard: note:")]
        assert len(lines) == 1, self.err
        assert lines[0].startswith("pinyard: error: "), self.err
        assert "Traceback" not in self.err
        for python in ("=True", "=False", "pin_", "board_folder(", "tracker.", "registry."):
            assert python not in lines[0], (python, lines[0])  # a flag or command instead
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
        return lines[0]

    def one_line_error(self, code: int, *needles: str) -> str:
        """stderr, after checking it is one error line naming ``needles``."""
        assert self.code == code, (self.code, self.out, self.err)
        assert self.err.startswith("pinyard: error: "), self.err
        assert self.err.count("\n") == 1, self.err
        assert "Traceback" not in self.err
        for needle in needles:
            assert needle in self.err, (needle, self.err)
        return self.err


def run_cli(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> Result:
    """``pinyard ARGV`` in this process, with what it printed."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return Result(code, out, err)


def cli_environment(patch: pytest.MonkeyPatch, cache: Path) -> None:
    """A cache of the test's own, no progress bars, and changes recorded as alice."""
    patch.setenv("PINYARD_CACHE_DIR", str(cache))
    patch.setenv("PINYARD_PROGRESS", "0")
    patch.setenv("PINYARD_USER", "alice")


@dataclass
class Opened:
    """A board as the CLI is given it (``url``) and as the test reads it behind its back
    (``fs`` and ``root``, the board's path on it)."""

    url: str
    board: pinyard.Board
    fs: Any
    root: str


def open_cli_board(
    kind: str,
    scratch: Path,
    patch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    bucket_hint: str,
) -> Opened:
    """A new board: a folder in ``scratch``, or (``kind`` "s3") ``team`` in a new bucket
    on the session's moto, which the CLI finds from the environment."""
    if kind == "folder":
        import fsspec

        url = str(scratch / "board")
        return Opened(url, pinyard.board_folder(url), fsspec.filesystem("file"), url)
    server: MotoServer = request.getfixturevalue("moto_server")
    bucket = server.make_bucket(unique_name(bucket_hint))
    # The CLI gets no storage options: it finds the endpoint and keys where s3fs looks.
    patch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"s3://{bucket}/team"
    opened = pinyard.board(url, **server.storage_options())
    return Opened(url, opened, server.filesystem(), f"{bucket}/team")


def overwrite(fs: Any, root: str, relative: str, data: bytes) -> None:
    """Tamper with a stored file, as someone with write access to the storage could."""
    path = f"{root}/{relative}"
    if "file" in fs.protocol:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.chmod(path, 0o644)
    fs.pipe_file(path, data)
