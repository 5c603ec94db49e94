#!/usr/bin/env bash
# The storefront's browser tests drive Debian's Chromium; install it when missing.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "Chromium is missing: installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version >/dev/null
