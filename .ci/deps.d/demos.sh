#!/usr/bin/env bash
# Demos (issue 7): Debian's chromium for the headless browser tests, and the web demo's npm
# packages (@litertjs/core, playwright-core) from web_demo/package-lock.json.
# Idempotent: installs nothing when everything is already present. Never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # other areas' scripts may hold the apt lock: wait for it rather than fail
  for try in 1 2 3 4 5 6; do
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq && break
    echo "apt-get update failed (try $try); retrying in 10 s" >&2; sleep 10
  done
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ -f web_demo/package-lock.json ]; then
  stamp=web_demo/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ web_demo/package-lock.json -nt "$stamp" ]; then
    (cd web_demo && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
