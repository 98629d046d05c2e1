#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/test_viewer.py), which drive it with
# Playwright for Python through executable_path=/usr/bin/chromium: Playwright's own browser
# download does not work here. Idempotent and quiet; needs root (CI runs as root) or sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ] && dpkg -s fonts-liberation >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install_browser.sh: need root or sudo to install chromium" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium fonts-liberation >/dev/null
/usr/bin/chromium --version 2>/dev/null | grep -i chromium || true
