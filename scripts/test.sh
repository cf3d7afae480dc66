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

# Chromium (Debian's package) for the web UI's browser tests; Playwright drives it and
# never downloads a browser of its own.
if [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "== apt-get: chromium (for the UI's browser tests)"
        SUDO=""
        if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    else
        echo "scripts/test.sh: /usr/bin/chromium is missing and apt-get is not available." >&2
        echo "The UI's browser tests (tests/ui/test_browser.py) drive Chromium at that path:" >&2
        echo "install your system's chromium package there, then run this script again." >&2
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
.venv/bin/python -m pytest -p no:cacheprovider -q "$@"
