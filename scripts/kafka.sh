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
#
# Besides the PLAINTEXT listener, the broker serves SASL_PLAINTEXT with SCRAM-SHA-256 and
# SCRAM-SHA-512 on HOOKLINE_KAFKA_SASL_PORT (9094; empty: no SASL listener), so clients can
# be tested with credentials against the same broker. The SCRAM user
# HOOKLINE_KAFKA_SCRAM_USER / HOOKLINE_KAFKA_SCRAM_PASSWORD (hookline / hookline-secret) is
# written into fresh storage at format time (kafka-storage format --add-scram) and upserted
# through the Admin API on every start, so storage formatted before has it too. There is
# no authorizer: any authenticated user may do anything (a test broker, not production).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${HOOKLINE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${HOOKLINE_KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${HOOKLINE_KAFKA_HEAP:-512m}"
RUN_DIR="${HOOKLINE_RUN_DIR:-$ROOT/.run}"
CACHE_DIR="${HOOKLINE_CACHE_DIR:-$HOME/.cache/hookline}"
PYTHON="${HOOKLINE_PYTHON:-$ROOT/.venv/bin/python}"
SASL_PORT="${HOOKLINE_KAFKA_SASL_PORT-9094}"
SCRAM_USER="${HOOKLINE_KAFKA_SCRAM_USER:-hookline}"
SCRAM_PASSWORD="${HOOKLINE_KAFKA_SCRAM_PASSWORD:-hookline-secret}"
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

# The SASL listener's part of server.properties: clients authenticate with SCRAM (the
# credentials live in the KRaft metadata log); brokers and the controller keep talking
# PLAINTEXT, so no broker-side username is needed in the JAAS entries.
sasl_config() {
  [ -n "$SASL_PORT" ] || return 0
  local mechanism
  echo "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512"
  for mechanism in scram-sha-256 scram-sha-512; do
    echo "listener.name.sasl_plaintext.$mechanism.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  done
}

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  local listeners="PLAINTEXT://127.0.0.1:$PORT" protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [ -n "$SASL_PORT" ]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT"
    protocols="$protocols,SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  cat > "$CONFIG" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
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
  sasl_config >> "$CONFIG"
}

format_storage() {
  if [ -f "$DATA_DIR/meta.properties" ]; then return 0; fi
  local cluster_id
  cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid | tail -n 1)"
  log "formatting storage in $DATA_DIR (cluster $cluster_id)"
  local scram=()
  if [ -n "$SASL_PORT" ]; then
    scram=(--add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]")
  fi
  java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" "${scram[@]}" \
    >"$LOG_DIR/format.log" 2>&1
}

# Upsert the SCRAM user through the Admin API on the PLAINTEXT listener: storage formatted
# before the SASL listener existed (or with other credentials) gets it as well.
add_scram_user() {
  [ -n "$SASL_PORT" ] || return 0
  HOOKLINE_KAFKA_SCRAM_PASSWORD="$SCRAM_PASSWORD" "$PYTHON" - "$PORT" "$SCRAM_USER" <<'PY' >/dev/null 2>&1
import os, sys
from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{sys.argv[1]}"})
password = os.environ["HOOKLINE_KAFKA_SCRAM_PASSWORD"].encode()
for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
    # One alteration per user and request: the broker refuses two at once.
    upsert = UserScramCredentialUpsertion(sys.argv[2], ScramCredentialInfo(mechanism, 8192), password)
    for future in admin.alter_user_scram_credentials([upsert], request_timeout=30).values():
        future.result()
PY
}

# The SASL listener answers an authenticated metadata request (SCRAM-SHA-512).
sasl_healthy() {
  [ -n "$SASL_PORT" ] || return 0
  HOOKLINE_KAFKA_SCRAM_PASSWORD="$SCRAM_PASSWORD" "$PYTHON" - "$SASL_PORT" "$SCRAM_USER" <<'PY' >/dev/null 2>&1
import os, sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({
    "bootstrap.servers": f"127.0.0.1:{sys.argv[1]}", "socket.timeout.ms": 2000,
    "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": sys.argv[2], "sasl.password": os.environ["HOOKLINE_KAFKA_SCRAM_PASSWORD"],
})
sys.exit(0 if admin.list_topics(timeout=5).brokers else 1)
PY
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
    if healthy && add_scram_user && sasl_healthy; then
      log "ready on 127.0.0.1:$PORT${SASL_PORT:+ and 127.0.0.1:$SASL_PORT (SASL_PLAINTEXT, SCRAM)}"
      return 0
    fi
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
    log "a broker runs but is not ready (started before the SASL listener existed? stop and start it)"
    return 1
  fi
  rm -f "$PID_FILE"
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    log "port $PORT is taken by another process; set HOOKLINE_KAFKA_PORT"; return 1
  fi
  if [ -n "$SASL_PORT" ] && (exec 3<>"/dev/tcp/127.0.0.1/$SASL_PORT") 2>/dev/null; then
    log "port $SASL_PORT is taken by another process; set HOOKLINE_KAFKA_SASL_PORT"; return 1
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
  if running_pid >/dev/null && healthy && sasl_healthy; then
    log "running and ready on 127.0.0.1:$PORT${SASL_PORT:+ and 127.0.0.1:$SASL_PORT (SCRAM)}"
    return 0
  fi
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
