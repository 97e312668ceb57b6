#!/usr/bin/env bash
# The Python binding's checks, as CI runs them, on a fresh clone or an existing tree:
# creates or updates the virtual environment <repo>/.venv, installs the package in
# editable mode with its test tools (which builds the Rust library into
# src/lnpaystore/_lib/, where the package loads it from), then runs ruff (lint and
# format), mypy --strict (the package and the tests, which use its public API as a caller
# would), and pytest.
#
#   bindings/python/test.sh [pytest arguments...]
#
# PYTHON picks the interpreter for a new venv (default: python3, 3.10 or newer);
# VENV overrides its location.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"

step() { printf '\n== %s\n' "$*"; }

step "virtual environment $venv"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
step "pip install -e (cargo builds the library into src/lnpaystore/_lib)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -e "$here" pytest mypy ruff

cd "$here"
step "ruff check"
"$venv/bin/ruff" check .
step "ruff format --check"
"$venv/bin/ruff" format --check .
step "mypy --strict"
"$venv/bin/mypy" --strict src/lnpaystore tests
step "pytest"
"$venv/bin/python" -m pytest -q "$@"
