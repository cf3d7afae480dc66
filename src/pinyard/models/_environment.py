"""The environment a model was written in, and how another one differs from it."""

from __future__ import annotations

import io
import pickle
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from pinyard._packages import distribution_versions
from pinyard.errors import SerializationError

_STDLIB = frozenset(sys.stdlib_module_names) | {"builtins", "__main__"}


class _Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(memoryview(data))


class _ModuleFinder(pickle.Pickler):
    """A pickler that writes nothing and notes the top-level module of every class and
    function it meets, i.e. the packages needed to unpickle the object. Array buffers
    are not copied: an ndarray only contributes ``numpy`` (and its dtype's module)."""

    def __init__(self) -> None:
        super().__init__(_Sink(), protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        self._note(cls.__module__)
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__module__")):
            self._note(getattr(obj, "__module__", None))
        if cls.__module__ == "numpy" and cls.__name__ == "ndarray":
            if obj.dtype.hasobject:
                return NotImplemented  # object arrays hold Python objects: walk them
            self._note(type(obj.dtype).__module__)
            return (tuple, ())
        return NotImplemented

    def _note(self, module: str | None) -> None:
        if module:
            self.modules.add(module.split(".")[0])


def model_modules(model: Any) -> set[str]:
    """Top-level modules (non-standard-library) whose code the pickled model refers to."""
    finder = _ModuleFinder()
    try:
        finder.dump(model)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SerializationError(
            f"the model cannot be pickled ({exc}); a model must be picklable to be stored: "
            "define its functions and classes at module level, not as lambdas or closures"
        ) from None
    return {m for m in finder.modules if m not in _STDLIB}


def pinned_requirements(dists: Mapping[str, str]) -> list[str]:
    """``name==version`` lines for ``dists`` and, transitively, the runtime
    dependencies they declare, at the versions installed here."""
    pinned: dict[str, str] = {}
    todo = list(dists)
    while todo:
        dist = todo.pop()
        key = dist.lower().replace("_", "-")
        if key in pinned:
            continue
        try:
            pinned[key] = metadata.version(dist)
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            try:
                req = Requirement(line)
            except InvalidRequirement:  # pragma: no cover - broken metadata
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return [f"{name}=={version}" for name, version in sorted(pinned.items())]


def pinyard_version() -> str:
    """The installed pinyard's version."""
    try:
        return metadata.version("pinyard")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree
        return "0+unknown"


def capture_environment(model: Any) -> dict[str, Any]:
    """Python version, platform, the versions of the packages the model is made of
    (and of pinyard), and the pinned requirements to rebuild the environment."""
    packages = distribution_versions(model_modules(model))
    packages["pinyard"] = pinyard_version()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "packages": packages,
        "requirements": pinned_requirements(packages),
    }


def environment_differences(recorded: Mapping[str, Any]) -> list[str]:
    """How this process differs from ``recorded``: Python minor version and every
    recorded package whose installed version differs or that is not installed."""
    differences = []
    python = str(recorded.get("python") or "")
    here = platform.python_version()
    if python and python.split(".")[:2] != here.split(".")[:2]:
        differences.append(f"Python {python} when written, {here} here")
    for dist, version in (recorded.get("packages") or {}).items():
        if dist == "pinyard":
            continue
        try:
            installed = metadata.version(dist)
        except metadata.PackageNotFoundError:
            differences.append(f"{dist} {version} when written, not installed here")
            continue
        if installed != version:
            differences.append(f"{dist} {version} when written, {installed} here")
    return differences
