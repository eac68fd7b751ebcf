#!/usr/bin/env bash
# Regenerates templ code, CSS and vendored JS and fails if that changed any file, so what is
# committed is always what the sources produce.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot() { find views static -type f \( -name '*_templ.go' -o -name 'app.css' -o -name 'htmx.min.js' \) -print0 | sort -z | xargs -0 sha256sum; }
before=$(snapshot)
make -s generate
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "Generated files were stale; regenerated (commit these):" >&2
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print $3}' | sort -u >&2
  exit 1
fi
