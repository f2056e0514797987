# Helpers for tests that need Redis and workers. Source after lib.sh.
#
# Each test file gets its own redis-server on a unix socket in a temporary
# directory (nothing listens on TCP), and everything it starts is stopped
# on exit.
Q_DIR=$(mktemp -d /tmp/sandq-qtest.XXXXXX)
REDIS_SOCK=$Q_DIR/redis.sock
export SANDQ_REDIS_URL=unix://$REDIS_SOCK
export SANDQ_CONFIG=$Q_DIR/none.conf   # never read the host's config
: > "$SANDQ_CONFIG"
Q_PIDS=()

# Workers a test did not stop are killed outright; their instances' job
# cgroups then wait for the next sandq start in this cgroup to sweep
# them, so one start here does that now (tests/leftovers.sh checks).
q_cleanup() {
  local killed=0
  for p in "${Q_PIDS[@]+"${Q_PIDS[@]}"}"; do
    kill -CONT "$p" 2>/dev/null
    kill -KILL "$p" 2>/dev/null && killed=1 && wait "$p" 2>/dev/null
  done
  [ "$killed" -eq 1 ] && "$BIN/sandq-sandbox" run -- /bin/true >/dev/null 2>&1
  redis_stop
  rm -rf "$Q_DIR"
}
trap q_cleanup EXIT

# redis_start [extra redis-server args...]
redis_start() {
  redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
    --dir "$Q_DIR" --save '' --appendonly no --daemonize yes \
    --pidfile "$Q_DIR/redis.pid" --logfile "$Q_DIR/redis.log" "$@" || return 1
  for _ in $(seq 100); do
    redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "# redis did not start: $(tail -3 "$Q_DIR/redis.log")"
  return 1
}

redis_stop() {
  [ -f "$Q_DIR/redis.pid" ] && kill -KILL "$(cat "$Q_DIR/redis.pid")" 2>/dev/null
  for _ in $(seq 50); do [ -S "$REDIS_SOCK" ] && [ -f "$Q_DIR/redis.pid" ] && \
    kill -0 "$(cat "$Q_DIR/redis.pid")" 2>/dev/null || break; sleep 0.05; done
  rm -f "$Q_DIR/redis.pid" "$REDIS_SOCK"
}

rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }

# worker_start NAME [sandq-worker args...]: runs in the background (under
# $WORKER_WRAP, a command prefix, if set); its
# pid is in W_<NAME>, its log in $Q_DIR/NAME.log.
worker_start() {
  local name=$1; shift
  ${WORKER_WRAP:-} "$BIN/sandq-worker" --id "$name" "$@" > "$Q_DIR/$name.log" 2>&1 &
  local pid=$!
  Q_PIDS+=("$pid")
  printf -v "W_$name" '%s' "$pid"
  # Ready once its heartbeat is in Redis.
  for _ in $(seq 100); do
    [ "$(rcli exists "sandq:worker:$name" 2>/dev/null)" = 1 ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "# worker $name did not start:"; sed 's/^/#   /' "$Q_DIR/$name.log" | tail -5
  return 1
}

wpid() { local v="W_$1"; echo "${!v}"; }

# free_port: a free loopback TCP port, for a worker's --metrics.
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# metrics PORT: what a worker's metrics server answers at /metrics.
metrics() {
  "$PY" -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "http://127.0.0.1:$1/metrics"
}

# worker_stop NAME [SIGNAL]: signals it (TERM by default) and waits for it
# to exit; its exit status goes to WSTATUS. Call it directly, not in $(...):
# only the shell that started the worker can wait for it.
worker_stop() {
  local pid; pid=$(wpid "$1")
  kill "-${2:-TERM}" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  WSTATUS=$?
}

SQ() { "$BIN/sandq" "$@"; }

# job_field ID FIELD [QUEUE]
job_field() { rcli hget "sandq:{${3:-default}}:job:$1" "$2"; }

# wait_for SECONDS 'CONDITION': evaluates the shell CONDITION (quote it, so
# that command substitutions run on every poll) until it holds.
wait_for() {
  local t=$1; shift
  local end=$(( $(date +%s%N) + t * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$end" ]; do eval "$*" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
