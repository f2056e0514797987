#!/usr/bin/env bash
# Full disks and a full Redis. A result fetched into a full file system
# leaves nothing half-extracted and stays in Redis; output written to a
# full disk is an error, not a silent success. A Redis over its maxmemory
# refuses a submit with a clear error and stores nothing, yet still hears
# its workers and keeps their leases; a worker says why its heartbeat
# fails, and one that evicts keys when full is warned about. A job
# claimed behind a verdict Redis refuses keeps its lease until it runs.
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
  "^sandq: submit: Redis at unix://$REDIS_SOCK is full \(its used memory is over its maxmemory\) and stored nothing of job '[^']+'; make room \(sandq dead purge; .*\) or raise its maxmemory$"
is "... and nothing was stored" "$(rcli dbsize)" "$keys_before"

# Any command Redis refuses for want of room is an error, not a silent
# success: a queue that could not be paused is not reported paused.
err=$(SQ pause default 2>&1 >/dev/null)
is "pause on a full Redis: exit 3" "$?" 3
like "... saying Redis is full, and what it refused" "$err" \
  "^sandq: pause: Redis at unix://$REDIS_SOCK is full \(its used memory is over its maxmemory\) and refused SET sandq:\{default\}:paused; make room \(sandq dead purge; .*\) or raise its maxmemory$"
is "... and the queue is not paused" "$(rcli exists 'sandq:{default}:paused')" 0

# A worker started against it is heard all the same (a heartbeat adds
# no more than the worker's own small hash): it is in sandq workers, and
# systemd would hear READY.
"$BIN/sandq-worker" --id full --concurrency 1 > "$Q_DIR/full.log" 2>&1 &
Q_PIDS+=($!)
full=$!
ok "a worker started against a full Redis is listed by sandq workers" \
  wait_for 10 "SQ workers --json | grep -q '\"id\":\"full\"'"
is "... and it was never refused a heartbeat" \
  "$(sleep 2.5; grep -c 'heartbeat: ' "$Q_DIR/full.log")" 0
is "... nor warned about anything" "$(grep -c 'warning:' "$Q_DIR/full.log")" 0
script_calls() { rcli info commandstats | sed -n 's/^cmdstat_script|load:calls=\([0-9]*\).*/\1/p'; }
s1=$(script_calls); sleep 4.5
is "... nor loads its scripts again every 2 s" "$(script_calls)" "$s1"
rcli config set maxmemory 0 >/dev/null
# A heartbeat Redis does refuse (here: an ACL that takes scripts away) is
# reported at once and then once a minute, and its return is noted.
rcli acl setuser default -evalsha >/dev/null
ok "a worker whose heartbeat is refused says why" \
  wait_for 10 "grep -q 'warning: heartbeat: Redis at .*: user .default. may not run a script on sandq:worker:full' '$Q_DIR/full.log'"
is "... once, not every two seconds" \
  "$(sleep 4.5; grep -c 'heartbeat: Redis' "$Q_DIR/full.log")" 1
rcli acl setuser default +evalsha >/dev/null
ok "... and that it is heard again" \
  wait_for 10 "grep -q 'notice: heartbeat: sent again after [0-9]* refused or failed' '$Q_DIR/full.log'"
id=$(SQ submit "$Q_DIR/in.bin" -- true)
is "with room again, a submit works" "$?" 0
is "... and the job runs" "$(SQ wait "$id" >/dev/null; job_field "$id" status)" ok

# The remedy the message names works on a full Redis: purging dead
# letters only deletes.
worker_start dl --queue dl --max-result 100
id=$(SQ submit --queue dl --max-attempts 1 -- true)
ok "a dead letter is made" wait_for 20 '[ "$(rcli zcard "sandq:{dl}:dead")" = 1 ]'
worker_stop dl
rcli config set maxmemory 1 >/dev/null
like "sandq dead purge works on a full Redis" "$(SQ dead purge --all --queue dl 2>&1)" \
  'purged 1 dead letter'
is "... and the job is gone" "$(rcli exists "sandq:{dl}:job:$id")" 0
rcli config set maxmemory 0 >/dev/null

# A running job's lease is renewed while Redis is full (a renewal adds
# nothing): it is not taken for dead and run a second time.
worker_start lease --queue renew --concurrency 1 --lease 2
id=$(SQ submit --queue renew -- sleep 4)
ok "a job runs" wait_for 10 '[ "$(job_field "$id" state renew)" = running ]'
rcli config set maxmemory 1 >/dev/null
l1=$(job_field "$id" lease_until renew); sleep 1.6; l2=$(job_field "$id" lease_until renew)
rcli config set maxmemory 0 >/dev/null
ok "a full Redis takes the lease renewals ($l1, then $l2)" test "${l2:-0}" -gt "${l1:-0}"
is "no renewal was refused" "$(grep -c 'renew leases' "$Q_DIR/lease.log")" 0
SQ wait --queue renew "$id" >/dev/null
is "... and the job ran once" "$(job_field "$id" status renew) $(job_field "$id" attempts renew)" "ok 1"
worker_stop lease

# The next claim rides behind a verdict. When Redis refuses the verdict
# (here: an ACL that takes the result keys away) but not the claim, the
# job claimed is held while the verdict is retried, its lease renewed as
# a running job's, and run once after.
pw=hw-$RANDOM$RANDOM; echo "$pw" > "$Q_DIR/hw.pw"; chmod 600 "$Q_DIR/hw.pw"
printf 'redis_url = unix://%s\nredis_user = hw\nredis_password_file = %s\n' \
  "$REDIS_SOCK" "$Q_DIR/hw.pw" > "$Q_DIR/hw.conf"
rcli acl setuser hw on ">$pw" '~*' '&*' '+@all' >/dev/null
worker_start held --config "$Q_DIR/hw.conf" --queue held --concurrency 1 --lease 1
a=$(SQ submit --queue held -- sleep 1.5); b=$(SQ submit --queue held -- true)
ok "a first job runs" wait_for 10 '[ "$(job_field "$a" state held)" = running ]'
rcli acl setuser hw resetkeys '~sandq:{held}:[^r]*' '~sandq:{held}:running' '~sandq:w*' \
  '~sandq:q*' >/dev/null
ok "its verdict refused, the next job is claimed behind it" \
  wait_for 10 '[ "$(job_field "$b" state held)" = running ]'
l1=$(job_field "$b" lease_until held); sleep 1.6; l2=$(job_field "$b" lease_until held)
is "... the first is still running (its verdict not yet in)" "$(job_field "$a" state held)" running
rcli acl setuser hw '~*' >/dev/null
ok "... the held job's lease was renewed ($l1, then $l2)" test "${l2:-0}" -gt "${l1:-0}"
ok "... the first's verdict went in once allowed" \
  wait_for 20 '[ "$(job_field "$a" state held)" = final ]'
ok "... and the held job ran" wait_for 20 '[ "$(job_field "$b" state held)" = final ]'
is "... both ok; the held one claimed once, never reclaimed" \
  "$(job_field "$a" status held) $(job_field "$b" status held) $(job_field "$b" fence held) $(job_field "$b" reclaims held)" \
  "ok ok 1 0"
worker_stop held

# A result fetched into a file system with no room for it: the error
# says so, what was extracted is removed again, and the result is still
# there to fetch once there is room.
id=$(SQ submit -- sh -c 'head -c 3000000 /dev/urandom > out/big; echo hello')
SQ wait "$id" >/dev/null
mkdir "$Q_DIR/small"
if mount -t tmpfs -o size=1m sandq-t0026 "$Q_DIR/small"; then
  err=$(SQ result --result-dir "$Q_DIR/small/r" "$id" 2>&1 >/dev/null)
  is "result into a full file system: exit 3" "$?" 3
  like "... saying so, and that the result is kept" "$err" \
    "^sandq: result of $id: entry 'out/big': write: No space left on device; nothing was kept in '$Q_DIR/small/r', and the result stays in Redis until it expires: make room and run sandq result again$"
  is "... and nothing half-extracted is left" "$(ls -A "$Q_DIR/small/r")" ""
  # Standard output on a full disk: an error, not a silent success.
  head -c 2000000 /dev/zero > "$Q_DIR/small/fill" 2>/dev/null
  err=$(SQ logs --stdout "$id" 2>&1 > "$Q_DIR/small/log")
  is "logs to a full disk: exit 3" "$?" 3
  is "... saying the output is incomplete" "$err" \
    "sandq: write to standard output: No space left on device; the output is incomplete"
  umount "$Q_DIR/small"
  SQ result --result-dir "$Q_DIR/small/r" "$id" >/dev/null
  is "with room, the same result extracts" "$?" 0
  is "... whole" "$(stat -c %s "$Q_DIR/small/r/out/big") $(cat "$Q_DIR/small/r/stdout")" "3000000 hello"
else
  skip "a result into a full file system" "cannot mount a tmpfs"
fi

kill -TERM "$full"; wait "$full"

# A Redis that evicts keys when full may drop a queued job: the worker
# warns at start.
rcli config set maxmemory-policy allkeys-lru >/dev/null
worker_start lru --concurrency 1
ok "a worker on an evicting Redis warns" \
  wait_for 5 "grep -q 'evicts keys when it is full (maxmemory-policy allkeys-lru): .*; set maxmemory-policy noeviction' '$Q_DIR/lru.log'"
worker_stop lru
done_testing
