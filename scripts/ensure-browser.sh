#!/usr/bin/env bash
# The storefront's browser tests drive Debian's Chromium; install it when missing.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "Chromium is missing: installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The storefront is Chinese first: without a CJK font its pages (and the browser tests' screenshots)
# show empty boxes instead of Chinese.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "No Chinese font: installing Debian's fonts-noto-cjk" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
fi
chromium --version >/dev/null
