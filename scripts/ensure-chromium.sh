#!/usr/bin/env bash
# Debian's Chromium, for the test that opens /docs in a headless browser (test/api/api-docs.test.ts).
# Run before `npm test` (its pretest step), so that the README's test command works on a fresh
# machine: installs the package when it is missing and apt-get can run (as root, or with sudo).
set -euo pipefail
command -v chromium >/dev/null && exit 0
echo "Chromium is missing; installing Debian's chromium package (for the /docs test)"
if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null; then
  apt_get=(sudo apt-get)
else
  echo "cannot install Chromium: not root and no sudo; run apt-get install -y --no-install-recommends chromium as root" >&2
  exit 1
fi
"${apt_get[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends chromium
