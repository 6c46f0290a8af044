#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs every test.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# A browser for the end-to-end tests: Debian's Chromium where apt is there, Playwright's own elsewhere.
if [ -z "${QWENCHAT_CHROMIUM:-}" ]; then
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
    [ -x "$candidate" ] && export QWENCHAT_CHROMIUM="$candidate" && break
  done
fi
if [ -z "${QWENCHAT_CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    # The fonts make Chinese text and emoji render in screenshots (docs/screenshot.png).
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null
    export QWENCHAT_CHROMIUM=/usr/bin/chromium
  else
    .venv/bin/python -m playwright install chromium   # macOS, Windows (WSL) and other Linux
  fi
fi

# Two workers (pytest-xdist), a test file each at a time: the browser tests mostly wait on the app and the
# browser, so two overlap well even on two cores (about half the wall time of one worker). Each worker starts
# its own fake server, Streamlit app and PostgreSQL on free ports and temporary folders. `-n 0` runs serially.
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
