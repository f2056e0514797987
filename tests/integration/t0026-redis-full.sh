#!/usr/bin/env bash
# A full Redis (used memory over maxmemory) and one that evicts keys when
# full: a submit is refused with a clear error and stores nothing, a
# worker says why its heartbeat fails and warns about an eviction policy
# that can drop jobs.
. "$(dirname "$0")/../lib.sh"
need_root "a full Redis"
. "$SANDQ_TOP/tests/queue-lib.sh"

redis_start --maxmemory-policy noeviction || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start w0 --concurrency 1
SQ submit --wait -- true >/dev/null
is "a job runs (the scripts are loaded)" "$?" 0
worker_stop w0
is "with noeviction, the worker does not warn about eviction" \
   "$(grep -c 'evicts keys' "$Q_DIR/w0.log")" 0

keys_before=$(rcli dbsize)
rcli config set maxmemory 1 >/dev/null
head -c 300000 /dev/urandom > "$Q_DIR/in.bin"
err=$(SQ submit "$Q_DIR/in.bin" -- true 2>&1 >/dev/null)
is "submit to a full Redis: exit 3" "$?" 3
like "... saying Redis is full, and what to do" "$err" \
  "^sandq: submit: Redis at unix://$REDIS_SOCK is full \(its used memory is over its maxmemory\) and stored nothing of script submit; make room \(sandq dead purge; .*\) or raise its maxmemory$"
is "... and nothing was stored" "$(rcli dbsize)" "$keys_before"

# A worker started against it: its heartbeat is refused, and it says so
# (it is not in sandq workers, and systemd would hear no READY).
"$BIN/sandq-worker" --id full --concurrency 1 > "$Q_DIR/full.log" 2>&1 &
Q_PIDS+=($!)
full=$!
ok "a worker whose heartbeat a full Redis refuses says why" \
  wait_for 10 "grep -q 'warning: heartbeat: Redis at .* is full' '$Q_DIR/full.log'"
is "... once, not every two seconds" \
  "$(sleep 4.5; grep -c 'heartbeat: Redis' "$Q_DIR/full.log")" 1
rcli config set maxmemory 0 >/dev/null
ok "... and that it is heard again once there is room" \
  wait_for 10 "grep -q 'notice: heartbeat: sent again after [0-9]* refused or failed' '$Q_DIR/full.log'"
id=$(SQ submit "$Q_DIR/in.bin" -- true)
is "with room again, a submit works" "$?" 0
is "... and the job runs" "$(SQ wait "$id" >/dev/null; job_field "$id" status)" ok
kill -TERM "$full"; wait "$full"

# A Redis that evicts keys when full may drop a queued job: the worker
# warns at start.
rcli config set maxmemory-policy allkeys-lru >/dev/null
worker_start lru --concurrency 1
ok "a worker on an evicting Redis warns" \
  wait_for 5 "grep -q 'evicts keys when it is full (maxmemory-policy allkeys-lru): .*; set maxmemory-policy noeviction' '$Q_DIR/lru.log'"
worker_stop lru
done_testing
