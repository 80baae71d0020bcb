#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker + controller) from the official
# jars on Maven Central. No Docker needed.
#
#   scripts/kafka.sh install   resolve the jars with mvn into the cache (once)
#   scripts/kafka.sh start     install if needed, format storage on first start, start, wait ready
#   scripts/kafka.sh status    exit 0 when the broker answers a metadata request
#   scripts/kafka.sh stop      stop the broker cleanly (SIGTERM, then SIGKILL after a timeout)
#
# start is idempotent: a running, healthy broker is reused. A broker that died (even by
# SIGKILL) is restarted on its existing data. Settings come from the environment:
#   HOOKLINE_KAFKA_PORT (9092), HOOKLINE_KAFKA_CONTROLLER_PORT (9093),
#   HOOKLINE_KAFKA_HEAP (512m), HOOKLINE_RUN_DIR (.run), HOOKLINE_CACHE_DIR (~/.cache/hookline),
#   HOOKLINE_PYTHON (.venv/bin/python, used for the readiness check).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${HOOKLINE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${HOOKLINE_KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${HOOKLINE_KAFKA_HEAP:-512m}"
RUN_DIR="${HOOKLINE_RUN_DIR:-$ROOT/.run}"
CACHE_DIR="${HOOKLINE_CACHE_DIR:-$HOME/.cache/hookline}"
PYTHON="${HOOKLINE_PYTHON:-$ROOT/.venv/bin/python}"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/ops/kafka/pom.xml")"
LIB_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/lib"
KDIR="$RUN_DIR/kafka"
DATA_DIR="$KDIR/data"
LOG_DIR="$KDIR/logs"
CONFIG="$KDIR/server.properties"
PID_FILE="$KDIR/kafka.pid"

log() { echo "[kafka] $*" >&2; }

install() {
  if [ -f "$LIB_DIR/.complete" ]; then return 0; fi
  log "resolving Apache Kafka $KAFKA_VERSION from Maven Central into $LIB_DIR"
  rm -rf "$LIB_DIR" && mkdir -p "$LIB_DIR"
  mvn -q -B -f "$ROOT/ops/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIB_DIR" -DincludeScope=runtime
  touch "$LIB_DIR/.complete"
}

JAVA_ARGS=(java "-Xmx$HEAP" "-Xms$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -Djava.awt.headless=true -Dkafka.logs.dir="$LOG_DIR"
  -Dlog4j2.configurationFile="$ROOT/ops/kafka/log4j2.properties" -cp "$LIB_DIR/*")

java_cmd() { "${JAVA_ARGS[@]}" "$@"; }

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  cat > "$CONFIG" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=67108864
PROPS
}

format_storage() {
  if [ -f "$DATA_DIR/meta.properties" ]; then return 0; fi
  local cluster_id
  cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid | tail -n 1)"
  log "formatting storage in $DATA_DIR (cluster $cluster_id)"
  java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" >"$LOG_DIR/format.log" 2>&1
}

running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  if kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  return 1
}

healthy() {
  "$PYTHON" - "$PORT" <<'PY' >/dev/null 2>&1
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{sys.argv[1]}", "socket.timeout.ms": 2000})
metadata = admin.list_topics(timeout=3)
sys.exit(0 if metadata.brokers else 1)
PY
}

wait_ready() {
  local deadline=$((SECONDS + ${HOOKLINE_KAFKA_START_TIMEOUT:-90}))
  while [ $SECONDS -lt $deadline ]; do
    if healthy; then log "ready on 127.0.0.1:$PORT"; return 0; fi
    if ! running_pid >/dev/null; then
      log "broker exited during start; last log lines:"; tail -n 30 "$LOG_DIR/stdout.log" >&2 || true
      return 1
    fi
    sleep 1
  done
  log "broker not ready after timeout"; return 1
}

start() {
  if pid="$(running_pid)"; then
    if wait_ready; then log "already running (pid $pid)"; return 0; fi
    return 1
  fi
  rm -f "$PID_FILE"
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    log "port $PORT is taken by another process; set HOOKLINE_KAFKA_PORT"; return 1
  fi
  install
  write_config
  format_storage
  log "starting broker (heap $HEAP)"
  # setsid detaches the broker from the caller's process group, so Ctrl-C in a
  # foreground `make run` reaches our services first and the broker is stopped by us.
  setsid nohup bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$PID_FILE" \
    "${JAVA_ARGS[@]}" kafka.Kafka "$CONFIG" >"$LOG_DIR/stdout.log" 2>&1 < /dev/null &
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$PID_FILE" ] && break; sleep 0.2; done
  wait_ready
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PID_FILE"; log "not running"; return 0; fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "broker did not stop in 30 s; killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() {
  if running_pid >/dev/null && healthy; then log "running and ready on 127.0.0.1:$PORT"; return 0; fi
  log "not ready"; return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  pid) running_pid ;;
  *) echo "usage: $0 {install|start|stop|status|pid}" >&2; exit 2 ;;
esac
