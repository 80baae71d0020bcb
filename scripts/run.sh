#!/usr/bin/env bash
# `make run`: the whole pipeline locally, with sample traffic, in the foreground.
# Starts Kafka and PostgreSQL when they are not running (and stops them again on exit),
# creates topics, applies migrations, then runs ingress, processors, connectors, the
# HubSpot, Shopify and Telegram stand-ins and the demo traffic under one supervisor.
# Ctrl-C stops all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/services-lib.sh
source "$ROOT/scripts/services-lib.sh"
ensure_services

# `hookline run` uses the demo's packaged sources and connectors (launcher/demo_config/)
# unless HOOKLINE_INGRESS__SOURCES_FILE / HOOKLINE_CONNECTORS__CONFIG_FILE name others.
export HOOKLINE_LOG__FORMAT="${HOOKLINE_LOG__FORMAT:-console}"
# The same connectors file for `setup` (it creates their retry topics) as for the run.
export HOOKLINE_CONNECTORS__CONFIG_FILE="${HOOKLINE_CONNECTORS__CONFIG_FILE:-$ROOT/launcher/demo_config/connectors.toml}"

.venv/bin/hookline setup
echo
echo "Hookline is starting: webhooks on http://127.0.0.1:8080/webhooks/{source},"
echo "metrics on 127.0.0.1 :6068/metrics (ingress), :6066/metrics (processors), :6070/metrics (connectors);"
echo "stand-ins: HubSpot :8091, Shopify :8092, Telegram :8093."
echo "Press Ctrl-C to stop."
echo
.venv/bin/hookline run "$@"
