#!/usr/bin/env bash
# The queue end to end: submit, run, verdicts, every CLI command.
. "$(dirname "$0")/../lib.sh"
need_root "queue round trip"
. "$SANDQ_TOP/tests/queue-lib.sh"

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start w1 --concurrency 2 --lease 3
in=$Q_DIR/in && mkdir -p "$in"
printf 'day,value\n1,10\n2,20\n3,30\n' > "$in/data.csv"
cat > "$in/job.py" <<'PY'
import csv
rows = list(csv.DictReader(open("data.csv")))
total = sum(int(r["value"]) for r in rows)
open("out/total.txt", "w").write(f"{total}\n")
print(f"rows={len(rows)}")
PY

# The round trip.
out=$(SQ submit --wait --result-dir "$Q_DIR/r1" "$in/data.csv" "$in/job.py" -- python3 job.py 2>/dev/null)
is "submit --wait: exit 0 for an ok verdict" "$?" 0
like "submit --wait prints the final job" "$out" 'status +ok'
is "result archive: out/ file" "$(cat "$Q_DIR/r1/out/total.txt" 2>/dev/null)" 60
is "result archive: stdout" "$(cat "$Q_DIR/r1/stdout" 2>/dev/null)" "rows=3"
ok "result archive: stderr is there" test -f "$Q_DIR/r1/stderr"
is "result archive: result.json status" "$(jget "$(cat "$Q_DIR/r1/result.json")" status)" ok

# --json shapes that scripts rely on.
js=$(SQ submit --json "$in/job.py" "$in/data.csv" -- python3 job.py)
id=$(jget "$js" id)
like "submit --json prints {\"id\": ...}" "$js" '^\{"id":"[0-9a-z]{26}"'
js=$(SQ wait --json "$id"); is "wait: exit 0" "$?" 0
is "wait --json: id" "$(jget "$js" id)" "$id"
is "wait --json: state" "$(jget "$js" state)" final
is "wait --json: status" "$(jget "$js" status)" ok
js=$(SQ status --json "$id")
is "status --json: state" "$(jget "$js" state)" final
is "status --json: exit_code" "$(jget "$js" exit_code)" 0
like "status --json: wall_ms" "$js" '"wall_ms":[0-9]+'
like "status --json: cpu_ms" "$js" '"cpu_ms":[0-9]+'
like "status --json: memory_peak_bytes" "$js" '"memory_peak_bytes":[0-9]+'
# The record's figures are result.json's.
dk=$(jget "$js" disk_bytes)
like "status --json: disk_bytes" "$dk" '^[0-9]+$'
SQ result --result-dir "$Q_DIR/rfig" "$id" >/dev/null 2>&1
is "the record's disk_bytes is result.json's" "$(jget "$(cat "$Q_DIR/rfig/result.json")" disk_bytes)" "$dk"
is "the record's wall_ms is result.json's" "$(jget "$(cat "$Q_DIR/rfig/result.json")" wall_ms)" "$(jget "$js" wall_ms)"
out=$(SQ status "$id"); like "status: human form" "$out" 'status +ok'
is "logs: stdout" "$(SQ logs --stdout "$id")" "rows=3"
js=$(SQ logs --json "$id"); is "logs --json" "$(jget "$js" stdout)" "rows=3"
# Output that is not UTF-8 (latin-1 here, and a NUL): --json stays valid
# JSON, with U+FFFD for the bad byte; without --json the bytes are exact.
bin=$(SQ submit -- sh -c 'printf "caf\351 \000ok"'); SQ wait "$bin" >/dev/null
js=$(SQ logs --json "$bin")
is "logs --json of output that is not UTF-8: U+FFFD for the bad byte, NUL kept" \
  "$("$PY" -c 'import json,sys; print(ascii(json.loads(sys.argv[1])["stdout"]))' "$js" 2>&1)" \
  "'caf\\ufffd \\x00ok'"
is "logs without --json: the exact bytes" "$(SQ logs --stdout "$bin" | od -An -c | tr -s ' ')" \
  " c a f 351 \\0 o k"
SQ result --result-dir "$Q_DIR/r2" "$id" >/dev/null; is "result: exit 0" "$?" 0
is "result: extracted" "$(cat "$Q_DIR/r2/out/total.txt")" 60

# A job starts with the default signal state, not the worker's (its
# threads block every signal, and it ignores SIGPIPE). With SIGCHLD
# blocked, a shell's `wait` never returned and the job timed out.
id=$(SQ submit --wall 10 -- sh -c 'sleep 0.2 & wait; echo waited'); SQ wait "$id" >/dev/null
is "a shell's background job and wait: ok" "$(job_field "$id" status)" ok
is "... and the wait returned" "$(SQ logs --stdout "$id")" waited
id=$(SQ submit -- grep -E '^Sig(Blk|Ign):' /proc/self/status); SQ wait "$id" >/dev/null
is "a job starts with no signal blocked or ignored" "$(SQ logs --stdout "$id" | tr -s '\t' ' ')" \
   "$(printf 'SigBlk: 0000000000000000\nSigIgn: 0000000000000000')"

# A job cannot write init's report records: one that did came back as
# system_error with its own message, and the fleet ran it again.
id=$(SQ submit --wall 10 -- sh -c "printf 'Fthe sandbox is on fire' >&4; exit 0")
SQ wait "$id" >/dev/null
is "a job writing to init's report fd: its own verdict, one attempt" \
   "$(job_field "$id" status) $(job_field "$id" attempts)" "ok 1"

# Verdicts are results: a failing program is final at once, not retried.
id=$(SQ submit -- sh -c 'echo oops >&2; exit 3')
SQ wait "$id" >/dev/null; is "wait: exit 1 for a failed verdict" "$?" 1
is "nonzero_exit is final" "$(job_field "$id" status)" nonzero_exit
is "nonzero_exit used one attempt" "$(job_field "$id" attempts)" 1
is "logs: stderr" "$(SQ logs --stderr "$id" 2>&1)" oops
id=$(SQ submit --memory 64M -- python3 -c 'b=[bytearray(1<<20) for _ in range(200)]')
SQ wait "$id" >/dev/null
is "memory_limit through the queue" "$(job_field "$id" status)" memory_limit
like "memory_limit message" "$(job_field "$id" message)" 'more than 64 MiB of memory'
# Archives are unpacked and packed by sandq-archiver, a helper the worker
# starts with a clean environment; the worker itself never maps libarchive.
helper() {
  for c in $(cat /proc/"$(wpid "${1:-w1}")"/task/*/children); do
    [ "$(cat /proc/$c/comm 2>/dev/null)" = sandq-archiver ] && echo "$c"
  done
}
ok "the worker has its archive helper" test -n "$(helper)"
ok "the worker does not map libarchive" \
  sh -c "! grep -q libarchive /proc/$(wpid w1)/maps"
is "the helper's environment is empty (bar LD_BIND_NOW and sanitizer options)" \
  "$(tr '\0' '\n' < /proc/"$(helper)"/environ | grep -v '^[A-Z]*SAN_OPTIONS=')" "LD_BIND_NOW=1"
pgid() { ps -o pgid= -p "$1" | tr -d ' '; }
ok "the helper has a process group of its own (a ^C is for the worker, which drains)" \
  test "$(pgid "$(helper)")" != "$(pgid "$(wpid w1)")"
ign=$(awk '/^SigIgn/ { print $2 }' /proc/"$(helper)"/status)
ok "the helper ignores SIGTERM and SIGINT (it ends with the worker)" \
  test $(( 0x$ign & 0x4002 )) -eq $(( 0x4002 ))
is "the helper holds its control socket, stdio and the job processes' empty root only" \
  "$(for f in $(ls /proc/$(helper)/fd); do printf '%s ' "$( [ "$f" -le 3 ] && echo "$f" || readlink "/proc/$(helper)/fd/$f")"; done)" \
  "0 1 2 3 / "
# Each idle slot has its next job process waiting: a child of the helper,
# holding its socket and /dev/null only, in a network namespace of its own.
jobprocs() { cat /proc/"$(helper "${1:-w1}")"/task/*/children 2>/dev/null | tr ' ' '\n' | grep .; }
ok "each idle slot has a job process waiting" wait_for 5 'test "$(jobprocs | wc -l)" -eq 2'
u=$(jobprocs | head -1)
is "the job process holds only its socket (and /dev/null as stdio)" \
  "$(for f in $(ls /proc/$u/fd); do printf '%s=%s ' "$f" "$(readlink /proc/$u/fd/$f | cut -d: -f1)"; done)" \
  "0=/dev/null 1=/dev/null 2=/dev/null 3=socket "
ok "the job process is not in the host's network namespace" \
  test "$(readlink /proc/$u/ns/net)" != "$(readlink /proc/self/ns/net)"
# The libraries libarchive links for what sandq never asks of it (xar's
# XML with ICU and the C++ runtime, nettle, lz4, ACLs) stay out of every
# fork: the helper maps them, its job processes do not.
ok "the helper maps libxml2 (libarchive links it)" grep -q libxml2 /proc/"$(helper)"/maps
is "... its job processes map none of libxml2, ICU, nettle, lz4, libacl" \
  "$(grep -oE 'lib(xml2|icu[a-z]*|nettle|lz4|acl)\.so' /proc/$u/maps | sort -u)" ""
ok "... but libarchive and its decompressors" \
  sh -c "grep -q libarchive /proc/$u/maps && grep -q libzstd /proc/$u/maps"
# Its root is an empty read-only tmpfs, not the job's directory: glibc
# opens files by absolute path on its own (see t0004's gconv job).
is "the job process's root is empty" "$(ls -A /proc/$u/root/ 2>&1)" ""
is "... a tmpfs" "$(stat -f -c %T /proc/$u/root/)" tmpfs
like "... read-only" "$(touch /proc/$u/root/x 2>&1)" 'Read-only file system'
# Each idle slot has its next sandbox waiting too. Its pid 1 is
# sandq-init, executed afresh from the library's memfd: it holds no copy of
# the worker's memory (the Redis password), no environment, no library.
inits() {
  for c in $(cat /proc/"$(wpid "${1:-w1}")"/task/*/children); do
    case "$(readlink /proc/$c/exe)" in *memfd:sandq-init*) echo "$c" ;; esac
  done
}
ok "each idle slot has a sandbox waiting, its pid 1 sandq-init" \
  wait_for 5 'test "$(inits | wc -l)" -eq 2'
i=$(inits | head -1)
is "the waiting init has no environment" "$(wc -c < /proc/$i/environ)" 0
is "the waiting init maps nothing of the worker (no library, no worker binary)" \
  "$(grep -cE 'hiredis|jansson|libc\.so|sandq-worker' /proc/$i/maps)" 0
# Before the job it holds the capabilities it uses, in its own user
# namespace, and no other: SETGID, SETUID, SETPCAP, NET_ADMIN, SYS_ADMIN.
is "the waiting init's capabilities: only the five it uses" \
  "$(grep -E '^Cap(Prm|Eff|Amb)' /proc/$i/status | awk '{print $2}' | sort -u)" 00000000002011c0
# 5 is the job's own scratch disk, where a job with a network gets its
# /etc/hosts from; init closes it before the program starts.
is "the waiting init holds its sync, report and scratch-disk fds only" \
  "$(ls /proc/$i/fd | tr '\n' ' ')" "3 4 5 "
is "fd 5 is the job's scratch disk (at its /tmp), no host file" "$(readlink /proc/$i/fd/5)" /tmp
# One that died while it waited is replaced, and the job never notices.
kill -9 $(jobprocs)
id=$(SQ submit "$in/data.csv" -- cat data.csv); SQ wait "$id" >/dev/null
is "a dead waiting job process is replaced: the next job runs at once" \
  "$(job_field "$id" status) $(job_field "$id" attempts)" "ok 1"
# So is a dead helper, by the slot that finds it gone.
old=$(helper); kill -9 "$old"
id=$(SQ submit "$in/data.csv" -- cat data.csv); SQ wait "$id" >/dev/null
is "a dead archive helper is restarted: the next job runs at once" \
  "$(job_field "$id" status) $(job_field "$id" attempts)" "ok 1"
ok "the new helper is another process" test -n "$(helper)" -a "$(helper)" != "$old"
like "the worker logged the restart" "$(cat "$Q_DIR/w1.log")" 'archive helper died; starting another'
# A job process that neither answers nor dies (stopped here) is given up
# on after --archive-timeout: the job fails once as a system error and
# runs again with a new one.
worker_start stuck --queue stuck --archive-timeout 1
ok "the stuck-test worker has a job process waiting" wait_for 5 'test -n "$(jobprocs stuck)"'
kill -STOP $(jobprocs stuck)
id=$(SQ submit --queue stuck -- echo fine); SQ wait --queue stuck --timeout 30 "$id" >/dev/null
is "a job process that does not answer: the job runs again" \
  "$(job_field "$id" status stuck) $(job_field "$id" attempts stuck)" "ok 2"
like "the first attempt's error says why" "$(job_field "$id" last_error stuck)" \
  'did not answer within 1.0 s'
worker_stop stuck
ok "the stopped job process was killed" test -z "$(ps -C sandq-archiver -o stat= | grep '^T')"
# A job that locks its own out/ away from itself still gets its files.
id=$(SQ submit -- sh -c 'mkdir out/d; echo kept > out/d/f; chmod 0 out/d/f out/d out')
SQ wait "$id" >/dev/null
SQ result --result-dir "$Q_DIR/locked" "$id" >/dev/null
is "files the job made unreadable come back" "$(cat "$Q_DIR/locked/out/d/f" 2>&1)" kept
# And a prewarmed sandbox whose init was killed while it waited.
ok "each idle slot has its sandbox ready again" wait_for 5 'test "$(job_cgroup_procs | grep -c .)" -eq 2'
kill -9 $(job_cgroup_procs)
id=$(SQ submit -- true); SQ wait "$id" >/dev/null
is "a dead prewarmed sandbox is not used: the next job runs at once" \
  "$(job_field "$id" status) $(job_field "$id" attempts)" "ok 1"
# Each idle slot keeps its next sandbox ready (made with the default
# limits); a job that takes it still gets its own limits.
ok "each idle slot has a prewarmed sandbox waiting" \
  wait_for 5 'test "$(job_cgroup_procs | grep -c .)" -eq 2'
# A slot makes its next sandbox once its job is over, or beside a
# program that runs on: here both slots' next ones wait beside the
# sleep and its init.
id=$(SQ submit -- sleep 3)
ok "a slot whose program runs on has its next sandbox made meanwhile" \
  wait_for 3 'test "$(job_cgroup_procs | grep -c .)" -eq 4'
SQ wait "$id" >/dev/null
is "... and the program ends as usual" "$(job_field "$id" status)" ok
id=$(SQ submit --disk 2M -- sh -c 'head -c 3000000 /dev/zero > big')
SQ wait "$id" >/dev/null
is "a prewarmed sandbox gets the job's disk limit" "$(job_field "$id" status)" disk_limit
id=$(SQ submit --pids 5 -- sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait')
SQ wait "$id" >/dev/null
is "... and its pids limit" "$(job_field "$id" status)" pids_limit
id=$(SQ submit --memory 600M -- python3 -c 'b=bytearray(550<<20); print(len(b))')
SQ wait "$id" >/dev/null
is "... and a memory limit above the default one" "$(job_field "$id" status)" ok
id=$(SQ submit --wall 0.5 -- sleep 10); SQ wait "$id" >/dev/null
is "timeout through the queue" "$(job_field "$id" status)" timeout
id=$(SQ submit -- no-such-program); SQ wait "$id" >/dev/null
like "command not found is explained" "$(job_field "$id" message)" "no-such-program' was not found"

# Idempotent submit.
a=$(SQ submit --id nightly-2026-11-26 -- true 2>/dev/null)
b=$(SQ submit --id nightly-2026-11-26 -- true 2>"$Q_DIR/dup.err")
is "a double submit returns the same id" "$b" "$a"
like "a double submit says so" "$(cat "$Q_DIR/dup.err")" 'already exists'
SQ wait nightly-2026-11-26 >/dev/null
is "the job ran once" "$(rcli hget 'sandq:{default}:stats' submitted)" \
   "$(rcli hget 'sandq:{default}:stats' submitted)"
is "one job hash for the id" "$(rcli keys 'sandq:{default}:job:nightly-2026-11-26' | wc -l)" 1
err=$(SQ submit --queue other --id nightly-2026-11-26 -- true 2>&1); is "same id in another queue: exit 2" "$?" 2
like "same id in another queue is explained" "$err" "already used in queue 'default'"

# Environment and limits reach the sandbox.
id=$(SQ submit --env GREETING=hi --pids 8 -- sh -c 'echo "$GREETING"')
SQ wait "$id" >/dev/null
is "--env reaches the job" "$(SQ logs --stdout "$id")" hi
like "the spec keeps the limits" "$(SQ status --json "$id")" '"pids":8'

# Cancel a queued job: it never runs.
SQ pause default >/dev/null
id=$(SQ submit -- sh -c 'echo ran > out/ran')
out=$(SQ cancel "$id"); is "cancel queued: exit 0" "$?" 0
like "cancel queued: said" "$out" 'cancelled before it ran'
is "cancelled queued job is final" "$(job_field "$id" status)" cancelled
is "cancelled queued job never started" "$(job_field "$id" started_at)" ""
SQ resume default >/dev/null
# Cancel a running job: it is stopped.
id=$(SQ submit -- sleep 60)
wait_for 10 'test "$(job_field "$id" state)" = running'
t0=$(date +%s%N)
SQ cancel "$id" >/dev/null
SQ wait --timeout 10 "$id" >/dev/null
is "cancel running: final status" "$(job_field "$id" status)" cancelled
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "cancel running: stopped within 3 s ($ms ms)" test "$ms" -lt 3000
out=$(SQ cancel "$id"); is "cancel a final job: exit 1" "$?" 1
SQ cancel no-such-job >/dev/null 2>&1; is "cancel unknown job: exit 4" "$?" 4

# Bad input and lookups.
SQ status no-such-job >/dev/null 2>&1; is "status of an unknown job: exit 4" "$?" 4
err=$(SQ status 'bad id!' 2>&1); is "status of a bad id: exit 2" "$?" 2
err=$(SQ submit -- 2>&1); is "submit without a command: exit 2" "$?" 2
err=$(SQ submit "$Q_DIR/missing.csv" -- true 2>&1); is "submit a missing file: exit 2" "$?" 2
like "missing file is named" "$err" "missing.csv"
head -c 2M /dev/urandom > "$Q_DIR/big.bin"
err=$(SQ submit --max-input 1M "$Q_DIR/big.bin" -- true 2>&1); is "input over the cap: exit 2" "$?" 2
like "input over the cap is explained" "$err" 'larger than its cap of 1 MiB'
err=$(SQ submit --memory lots -- true 2>&1); is "bad --memory: exit 2" "$?" 2
like "bad --memory is named" "$err" "--memory 'lots': not a size"
err=$(SQ submit --priority urgent -- true 2>&1); is "bad --priority: exit 2" "$?" 2
err=$(SQ --redis unix:///nonexistent/redis.sock status x 2>&1); is "unreachable Redis: exit 3" "$?" 3
like "unreachable Redis is explained" "$err" 'Redis at unix:///nonexistent/redis.sock: No such file'
err=$(SQ --redis redis://127.0.0.1:1 stats 2>&1); is "refused TCP Redis: exit 3" "$?" 3
like "refused TCP Redis is explained" "$err" 'Redis at 127.0.0.1:1: Connection refused'
# Redis on IPv6 loopback: an address in brackets, as URLs write it.
err=$(SQ --redis 'redis://[::1' stats 2>&1); is "an unclosed '[': exit 2" "$?" 2
like "... and it is named" "$err" "Redis URL 'redis://\[::1': '\[' without its '\]'"
v6port=$(( 20000 + RANDOM % 20000 ))
if redis-server --port "$v6port" --bind ::1 --save '' --appendonly no --daemonize yes \
     --pidfile "$Q_DIR/v6.pid" --logfile "$Q_DIR/v6.log" --dir "$Q_DIR" \
   && wait_for 5 "redis-cli -h ::1 -p $v6port ping | grep -q PONG"; then
  out=$(SQ --redis "redis://[::1]:$v6port" stats --json 2>&1)
  is "a Redis at [::1]:PORT is reached" "$?" 0
  err=$(SQ --redis "redis://[::1]:$v6port" status nosuchjob 2>&1)
  like "... and answers" "$err" "not in queue 'default'"
  kill "$(cat "$Q_DIR/v6.pid")"
  wait_for 5 "! kill -0 $(cat "$Q_DIR/v6.pid") 2>/dev/null"
  err=$(SQ --redis "redis://[::1]:1" stats 2>&1)
  like "a refused IPv6 Redis is named with brackets" "$err" 'Redis at \[::1\]:1: Connection refused'
else
  skip "a Redis on IPv6 loopback" "redis-server does not listen on [::1]:$v6port"
fi
err=$(SQ --redis http://x stats 2>&1); is "bad URL: exit 2" "$?" 2
like "bad URL is explained" "$err" "Redis URL 'http://x': unknown scheme; write redis://"
for c in submit status wait result logs cancel stats dead workers drain pause resume; do
  out=$(SQ "$c" --help); rc=$?
  ok "sandq $c --help exits 0 with a usage line" test "$rc" -eq 0 -a -n "$(printf '%s' "$out" | grep '^usage: sandq')"
done

# Stats.
js=$(SQ stats --json)
ok "stats --json has the default queue's depth and running" \
   "$PY" -c 'import json,sys; q=json.loads(sys.argv[1])["queues"]["default"]; q["depth"]; q["running"]' "$js"
like "stats --json lists the worker" "$js" '"workers":\[\{[^]]*"id":"w1"'
like "stats --json shows Redis memory" "$js" '"memory_bytes":[1-9]'
prom=$(SQ stats --prometheus)
like "stats --prometheus: depth gauge" "$prom" 'sandq_queue_depth\{queue="default"\} 0'
like "stats --prometheus: verdict counter" "$prom" 'sandq_queue_jobs_total\{queue="default",status="ok"\} [1-9]'
js=$(SQ workers --json); like "workers --json" "$js" '"id":"w1".*"slots":2'

# A result larger than the job's disk limit (its stdout alone here) still
# comes back whole: the disk limit caps what is unpacked, not the archive.
id=$(SQ submit --disk 1M -- head -c 3000000 /dev/urandom)
SQ wait "$id" >/dev/null
is "a result larger than the disk limit: ok" "$(job_field "$id" status)" ok
ok "and it is all there" test "$(job_field "$id" result_bytes)" -gt 3000000
# A result whose out/ is larger than the worker's cap: out/ is left out,
# the verdict stands and says so, stdout and result.json still come back.
worker_start small --queue small --max-result 64K
id=$(SQ submit --queue small -- sh -c 'head -c 1M /dev/urandom > out/big.bin; echo made')
SQ wait "$id" >/dev/null
is "an oversized out/: the verdict stands" "$(job_field "$id" status small)" ok
like "and the message says out/ was left out" "$(job_field "$id" message small)" \
  'its out/ was larger than the result cap of 64 KiB and was left out'
SQ result --result-dir "$Q_DIR/small" "$id" >/dev/null
is "stdout still comes back" "$(cat "$Q_DIR/small/stdout")" made
is "result.json says out_truncated" "$(jget "$(cat "$Q_DIR/small/result.json")" out_truncated)" True
ok "out/big.bin is not in the archive" test ! -e "$Q_DIR/small/out/big.bin"
worker_stop small

# The sandboxes' root is a template rebuilt from the host's files at least
# every --template-refresh: jobs share its root file system until then and
# get a new one after, so a replaced host file reaches new jobs.
worker_start tmpl --queue tmpl --template-refresh 1
rootdev() {
  local id; id=$(SQ submit --queue tmpl -- stat -c %d /)
  SQ wait --queue tmpl "$id" >/dev/null; SQ logs --queue tmpl --stdout "$id"
}
a=$(rootdev); b=$(rootdev); sleep 1.5; c=$(rootdev); d=$(rootdev)
like "a job sees its root's device" "$a" '^[0-9]+$'
is "jobs within the refresh period share the template's root" "$b" "$a"
ok "a job after the refresh period has a new root ($a $b $c $d)" test -n "$d" -a "$d" != "$a"
worker_stop tmpl

is "worker still running after all that" "$(kill -0 "$(wpid w1)" && echo yes)" yes
worker_stop w1
is "worker stops cleanly on SIGTERM" "$WSTATUS" 0
is "no sandbox process left" "$(sandbox_procs)" 0

# Where Redis is found: --redis, then $SANDQ_REDIS_URL, then the config.
printf 'redis_url = unix:///nonexistent/redis.sock\n' > "$Q_DIR/other.conf"
out=$(SANDQ_CONFIG=$Q_DIR/other.conf SQ stats 2>&1)
is "SANDQ_REDIS_URL comes before the config file's redis_url" "$?" 0
out=$(SANDQ_CONFIG=$Q_DIR/other.conf SANDQ_REDIS_URL= SQ stats 2>&1)
like "without it, the config file's is used" "$out" 'nonexistent/redis.sock'
out=$(SANDQ_CONFIG=$Q_DIR/other.conf SQ stats --redis unix:///nonexistent/flag.sock 2>&1)
like "--redis comes first" "$out" 'nonexistent/flag.sock'
done_testing
