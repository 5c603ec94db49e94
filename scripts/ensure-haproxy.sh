#!/usr/bin/env bash
# The API-node tests (tests/integration/test_api_nodes.py) put real `flashport serve` processes behind
# Debian's HAProxy; install it when missing rather than let those tests fail for want of it.
set -euo pipefail
if ! command -v haproxy >/dev/null 2>&1; then
  echo "HAProxy is missing: installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi
haproxy -v >/dev/null
