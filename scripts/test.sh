#!/usr/bin/env bash
# Install everything the tests need into .venv, start the storage emulators the
# suite needs (the test fixtures start and stop them on 127.0.0.1), and run
# every check: ruff, mypy (strict, on src), the examples and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js runs Azurite, the Azure emulator; npm installs it (once). Checked first, so a
# missing tool is said before minutes of installing.
need_tool() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "scripts/test.sh: '$1' is not installed. The Azure tests run Azurite, an npm" >&2
        echo "package: install Node.js 18 or newer with npm (Debian/Ubuntu:" >&2
        echo "'sudo apt install nodejs npm'), then run this script again." >&2
        exit 1
    fi
}
need_tool node
if [ ! -x node_modules/.bin/azurite-blob ]; then
    need_tool npm
fi

# From Debian's packages: Chromium for the web UI's browser tests (Playwright drives it
# and never downloads a browser of its own), zsh and fish to load the CLI's completion
# scripts for real.
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v zsh >/dev/null 2>&1 || missing="$missing zsh"
command -v fish >/dev/null 2>&1 || missing="$missing fish"
if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "== apt-get:$missing (browser tests, shell completion tests)"
        SUDO=""
        if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        # shellcheck disable=SC2086 # one word per package
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
    else
        echo "scripts/test.sh: missing:$missing, and apt-get is not available." >&2
        echo "The UI's browser tests drive /usr/bin/chromium, and the completion tests run" >&2
        echo "zsh and fish: install your system's packages of them, then run this again." >&2
        exit 1
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv || {
        echo "scripts/test.sh: '$PYTHON -m venv' failed; Python 3.11+ with venv is needed" >&2
        echo "(Debian/Ubuntu: 'sudo apt install python3-venv')." >&2
        exit 1
    }
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check uv
.venv/bin/uv pip install --quiet --python .venv/bin/python -e ".[test]"

# Azurite (npm, pinned in package.json / package-lock.json) for the Azure tests, into
# ./node_modules; skipped when the pinned version is already there.
want_azurite="$(node -p "require('./package.json').devDependencies.azurite")"
have_azurite="$(node -p "require('./node_modules/azurite/package.json').version" 2>/dev/null || true)"
if [ ! -x node_modules/.bin/azurite-blob ] || [ "$have_azurite" != "$want_azurite" ]; then
    need_tool npm
    echo "== npm: azurite $want_azurite"
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --loglevel=error
    fi
fi

echo "== ruff"
.venv/bin/ruff check src tests examples bench
.venv/bin/ruff format --check src tests examples bench
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
# Two workers (CI has 2 cores; many tests wait on emulators, processes and the clock).
# Each worker starts its own emulators. PYTEST_WORKERS=0 runs in this process alone.
.venv/bin/python -m pytest -p no:cacheprovider -q -n "${PYTEST_WORKERS:-2}" "$@"
