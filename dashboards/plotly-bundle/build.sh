#!/usr/bin/env bash
# Rebuild dashboards/vendor/plotly-twin.min.js: plotly.js with only the trace types the
# dashboards draw (index.js). Needs node >= 20 and npm; installs into a temporary
# directory (about 450 MB), never into the repository. See README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../vendor/plotly-twin.min.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/index.js" "$here/build.mjs" "$work/"
cd "$work"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs "$out"
cp node_modules/plotly.js/LICENSE "$here/../vendor/plotly-twin.LICENSE.txt"
sha256sum "$out"
