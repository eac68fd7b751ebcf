#!/usr/bin/env bash
# Installs or starts what the tests need: npm packages, PostgreSQL, and Chromium from Debian.
# Under CI=true anything that cannot be provided is an error, never a reason to test less.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if [ -z "${ELEVATE_TEST_POSTGRES_URL:-}" ] && ! pg_ready; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; starting it" >&2
  if ! command -v pg_ctlcluster >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  pg_ready || { echo "PostgreSQL could not be started" >&2; exit 1; }
fi

if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
  echo "Chromium is missing; installing it from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
