#!/usr/bin/env bash
# Install the headless browser the browser test drives (tests/test_browser.py): Debian's
# `chromium` (+ `chromium-driver`). Idempotent; never fails the build: where it cannot
# install (no apt-get, not root, offline) it says why and exits 0, and the test then skips
# with its own reason.
set -u

PACKAGES=(chromium chromium-driver)

if [ -x /usr/bin/chromium ] && dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
  echo "install-browser: chromium is already installed ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get on this machine; install Chromium yourself at /usr/bin/chromium" \
       "or the browser test will skip"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-browser: not root (and no password-less sudo); run as root:" \
         "apt-get install -y ${PACKAGES[*]}  (until then the browser test skips)"
    exit 0
  fi
else
  SUDO=()
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-browser: installing ${PACKAGES[*]} with apt-get"
if ! "${SUDO[@]}" apt-get install -y "${PACKAGES[@]}"; then
  echo "install-browser: apt-get install failed; refreshing the package lists and retrying"
  "${SUDO[@]}" apt-get update || true
  if ! "${SUDO[@]}" apt-get install -y "${PACKAGES[@]}"; then
    echo "install-browser: could not install ${PACKAGES[*]}; the browser test will skip"
    exit 0
  fi
fi
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
exit 0
