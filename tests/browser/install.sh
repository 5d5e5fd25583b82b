#!/usr/bin/env bash
# Headless Chromium (Debian's package) for tests/test_html_in_browser.py. Fast when present.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "browser: chromium present" >&2
  exit 0
fi
if [ "${PLNFILTER_SKIP_BROWSER:-}" = "1" ] && [ "${CI:-}" != "true" ]; then
  echo "browser: PLNFILTER_SKIP_BROWSER=1, not installing (the browser tests will be skipped)" >&2
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "browser: chromium is missing; run as root: apt-get install -y chromium" >&2
  exit 1
fi
echo "browser: installing chromium from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
