#!/usr/bin/env bash
# At-least-once, fencing, outages, shutdown, retries, TTLs, ordering.
. "$(dirname "$0")/../lib.sh"
need_root "queue reliability"
. "$SANDQ_TOP/tests/queue-lib.sh"

redis_start --appendonly yes --appendfsync always || { t_result 1 "redis-server starts"; done_testing; exit 1; }
ok_count() { rcli hget "sandq:{${1:-default}}:stats" status:ok; }

# --- A worker SIGKILLed mid-job: the job completes once, elsewhere. -----
worker_start a --lease 2
id=$(SQ submit -- sh -c 'sleep 2; echo done')
sleeper=$(SQ submit --queue orphan -- sleep 60)
wait_for 10 'test "$(job_field "$id" state)" = running'
is "job runs on worker a" "$(job_field "$id" worker)" a
t0=$(date +%s%N)
worker_stop a KILL
ok "worker a's sandbox died with it" wait_for 1 'test "$(sandbox_procs)" -eq 0'
# A long job: its sandbox must die with a SIGKILLed worker, not run on.
worker_start o --queue orphan --lease 2
wait_for 10 'test "$(job_field "$sleeper" state orphan)" = running'
ok "the long job's sandbox is running" test "$(sandbox_procs)" -ge 1
worker_stop o KILL
ok "a SIGKILLed worker's long-running sandbox dies within a second" wait_for 1 'test "$(sandbox_procs)" -eq 0'
SQ cancel --queue orphan "$sleeper" >/dev/null
worker_start b --lease 2
SQ wait --timeout 20 "$id" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "the job finished ok" "$(job_field "$id" status)" ok
is "it finished on worker b" "$(job_field "$id" worker)" b
is "it was reclaimed once" "$(job_field "$id" reclaims)" 1
is "one ok verdict was recorded" "$(ok_count)" 1
worker_stop b
ok "done within lease + reap + run time ($ms ms)" test "$ms" -lt 9000
echo "# kill-to-done: $ms ms (lease 2 s, job 2 s)"

# --- Fencing: a paused worker that lost its lease cannot overwrite. -----
id=$(SQ submit --queue fence -- sh -c 'sleep 6; echo first')
worker_start p --queue fence --lease 2
wait_for 10 'test "$(job_field "$id" state fence)" = running'
is "fenced job on worker p" "$(job_field "$id" worker fence)" p
kill -STOP "$(wpid p)"
ok "worker p is paused while its job runs" wait_for 2 'grep -q "^State:.*T" /proc/$(wpid p)/status'
worker_start q --queue fence --lease 2
wait_for 20 'test "$(job_field "$id" state fence)" = final'
is "the job finished on worker q" "$(job_field "$id" worker fence)" q
kill -CONT "$(wpid p)"
# p's sandbox kept running while p was stopped; when p wakes it learns it
# lost the lease (or its verdict is refused as stale).
ok "worker p notices it lost the lease" wait_for 10 'grep -qE "lease lost|not recorded: the lease was taken over" "$Q_DIR/p.log"'
sleep 1
is "still one verdict, from q" "$(job_field "$id" worker fence)" q
is "the queue counts one ok" "$(ok_count fence)" 1
worker_stop p; worker_stop q

# --- Redis restarts mid-run (AOF on): nothing is lost. ------------------
ids=()
for i in 1 2 3 4 5 6; do ids+=("$(SQ submit --queue restart -- sh -c "sleep 1; echo $i")"); done
worker_start r --queue restart --concurrency 2 --lease 3
wait_for 10 'test "$(rcli zcard '\''sandq:{restart}:running'\'')" -ge 1'
kill -KILL "$(cat "$Q_DIR/redis.pid")"
sleep 1
redis_start --appendonly yes --appendfsync always
all_final() { for i in "${ids[@]}"; do [ "$(job_field "$i" state restart)" = final ] || return 1; done; }
ok "all six jobs reach a verdict after the restart" wait_for 40 all_final
oks=0; for i in "${ids[@]}"; do [ "$(job_field "$i" status restart)" = ok ] && oks=$((oks + 1)); done
is "all six are ok" "$oks" 6
ok "the worker logged the outage and carried on" grep -q 'retrying' "$Q_DIR/r.log"
is "worker r still running" "$(kill -0 "$(wpid r)" && echo yes)" yes
worker_stop r
is "worker r stops cleanly" "$WSTATUS" 0

# --- SIGTERM: running jobs get a grace period, then go back. ------------
id=$(SQ submit --queue grace -- sh -c 'sleep 30')
worker_start g --queue grace --grace 1 --lease 5
wait_for 10 'test "$(job_field "$id" state grace)" = running'
worker_stop g
is "worker exits 0 after its grace period" "$WSTATUS" 0
is "the unfinished job is queued again" "$(job_field "$id" state grace)" queued
is "without using up an attempt" "$(job_field "$id" attempts grace)" 0
ok "the log says it was given back" grep -q 'released back to the queue' "$Q_DIR/g.log"
ok "... and counts it in its last line" grep -q 'stopped after 0 job(s), 1 given back' "$Q_DIR/g.log"
id2=$(SQ submit --queue grace -- sh -c 'sleep 0.5; echo quick')
id3=$(SQ submit --queue grace -- true)
worker_start g2 --queue grace --grace 20 --lease 5 --concurrency 1
SQ cancel --queue grace "$id" >/dev/null
wait_for 10 'test "$(job_field "$id2" state grace)" = running'
worker_stop g2
is "a job that finishes within the grace period completes" "$(job_field "$id2" status grace)" ok
is "... and no claim rides behind its verdict: the next job was never claimed" \
  "$(job_field "$id3" state grace) $(job_field "$id3" fence grace)" "queued 0"
SQ cancel --queue grace "$id3" >/dev/null
# A job whose lease is no longer the worker's when the grace runs out is
# neither given back nor counted as such: its holder decides its fate.
id=$(SQ submit --queue grace -- sh -c 'sleep 30')
worker_start g3 --queue grace --grace 100ms --lease 60
wait_for 10 'test "$(job_field "$id" state grace)" = running'
rcli hset "sandq:{grace}:job:$id" lease someone-else/99 >/dev/null
worker_stop g3
is "a lease taken over at shutdown: the worker exits 0" "$WSTATUS" 0
ok "... says the lease is not its own" grep -qE "no longer this worker's|lease lost" "$Q_DIR/g3.log"
not_ok "... does not claim to have given it back" grep -q 'released back to the queue' "$Q_DIR/g3.log"
ok "... and counts nothing given back" grep -q 'stopped after .*, 0 given back' "$Q_DIR/g3.log"
is "... the job stays its holder's" "$(job_field "$id" lease grace)" someone-else/99
rcli del "sandq:{grace}:job:$id" >/dev/null
rcli zrem 'sandq:{grace}:running' "$id" >/dev/null
# A job cancelled while it runs never starts again, whichever way its run
# ends: given back at shutdown before the worker saw the flag ...
id=$(SQ submit --queue gc -- sh -c 'sleep 30')
worker_start c1 --queue gc --grace 100ms --lease 60
wait_for 10 'test "$(job_field "$id" state gc)" = running'
SQ cancel --queue gc "$id" >/dev/null
worker_stop c1
is "cancelled, then its worker stopped: the job is final" "$(job_field "$id" state gc)" final
is "... cancelled" "$(job_field "$id" status gc)" cancelled
not_ok "... and not counted as given back" grep -q 'released back to the queue' "$Q_DIR/c1.log"
# ... a run that ended in a system error (the result over the worker's cap)
id=$(SQ submit --queue gc -- sh -c 'sleep 30')
port=$(free_port)
worker_start c2 --queue gc --max-result 100 --lease 3 --metrics "127.0.0.1:$port"
wait_for 10 'test "$(job_field "$id" state gc)" = running'
SQ cancel --queue gc "$id" >/dev/null
ok "cancelled, then a system error: final" wait_for 15 'test "$(job_field "$id" state gc)" = final'
is "... cancelled, not retried" "$(job_field "$id" status gc)" cancelled
like "... its message names both" "$(job_field "$id" message gc)" 'cancelled.*larger than its cap'
is "... after one attempt" "$(job_field "$id" attempts gc)" 1
is "... and nothing waits to run it" "$(rcli zcard 'sandq:{gc}:delayed')" 0
m=$(metrics "$port")
like "... the worker counts the verdict Redis recorded" "$m" 'sandq_worker_jobs_total\{queue="gc",status="cancelled"\} 1'
like "... not the system_error it sent" "$m" 'sandq_worker_jobs_total\{queue="gc",status="system_error"\} 0'
ok "... and logs why" grep -q 'verdict system_error recorded as cancelled' "$Q_DIR/c2.log"
worker_stop c2
# ... or queued again with the flag by any other path: a claim finalizes it.
id=$(SQ submit --queue gc -- sh -c 'echo ran')
rcli hset "sandq:{gc}:job:$id" cancel 1 >/dev/null
worker_start c3 --queue gc --lease 5
ok "a queued job flagged cancelled: final" wait_for 10 'test "$(job_field "$id" state gc)" = final'
is "... cancelled" "$(job_field "$id" status gc)" cancelled
is "... never started" "$(job_field "$id" started_at gc)" ""
worker_stop c3

# --- A sandbox not cleaned up after its run: the verdict stands. --------
# The verdict is recorded before init's exit and the job cgroup's removal
# (nothing of the job is left by then); a failure there is the host's,
# logged and counted. On cgroup v2 a directory made inside the job's
# cgroup keeps it from being removed; on v1 a job's cgroups go back to a
# pool, which a child directory does not stop.
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  port=$(free_port)
  worker_start cf --queue cf --lease 10 --metrics "127.0.0.1:$port"
  id=$(SQ submit --queue cf -- sh -c 'sleep 3; echo finished')
  wait_for 10 'test "$(job_field "$id" state cf)" = running'
  # The job's cgroup: beside the worker's own leaf, the one its program
  # is in (a prewarmed sandbox's init has one too).
  inst=/sys/fs/cgroup$(dirname "$(sed -n 's/^0:://p' "/proc/$(wpid cf)/cgroup")")
  job_cgroup() {
    for d in "$inst"/j*; do
      for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] && { echo "$d"; return 0; }
      done
    done
    return 1
  }
  wait_for 5 job_cgroup >/dev/null
  jcg=$(job_cgroup)
  ok "the running job's cgroup is found" test -n "$jcg"
  [ -n "$jcg" ] && mkdir "$jcg/blocker"
  ok "a job whose cgroup cannot be removed: final" wait_for 15 'test "$(job_field "$id" state cf)" = final'
  is "... its verdict stands" "$(job_field "$id" status cf)" ok
  is "... from its one run" "$(job_field "$id" attempts cf)" 1
  is "... with its output" "$(SQ logs --queue cf --stdout "$id" 2>&1)" finished
  ok "... the worker says the sandbox was not cleaned up" \
    wait_for 10 'grep -q "not cleaned up after" "$Q_DIR/cf.log"'
  m=$(metrics "$port")
  like "... and counts it" "$m" 'sandq_worker_cleanup_failures_total 1'
  [ -n "$jcg" ] && rmdir "$jcg/blocker"
  worker_stop cf
  ok "... and its cgroup is gone once the worker stops" test ! -d "${jcg:-/nonexistent}"
else
  skip "a sandbox not cleaned up after" "needs cgroup v2 (on v1 job cgroups go back to a pool)"
fi

# --- system_error: retried with backoff, then dead-lettered. -------------
worker_start d --queue dl --max-result 100 --lease 5
id=$(SQ submit --queue dl -- true)
ok "the job ends in the dead-letter set" wait_for 20 'test "$(job_field "$id" state dl)" = final'
is "dead letter status" "$(job_field "$id" status dl)" system_error
is "it was tried max_attempts times" "$(job_field "$id" attempts dl)" 3
like "the message says why and how often" "$(job_field "$id" message dl)" 'larger than its cap of 100 bytes.*gave up after 3 attempts'
like "dead list shows it" "$(SQ dead list --queue dl)" "$id"
like "dead list --json" "$(SQ dead list --json --queue dl)" "\"id\":\"$id\""
like "dead show" "$(SQ dead show "$id")" 'status +system_error'
worker_stop d
worker_start d2 --queue dl --lease 5
out=$(SQ dead retry "$id"); is "dead retry: exit 0" "$?" 0
SQ wait --timeout 20 "$id" >/dev/null
is "a retried dead letter runs again" "$(job_field "$id" status dl)" ok
is "it left the dead-letter set" "$(rcli zcard 'sandq:{dl}:dead')" 0
worker_stop d2
worker_start d3 --queue dl --max-result 100 --lease 5
id=$(SQ submit --queue dl -- true)
wait_for 20 'test "$(job_field "$id" state dl)" = final'
worker_stop d3
SQ dead purge "$id" >/dev/null; is "dead purge: exit 0" "$?" 0
is "purged job is gone" "$(rcli exists "sandq:{dl}:job:$id")" 0
SQ dead show "$id" >/dev/null 2>&1; is "dead show of a purged job: exit 4" "$?" 4
for _ in 1 2; do SQ submit --queue dl -- true >/dev/null; done
worker_start d4 --queue dl --max-result 100 --lease 5
ok "two more dead letters" wait_for 30 'test "$(rcli zcard "sandq:{dl}:dead")" = 2'
worker_stop d4
out=$(SQ dead purge --all 2>&1); is "dead purge --all without --queue: the default queue's (exit 0)" "$?" 0
like "... which has none here" "$out" 'purged 0 dead letter'
like "dead purge --all --queue" "$(SQ dead purge --all --queue dl)" 'purged 2 dead letter'
is "the dead-letter set is empty" "$(rcli zcard 'sandq:{dl}:dead')" 0
# The purge script is one step: an id not (or no longer) in the dead-letter
# set, say retried meanwhile, keeps its record.
rcli hset 'sandq:{dl}:job:requeued' state queued >/dev/null
purge=$(cat "$SANDQ_TOP/common/lua/lib.lua" "$SANDQ_TOP/common/lua/purge.lua")
is "purge of an id that is not a dead letter: 0" \
  "$(rcli eval "$purge" 1 'sandq:{dl}:dead' 'sandq:{dl}:' requeued)" 0
is "... and its record stays" "$(rcli hget 'sandq:{dl}:job:requeued' state)" queued
rcli del 'sandq:{dl}:job:requeued' >/dev/null
stats=$(SQ stats --json)
is "stats: dead is the set's size now, after the purge" \
  "$(jget "$stats" queues.dl.dead 2>/dev/null || echo none)" 0
[ "$(jget "$stats" queues.dl.dead_total)" -ge 3 ] 2>/dev/null
t_result $? "stats: dead_total counts every dead letter ever"
like "stats --prometheus: the gauge is the set's size" \
  "$(SQ stats --prometheus)" 'sandq_queue_dead\{queue="dl"\} 0'

# --- A job whose workers keep dying is set aside as a poison pill. ------
id=$(SQ submit --queue poison -- sleep 30)
for i in 1 2 3 4; do
  worker_start "k$i" --queue poison --lease 1 --max-reclaims 3
  wait_for 10 'test "$(job_field "$id" state poison)" = running || break'
  worker_stop "k$i" KILL
  wait_for 10 'test "$(job_field "$id" state poison)" != running'
done
worker_start k5 --queue poison --lease 1 --max-reclaims 3
ok "after 4 deaths the job is dead-lettered" wait_for 10 'test "$(job_field "$id" state poison)" = final'
like "poison pill message" "$(job_field "$id" message poison)" 'died 4 times.*poison pill'
worker_stop k5

# --- TTLs: expired in the queue, results expire after --keep. ----------
id=$(SQ submit --queue ttl --ttl 1 -- true)
sleep 1.5
worker_start t --queue ttl
ok "a job past its TTL is not run" wait_for 10 'test "$(job_field "$id" state ttl)" = final'
is "it is expired" "$(job_field "$id" status ttl)" expired
is "and never started" "$(job_field "$id" started_at ttl)" ""
id=$(SQ submit --queue ttl --keep 2 -- true)
SQ wait "$id" >/dev/null
ok "the result carries a TTL" test "$(rcli ttl "sandq:{ttl}:result:$id")" -gt 0
is "the input is deleted once final" "$(rcli exists "sandq:{ttl}:input:$id")" 0
ok "the job record expires after --keep" wait_for 6 'test "$(rcli exists "sandq:{ttl}:job:$id")" = 0'
SQ status "$id" >/dev/null 2>&1; is "status after expiry: exit 4" "$?" 4
ok "event lists are capped and expire" test "$(rcli ttl "sandq:{ttl}:ev:$id")" -le 300
worker_stop t

# --- Order: queues as given, then priority, then FIFO. ------------------
lo1=$(SQ submit --queue lo -- true); lo2=$(SQ submit --queue lo -- true)
n=$(SQ submit --queue hi --priority normal -- true)
l=$(SQ submit --queue hi --priority low -- true)
h=$(SQ submit --queue hi --priority high -- true)
worker_start o --queue hi --queue lo --concurrency 1
ok "all ordered jobs finish" wait_for 20 'test "$(job_field "$lo2" state lo)" = final'
order=$(for j in "$h hi" "$n hi" "$l hi" "$lo1 lo" "$lo2 lo"; do set -- $j; echo "$(job_field "$1" started_at "$2") $1"; done | sort -n | awk '{print $2}' | tr '\n' ' ')
is "high, normal, low, then the next queue, FIFO" "$order" "$h $n $l $lo1 $lo2 "
worker_stop o

# --- The next claim rides behind each verdict: one round trip a job. ------
# The slots' round trips are in the worker's last log line. Each idle
# second adds one (the wait), so the bounds leave room for a few (a slow
# machine idles longer around the drain); two round trips a job, or a
# wait for each stale wake-up token, would be 40 or more.
slot_trips() { sed -n 's/.*redis_commands slots=\([0-9]*\) .*/\1/p' "$Q_DIR/$1.log"; }
ids=(); for _ in $(seq 20); do ids+=("$(SQ submit --queue rt -- true)"); done
worker_start rt --queue rt --concurrency 1
ok "20 queued jobs finish" wait_for 90 'test "$(job_field "${ids[19]}" state rt)" = final'
worker_stop rt
n=$(slot_trips rt)
ok "... in at most 30 round trips, a claim behind each verdict (got ${n:-none})" \
  test "${n:-99}" -le 30
done_n=0; for i in "${ids[@]}"; do [ "$(job_field "$i" status rt)" = ok ] && done_n=$((done_n + 1)); done
is "... each ok, run once" "$done_n $(rcli hget "sandq:{rt}:job:${ids[0]}" attempts)" "20 1"
ids=(); for _ in $(seq 20); do ids+=("$(SQ submit --queue rt2 -- true)"); done
worker_start rt2 --queue rt1 --queue rt2 --concurrency 1
ok "20 jobs on a worker's second queue finish" \
  wait_for 90 'test "$(job_field "${ids[19]}" state rt2)" = final'
worker_stop rt2
n=$(slot_trips rt2)
ok "... in at most 55 round trips: the first queue's claim behind each verdict (got ${n:-none})" \
  test "${n:-99}" -le 55

# --- An idle slot's claim rides behind its wait: one round trip. ----------
WC="$BIN/tests/wake-claim unix://$REDIS_SOCK"
$WC wc 5 > "$Q_DIR/wc.out" & wcpid=$!
sleep 0.5
id=$(SQ submit --queue wc -- true)
wait "$wcpid"
out=$(cat "$Q_DIR/wc.out")
like "a job that arrives during the wait is claimed" "$out" "^rc=1 id=$id "
like "... in the wait's own round trip" "$out" ' round_trips=1 '
ok "... after waiting for it (>= 400 ms)" test "$(echo "$out" | sed 's/.*waited_ms=//')" -ge 400
is "... and it is leased to the claimer" "$(job_field "$id" state wc) $(job_field "$id" worker wc)" \
  "running wake-claim"
SQ cancel --queue wc "$id" >/dev/null
out=$($WC wc 1)
like "an empty queue: nothing, in one round trip" "$out" '^rc=0 round_trips=1 '
for _ in 1 2 3; do SQ cancel --queue wc "$(SQ submit --queue wc -- true)" >/dev/null; done
is "three jobs submitted and cancelled leave three wake-up tokens" "$(rcli llen 'sandq:{wc}:wake')" 3
like "a wait wakes on one at once and its claim finds nothing" "$($WC wc 1)" '^rc=0 round_trips=1 '
is "... and that claim empties the wake list: no idle round trips for nothing" \
  "$(rcli llen 'sandq:{wc}:wake')" 0
ok "... after the whole wait (>= 900 ms)" test "$(echo "$out" | sed 's/.*waited_ms=//')" -ge 900
SQ pause wc >/dev/null
like "a paused queue: the claim says so" "$($WC wc 1)" '^rc=2 round_trips=1 '
SQ resume wc >/dev/null
rcli acl setuser nowait on '>nowait-pw' '~*' '&*' '+@all' '-blpop' >/dev/null
out=$($WC wc 1 nowait nowait-pw)
like "a wait the ACL refuses is an error, not a silent spin" "$out" "^rc=-1 error=.*user 'nowait' may not run BLPOP"
id=$(SQ submit --queue wc -- true)
like "... though a job already there is still claimed" "$($WC wc 1 nowait nowait-pw)" "^rc=1 id=$id "
SQ cancel --queue wc "$id" >/dev/null
# A worker whose wait is refused backs off rather than claiming in a loop.
echo nowait-pw > "$Q_DIR/nowait.pw"; chmod 600 "$Q_DIR/nowait.pw"
printf 'redis_url = unix://%s\nredis_user = nowait\nredis_password_file = %s\n' \
  "$REDIS_SOCK" "$Q_DIR/nowait.pw" > "$Q_DIR/nowait.conf"
evalshas() { rcli info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'; }
worker_start nw --config "$Q_DIR/nowait.conf" --queue nwq --concurrency 1
c0=$(evalshas); sleep 3; c1=$(evalshas)
worker_stop nw
ok "a worker whose wait is refused backs off (under 60 script calls in 3 s, not a spin)" \
  test "$((c1 - c0))" -lt 60
like "... and its log says why" "$(cat "$Q_DIR/nw.log")" "wait for jobs: .*user 'nowait' may not run BLPOP"
rcli acl deluser nowait >/dev/null

# --- Pause stops fetching fleet-wide. -----------------------------------
worker_start pz --queue pz
SQ pause pz >/dev/null
id=$(SQ submit --queue pz -- true)
sleep 1.5
is "a paused queue is not served" "$(job_field "$id" state pz)" queued
like "stats shows it paused" "$(SQ stats)" 'pz .*\(paused\)'
js=$(SQ stats --json --queue pz)
is "stats counts the waiting job" "$(jget "$js" queues.pz.depth)" 1
is "stats counts it at its priority" "$(jget "$js" queues.pz.depth_normal)" 1
ok "stats ages the oldest waiting job (>= 1 s)" test "$(jget "$js" queues.pz.oldest_age_ms)" -ge 1000
like "stats --prometheus has its age" "$(SQ stats --prometheus --queue pz)" 'sandq_queue_oldest_age_seconds\{queue="pz"\} [1-9]'
SQ resume pz >/dev/null
ok "resumed queue is served" wait_for 10 'test "$(job_field "$id" state pz)" = final'
# Drain one worker.
SQ drain pz >/dev/null; is "drain: exit 0" "$?" 0
ok "a drained worker exits when idle" wait_for 10 '! kill -0 "$(wpid pz)" 2>/dev/null'
SQ drain nobody >/dev/null 2>&1; is "drain an unknown worker: exit 4" "$?" 4
is "... and no hash is made for it" "$(rcli exists sandq:worker:nobody)" 0

is "no sandbox process left" "$(sandbox_procs)" 0
done_testing
