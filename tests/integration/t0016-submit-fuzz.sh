#!/usr/bin/env bash
# The submit path, fuzzed: valid submissions mutated in their numbers,
# names, keys, spec and input go straight to the submit script over RESP
# (submit_fuzz.py), as a client in another language might send them. The
# script either refuses one with an error that names the argument, or
# stores a job that a worker then brings to a job verdict: never a Lua
# error, never system_error, never a job left queued or running, never a
# wedged worker. SANDQ_FUZZ_SEED picks another corpus (the default is
# fixed, so that a failure repeats).
. "$(dirname "$0")/../lib.sh"
need_root "submit fuzz"
. "$SANDQ_TOP/tests/queue-lib.sh"
seed=${SANDQ_FUZZ_SEED:-20261205}
count=${SANDQ_FUZZ_COUNT:-250}

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
echo "# seed $seed, $count submissions"
summary=$("$PY" "$SANDQ_TOP/tests/integration/submit_fuzz.py" "$REDIS_SOCK" \
  "$SANDQ_TOP/common/lua" "$count" "$seed" "$Q_DIR/accepted")
echo "$summary" | sed 's/^/# /'
read -r _ accepted _ refused _ odd _ short <<< "$(echo "$summary" | head -1)"
is "every reply is a job or an error naming the argument" "$odd" 0
ok "some submissions were accepted ($accepted) and some refused ($refused)" \
  test "$accepted" -gt 20 -a "$refused" -gt 20
records=$(rcli --scan --pattern 'sandq:{*}:job:*' | wc -l)
ok "a refused submission stores nothing: one job record per accepted id ($records)" \
  test "$records" -ge "$accepted" -a "$records" -le $((accepted + short))
ok "nothing but the default queue was written" \
  test -z "$(rcli --scan --pattern 'sandq:*' | grep -v '^sandq:{default}:')"

worker_start f --concurrency 2 --lease 5
final() {
  local n=0
  while read -r id; do
    [ "$(job_field "$id" state)" = final ] && n=$((n + 1))
  done < "$Q_DIR/accepted"
  echo "$n"
}
ok "every accepted job reaches a verdict" wait_for 240 'test "$(final)" -eq "$accepted"'
statuses=$(while read -r id; do job_field "$id" status; done < "$Q_DIR/accepted" | sort | uniq -c)
echo "$statuses" | sed 's/^/# /'
is "no job ends in system_error: what a client sends is the job's" \
  "$(echo "$statuses" | grep -c system_error)" 0
nomsg=$(while read -r id; do [ -n "$(job_field "$id" message)" ] || echo "$id"; done < "$Q_DIR/accepted")
is "every verdict has a message" "$nomsg" ""
one=$(while read -r id; do a=$(job_field "$id" attempts)
  [ "$a" = 1 ] || [ "$a:$(job_field "$id" status)" = 0:expired ] || echo "$id:$a"; done < "$Q_DIR/accepted")
is "every job ran once, or expired unrun (no retries)" "$one" ""
is "no job left pending" "$(rcli eval "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3])" \
  3 'sandq:{default}:pending:0' 'sandq:{default}:pending:1' 'sandq:{default}:pending:2')" 0
is "none left running" "$(rcli zcard 'sandq:{default}:running')" 0
ok "the worker is alive" kill -0 "$(wpid f)"
js=$("$BIN/sandq" submit --json --wait -- /bin/echo after)
is "and runs the next job" "$(jget "$js" status)" ok
done_testing
