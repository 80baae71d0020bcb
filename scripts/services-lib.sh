# Sourced by run.sh, test.sh and bench.sh: start Kafka and PostgreSQL when they are not
# running, and stop on exit exactly the ones this script started.
_hookline_started=()

# Quiet on success, so that the test runner's summary stays the last line of the output.
_hookline_stop_started() {
  for service in "${_hookline_started[@]}"; do
    "$ROOT/scripts/$service.sh" stop >/dev/null 2>&1 || echo "[$service] stop failed" >&2
  done
}

ensure_services() {
  trap _hookline_stop_started EXIT
  local service
  for service in postgres kafka; do
    if ! "$ROOT/scripts/$service.sh" status 2>/dev/null; then
      "$ROOT/scripts/$service.sh" start
      _hookline_started+=("$service")
    fi
  done
}

# promtool and the Prometheus server (Debian's `prometheus` package) for the alert-rule
# tests and the test that scrapes a running pipeline: installed when missing as root,
# else one line saying how.
ensure_prometheus() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "[prometheus] promtool/prometheus missing: sudo apt-get install prometheus, then retry" >&2
    return 1
  fi
  echo "[prometheus] installing Debian's prometheus package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends prometheus >/dev/null
}
