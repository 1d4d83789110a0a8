#!/usr/bin/env bash
# Image Studio: set up and run everything from one place.
#
#   ./studio.sh run     install (first time), migrate, start web + worker at http://127.0.0.1:8000
#   ./studio.sh test    install test tools (first time) and run the whole test suite
#   ./studio.sh bench   run the benchmarks in bench/ and print their figures
#   ./studio.sh screenshots  remake the README's screenshots in docs/screenshots/
#   ./studio.sh manage  any Django management command, e.g. ./studio.sh manage createsuperuser
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
MIN_PYTHON="3.12"

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3 python3.14 python3.13 python3.12 python; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if python_ok "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_venv() {
  if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; then
    return 0
  fi
  local python found
  if ! python=$(find_python); then
    found=$(python3 --version 2>&1 || echo "no python3 on PATH")
    echo "Image Studio needs Python $MIN_PYTHON or newer (Django 6 requires it); found: $found." >&2
    echo "Install Python $MIN_PYTHON+ (or point PYTHON=/path/to/python3.12 at one) and run this again." >&2
    exit 1
  fi
  echo "Creating $VENV with $("$python" --version)…"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
}

# Install a requirements file into the venv, skipping the work when nothing changed.
ensure_requirements() {
  local file=$1 stamp hash
  stamp="$VENV/.installed-$(basename "$file")"
  hash=$(cat "$file" requirements.txt | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    return 0
  fi
  echo "Installing $file…"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$file"
  echo "$hash" >"$stamp"
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    return 0
  fi
  echo "The browser tests need Chromium: install it (Debian/Ubuntu: sudo apt-get install chromium) and run again." >&2
  exit 1
}

command=${1:-help}
shift || true
case "$command" in
  run)
    ensure_venv
    ensure_requirements requirements.txt
    "$VENV/bin/python" manage.py migrate --no-input
    "$VENV/bin/python" manage.py collectstatic --no-input --verbosity 0
    exec "$VENV/bin/python" manage.py runstudio "$@"
    ;;
  test)
    ensure_venv
    ensure_requirements requirements-dev.txt
    ensure_chromium
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  bench)
    ensure_venv
    ensure_requirements requirements-dev.txt
    exec "$VENV/bin/python" bench/run_all.py "$@"
    ;;
  screenshots)
    ensure_venv
    ensure_requirements requirements-dev.txt
    ensure_chromium
    exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/screenshots.py "$@"
    ;;
  manage)
    ensure_venv
    ensure_requirements requirements.txt
    exec "$VENV/bin/python" manage.py "$@"
    ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    [ "$command" = "help" ] || exit 2
    ;;
esac
