#!/usr/bin/env bash
# `make test`: start Kafka and PostgreSQL when they are not running, run the whole suite
# against them, and stop again whatever this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/services-lib.sh
source "$ROOT/scripts/services-lib.sh"
ensure_prometheus
ensure_services

.venv/bin/pytest "$@"
