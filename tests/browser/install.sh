#!/usr/bin/env bash
# What the upload page's browser test (tests/browser/upload_page.mjs) needs, installed only when
# missing: Chromium from Debian at /usr/bin/chromium, and playwright-core (the exact version in
# package-lock.json) in tests/browser/node_modules. Node 20 or newer must already be there.
#
#   tests/browser/install.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Pinned to a major version with a glob rather than the exact version: Debian's security
# updates replace chromium in bookworm-security (156.0.8078.114-1~deb12u1 when this was
# written) and the archive drops the old build, so an exact pin would stop installing at the
# next update; a new major version, which playwright-core may drive differently, is a change
# made here on purpose.
CHROMIUM_PACKAGE='chromium=156.*'
if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing $CHROMIUM_PACKAGE (Debian) for the upload page's browser test"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$CHROMIUM_PACKAGE"
fi

if ! command -v node >/dev/null; then
  echo "the browser test needs Node.js 20 or newer (node is not on PATH)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 20 )); then
  echo "the browser test needs Node.js 20 or newer (playwright-core's engines); this is $(node --version)" >&2
  exit 1
fi

# npm ci again whenever package.json or the lock file changed since the last install.
stamp=$here/node_modules/.installed
if [[ ! -f $stamp || $here/package.json -nt $stamp || $here/package-lock.json -nt $stamp ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
