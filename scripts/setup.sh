#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: the shared libraries Qt needs (as root), then .venv with the app.
# Usage: bash scripts/setup.sh [--test] [--screen] [--reinstall]
# pip runs only when .venv is not current: .venv/.setup-stamp holds a hash of pyproject.toml and the venv's
# Python with what was installed (the app, or the app and the test tools); the app is installed editable,
# so a change to the code needs no reinstall. --reinstall runs pip anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_screen=0
reinstall=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --screen) want_screen=1 ;;
    --reinstall) reinstall=1 ;;
  esac
done

# ENVIRONMENT.md: what PySide6 needs offscreen, and what a real window under Xvfb needs besides.
qt_libs=(libglib2.0-0 libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libxkbcommon0 fonts-dejavu-core)
screen_libs=(xvfb xauth libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1
  libxkbcommon-x11-0)
# A colour emoji font: messages carry emoji, and without one they show as empty boxes. The app and real
# windows get it; the tests do not need it (they pass with and without it).
app_fonts=(fonts-noto-color-emoji)
wanted=("${qt_libs[@]}")
if [ "$want_test" = 0 ] || [ "$want_screen" = 1 ]; then wanted+=("${app_fonts[@]}"); fi
if [ "$want_screen" = 1 ]; then wanted+=("${screen_libs[@]}"); fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install (as root): apt-get install ${missing[*]}" >&2
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.setup-stamp
# What the install depends on: the project's metadata (dependencies, extras, entry points) and the Python.
current="$( (cat pyproject.toml; .venv/bin/python -VV) | sha256sum | cut -d' ' -f1)"
installed=""
if [ -f "$stamp" ]; then read -r installed <"$stamp" || true; fi
# "<hash> test" covers the app as well; "<hash> app" covers the app only.
if [ "$reinstall" = 0 ] && { [ "$installed" = "$current test" ] || { [ "$want_test" = 0 ] && [ "$installed" = "$current app" ]; }; }; then
  exit 0
fi
rm -f "$stamp"  # an install that fails half-way is not current
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$current test" >"$stamp"
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
  # A --reinstall of the app alone leaves the test tools that were current in place.
  if [ "$installed" = "$current test" ]; then echo "$current test" >"$stamp"; else echo "$current app" >"$stamp"; fi
fi
