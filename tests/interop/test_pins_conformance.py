"""pins-python's own test suite, from its released sdist, run against pinyard's constructors.

The sdist (pinned by version and sha256) is fetched from PyPI once into a cache
folder, beside a small virtual environment with pins' own test requirements
(pytest 7.1.3 and pytest-cases, which today's pytest cannot load); pinyard
comes from this tree. ``pins_conformance_plugin.py`` makes the constructor
switch a pins user makes; no test or assertion is changed. Every test that
applies must pass, or be listed in ``pins_conformance_expected.txt`` with the
reason it differs and the text its failure shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PINS = "pins==0.9.2"
SDIST = "pins-0.9.2.tar.gz"
SDIST_SHA256 = "bea7b10304abb5e06327ce1b47de194ff791b50546378057e3b1809bff35235e"
PINS_TEST_REQUIREMENTS = [PINS, "pytest==7.1.3", "pytest-cases==3.8.6", "rdata>=0.11"]
PINS_TESTS = ["test_boards.py", "test_compat.py", "test_compat_old_types.py",
              "test_constructors.py"]  # fmt: skip
#: pins' suite runs on every backend it knows; these need accounts (or GitHub).
OTHER_BACKENDS = "not fs_s3 and not fs_gcs and not fs_abfs and not fs_rsc and not fs_dbc"


def cache_dir() -> Path:
    base = os.environ.get("PINYARD_TEST_CACHE") or Path.home() / ".cache" / "pinyard-tests"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(*args: str | Path) -> None:
    done = subprocess.run([str(a) for a in args], check=False, capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")


def _publish(staged: Path, final: Path) -> Path:
    """Move a fully built folder into place (another run may have won the race)."""
    try:
        staged.rename(final)
    except OSError:
        shutil.rmtree(staged, ignore_errors=True)
    return final


@pytest.fixture(scope="session")
def pins_sdist() -> Path:
    """The extracted sdist of pins-python, fetched (and checked) once."""
    final = cache_dir() / SDIST.removesuffix(".tar.gz")
    if (final / "pins" / "tests" / "test_boards.py").is_file():
        return final
    download = cache_dir() / f"download-{os.getpid()}"
    _run(sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
         "--no-deps", PINS, "-d", download)  # fmt: skip
    archive = download / SDIST
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        pytest.fail(f"{archive} has sha256 {digest}, expected {SDIST_SHA256}")
    with tarfile.open(archive) as tar:
        tar.extractall(download, filter="data")
    _publish(download / final.name, final)
    shutil.rmtree(download, ignore_errors=True)
    return final


def _requirements() -> list[str]:
    """pinyard's own dependencies (with data frames and joblib) and pins' test tools."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return sorted({*project["dependencies"], *extras["data"], *extras["joblib"],
                   *PINS_TEST_REQUIREMENTS})  # fmt: skip


@pytest.fixture(scope="session")
def pins_test_python() -> Path:
    """A Python with pins' test requirements (pinyard itself comes from this tree)."""
    wanted = _requirements()
    key = hashlib.sha256("\n".join([sys.version, *wanted]).encode()).hexdigest()[:12]
    final = cache_dir() / f"pins-tests-venv-{key}"
    if (final / "ready").is_file():
        return final / "bin" / "python"
    staged = cache_dir() / f"venv-{os.getpid()}"
    shutil.rmtree(staged, ignore_errors=True)
    _run(sys.executable, "-m", "venv", staged)
    uv = Path(sys.executable).with_name("uv")
    if uv.is_file():
        _run(uv, "pip", "install", "--quiet", "--python", staged / "bin" / "python", *wanted)
    else:
        _run(staged / "bin" / "python", "-m", "pip", "install", "--quiet", *wanted)
    (staged / "ready").write_text("\n".join(wanted) + "\n")
    return _publish(staged, final) / "bin" / "python"


@dataclass(frozen=True)
class Expected:
    kind: str  # "differs" or "n/a"
    test: str
    fails_with: str
    why: str


def expected_differences() -> list[Expected]:
    rows = []
    for line in (HERE / "pins_conformance_expected.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        assert len(fields) == 4, f"malformed line (4 fields separated by |): {line}"
        assert fields[0] in {"differs", "n/a"}, line
        assert fields[3], f"no reason given: {line}"
        rows.append(Expected(*fields))
    return rows


def test_pins_own_tests_pass_on_pinyard_or_differ_on_purpose(
    pins_sdist: Path, pins_test_python: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PINS_", "PYTEST_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(pins_sdist), str(HERE), str(REPO / "src")]),
               PINYARD_CONFORMANCE_REPORT=str(report))  # fmt: skip
    done = subprocess.run(
        [str(pins_test_python), "-m", "pytest", "-p", "pins_conformance_plugin",
         "-p", "no:cacheprovider", "-c", "pyproject.toml", "--rootdir", ".", "-q",
         "-m", f"{OTHER_BACKENDS} and not skip_on_github",
         *(f"pins/tests/{t}" for t in PINS_TESTS)],
        check=False, cwd=pins_sdist, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert report.is_file(), f"pins' tests did not run:\n{done.stdout[-3000:]}\n{done.stderr}"
    results: dict[str, dict[str, str]] = json.loads(report.read_text())
    expected = expected_differences()
    differs = {e.test: e for e in expected if e.kind == "differs"}
    not_applicable = {e.test for e in expected if e.kind == "n/a"}

    failing = {t: r["message"] for t, r in results.items() if r["outcome"] in ("failed", "error")}
    new = {t: m for t, m in failing.items() if t not in differs}
    assert not new, "pins tests that now fail on pinyard (fix, or list with a reason):\n" + (
        "\n".join(f"  {t}: {m[:300]}" for t, m in sorted(new.items()))
    )
    passing = sorted(t for t in differs if results.get(t, {}).get("outcome") == "passed")
    assert not passing, f"listed as differing but now pass (remove them): {passing}"
    missing = sorted(t for t in differs if t not in results)
    assert not missing, f"listed tests that no longer run (renamed?): {missing}"
    other = {t: failing[t] for t, e in differs.items() if e.fails_with not in failing[t]}
    assert not other, "listed tests that fail for another reason:\n" + "\n".join(
        f"  {t}: expected {differs[t].fails_with!r} in: {m[:300]}" for t, m in other.items()
    )
    ran_anyway = sorted(t for t in results if t.split("[")[0] in not_applicable)
    assert not ran_anyway, f"n/a tests were not deselected: {ran_anyway}"
    passed = [t for t, r in results.items() if r["outcome"] == "passed"]
    assert len(passed) >= 50, f"only {len(passed)} of pins' tests passed:\n{done.stdout[-2000:]}"
