#!/usr/bin/env bash
# `make test`: start Kafka and PostgreSQL when they are not running, run the whole suite
# against them, and stop again whatever this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started=()
cleanup() {
  for service in "${started[@]}"; do scripts/"$service".sh stop || true; done
}
trap cleanup EXIT

if ! scripts/postgres.sh status 2>/dev/null; then scripts/postgres.sh start; started+=(postgres); fi
if ! scripts/kafka.sh status 2>/dev/null; then scripts/kafka.sh start; started+=(kafka); fi

.venv/bin/pytest "$@"
