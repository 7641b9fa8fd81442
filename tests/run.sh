#!/usr/bin/env bash
# Install everything the tests need, then run them: `bash tests/run.sh [pytest args]`.
# VENV picks the virtualenv (default .venv in the repo); it is created if missing and reused if present.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# The browser test drives Debian's Chromium (Playwright never downloads a browser here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; the browser test will be skipped (it fails under CI=true)"
  else
    echo "note: chromium is not installed (sudo apt-get install chromium); the browser test will be skipped"
  fi
fi
exec "$VENV/bin/python" -m pytest "$@"
