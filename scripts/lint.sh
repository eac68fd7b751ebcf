#!/usr/bin/env bash
# gofmt, go vet and staticcheck over the whole module; any finding fails the run.
# staticcheck is a Go tool dependency pinned in go.mod, so a fresh clone needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
go tool staticcheck ./...
