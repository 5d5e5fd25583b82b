#!/usr/bin/env bash
# Headless Chromium (Debian's package) for tests/test_html_in_browser.py; the test skips without it.
set -euo pipefail
command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y --no-install-recommends chromium)
