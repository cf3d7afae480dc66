"""What a run captures without being asked: who, where, which code, which data."""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import platform
import socket
import subprocess
import sys
from typing import Any

from pinyard._packages import distribution_versions
from pinyard.errors import InvalidArgumentError


@functools.cache
def git_state(cwd: str | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git work tree around ``cwd``; (None, None) outside one."""
    where = cwd or os.getcwd()
    try:
        commit = _git(["rev-parse", "HEAD"], where)
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit.strip() or None, bool(status.strip())


def _git(args: list[str], cwd: str) -> str:
    # git from PATH, as the user runs it; no shell, fixed arguments.
    done = subprocess.run(
        ["git", *args],  # noqa: S607
        cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    return done.stdout


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return None


@functools.cache
def _static_context() -> dict[str, Any]:
    return {
        "user": _user(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


#: modules imported when last computed -> the versions found then
_packages_seen: dict[int, dict[str, str]] = {}


def imported_package_versions() -> dict[str, str]:
    """Versions of the distributions whose top-level modules are imported now
    (recomputed only when new modules were imported since the last call)."""
    count = len(sys.modules)
    if count in _packages_seen:
        return dict(_packages_seen[count])
    versions = distribution_versions(m for m in list(sys.modules) if "." not in m)
    _packages_seen.clear()
    _packages_seen[count] = versions
    return dict(_packages_seen[count])


def capture_context() -> dict[str, Any]:
    """The context recorded with every run: user, host, python, platform, git commit and
    dirty flag, pid, and the versions of the packages imported when the run starts."""
    commit, dirty = git_state()
    return {
        **_static_context(),
        "git_commit": commit,
        "git_dirty": dirty,
        "pid": os.getpid(),
        "packages": imported_package_versions(),
    }


def data_fingerprint(data: Any) -> dict[str, Any]:
    """``{"sha256": ..., "rows": ..., "columns": [...]}`` of a DataFrame, Arrow table or array.

    The digest is taken over the Arrow IPC stream of the data (index
    included for pandas), so the same values give the same fingerprint
    whatever produced them.
    """
    if isinstance(data, dict):
        return {str(k): data_fingerprint(v) for k, v in data.items()}
    table = _as_arrow_table(data)
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    digest = hashlib.sha256(memoryview(sink.getvalue())).hexdigest()
    return {"sha256": digest, "rows": table.num_rows, "columns": table.column_names}


def _as_arrow_table(data: Any) -> Any:
    import pyarrow as pa

    kind = f"{type(data).__module__}.{type(data).__name__}"
    if isinstance(data, pa.Table):
        return data
    if kind.startswith("pandas") and type(data).__name__ == "DataFrame":
        return pa.Table.from_pandas(data, preserve_index=True)
    if kind.startswith("polars") and type(data).__name__ == "DataFrame":
        return data.to_arrow()
    if kind.startswith("numpy") and type(data).__name__ == "ndarray":
        flat = data.reshape(len(data), -1) if data.ndim > 1 else data.reshape(-1, 1)
        return pa.table({f"c{i}": flat[:, i] for i in range(flat.shape[1])})
    raise InvalidArgumentError(
        f"data= takes a pandas/polars DataFrame, a pyarrow Table, a numpy array or a dict "
        f"of them (to fingerprint what the run used), got {type(data).__name__}"
    )
