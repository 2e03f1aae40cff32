#!/usr/bin/env bash
# Start or stop the platform's services, each as its own background process.
#   services.sh start|stop|status
# Logs: .local/services/<name>.log   pids: .local/services/<name>.pid
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="$ROOT/.local/services"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
# name:port — the port each service's HTTP API (probes, metrics, endpoints) listens on
SERVICES=(invoicing:8101 payments:8102 matching:8103 aging:8104 dunning:8105 credit:8106)

is_running() { [[ -f "$RUN_DIR/$1.pid" ]] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }

wait_ready() {
  local name=$1 port=$2
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
    if ! is_running "$name"; then
      echo "$name: exited during start; last log lines:" >&2
      tail -n 20 "$RUN_DIR/$name.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$name: not ready after 60s; see $RUN_DIR/$name.log" >&2
  return 1
}

start() {
  mkdir -p "$RUN_DIR"
  for entry in "${SERVICES[@]}"; do
    local name=${entry%%:*} port=${entry##*:}
    if is_running "$name"; then echo "$name: already running"; continue; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$name: port $port is taken by another process; stop it first" >&2
      exit 1
    fi
    # setsid: the service outlives this script and its terminal; no inherited stdin/stdout
    # keeps a caller waiting on them.
    HTTP_PORT=$port ANALYST_DATABASE_PASSWORD=${ANALYST_DATABASE_PASSWORD:-analyst} setsid "$PYTHON" -m "services.$name.main" \
      </dev/null >>"$RUN_DIR/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/$name.pid"
  done
  for entry in "${SERVICES[@]}"; do
    local name=${entry%%:*} port=${entry##*:}
    wait_ready "$name" "$port"
    echo "$name: ready on http://127.0.0.1:$port"
  done
}

stop() {
  for entry in "${SERVICES[@]}"; do
    local name=${entry%%:*}
    if is_running "$name"; then
      local pid; pid=$(cat "$RUN_DIR/$name.pid")
      kill -TERM "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "$name: stopped"
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
}

status() {
  for entry in "${SERVICES[@]}"; do
    local name=${entry%%:*} port=${entry##*:}
    if is_running "$name"; then echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"), port $port)"
    else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
