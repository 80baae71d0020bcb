#!/usr/bin/env bash
# `make bench`: every benchmark, each against a baseline measured in the same run.
# Results: bench/results/*.json. Needs the services (started here when not running) and
# the `hey` load generator (installed with `go install` when missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/services-lib.sh
source "$ROOT/scripts/services-lib.sh"
ensure_services

HEY="${HEY:-$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/hey}"
if [ ! -x "$HEY" ]; then
  echo "[bench] installing the hey load generator (Go module proxy)"
  go install github.com/rakyll/hey@v0.1.4
fi
export HEY

# bench_pipeline last: it reports the other stages' ceilings beside its end-to-end figures.
for bench in bench_ingress bench_processors bench_connectors bench_warehouse bench_admin bench_pipeline; do
  echo "[bench] $bench"
  .venv/bin/python -m "bench.$bench"
done
