#!/usr/bin/env bash
# The systemd units verify, keep their hardening, and the nightly
# service's command works end to end against a test Redis.
. "$(dirname "$0")/../lib.sh"
U=$(mktemp -d /tmp/sandq-units.XXXXXX)
trap 'rm -rf "$U"' EXIT
if ! command -v systemd-analyze >/dev/null; then
  skip "systemd units" "systemd-analyze is not installed"; done_testing; exit 0
fi
# The units name installed paths; point them at this build to verify.
for f in "$SANDQ_TOP"/systemd/*.service "$SANDQ_TOP"/systemd/*.timer; do
  sed -e "s|/usr/local/bin/sandq-worker|$BIN/sandq-worker|" \
      -e "s|/usr/local/bin/sandq-nightly|$SANDQ_TOP/systemd/sandq-nightly|" "$f" > "$U/$(basename "$f")"
done
cp "$U/sandq-nightly@.service" "$U/sandq-nightly@sales.service"
cp "$U/sandq-nightly@.timer" "$U/sandq-nightly@sales.timer"
for u in sandq-worker.service sandq-nightly@sales.service sandq-nightly@sales.timer; do
  out=$(cd "$U" && systemd-analyze verify "$u" 2>&1); rc=$?
  ok "systemd-analyze verify $u" test "$rc" -eq 0 -a -z "$out"
  [ -z "$out" ] || echo "#   $out"
done
score=$(systemd-analyze security --offline=yes "$U/sandq-worker.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for sandq-worker.service: \([0-9.]*\).*/\1/p')
ok "worker unit exposure $score is at most 4.5 (docs/operations.md explains the rest)" \
   awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 4.5) }'
w=$SANDQ_TOP/systemd/sandq-worker.service
like "worker unit: Type=notify" "$(cat "$w")" '^Type=notify'
like "worker unit: watchdog" "$(cat "$w")" '^WatchdogSec='
like "worker unit: Delegate=yes" "$(cat "$w")" '^Delegate=yes'
# ProtectHostname's seccomp filter would be inherited by every sandbox,
# whose init sets the hostname of its own UTS namespace.
unlike "worker unit: no ProtectHostname (it forbids a sandbox its hostname)" "$(cat "$w")" '^ProtectHostname='
# mixed, not control-group: SIGTERM to every process would kill running
# jobs at once instead of letting the worker drain them.
like "worker unit: KillMode=mixed" "$(cat "$w")" '^KillMode=mixed'
like "worker unit: password as a credential" "$(cat "$w")" '^LoadCredential=redis-password:'
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s/\1/p' "$w")
grace=$(sed -n 's/^grace = \([0-9]*\)s/\1/p' "$SANDQ_TOP/systemd/sandq.conf.example")
ok "TimeoutStopSec ($stop s) is longer than the drain grace ($grace s)" test "$stop" -gt "$grace"
like "timer: Persistent=true" "$(cat "$SANDQ_TOP/systemd/sandq-nightly@.timer")" '^Persistent=true'

need_root "nightly end to end"
. "$SANDQ_TOP/tests/queue-lib.sh"
# queue-lib's cleanup replaces this file's: both are needed.
trap 'q_cleanup; rm -rf "$U"' EXIT
redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start n --queue bulk --lease 5
export SANDQ="$BIN/sandq"
mkdir -p "$Q_DIR/data"
printf 'a,b\n1,2\n' > "$Q_DIR/data/in.csv"
cat > "$Q_DIR/sales.conf" <<CONF
inputs = $Q_DIR/data/in.csv
command = sh -c 'wc -l < in.csv > out/lines.txt; echo counted'
queue = bulk
limits = --memory 256M --wall 30
results = $Q_DIR/results
keep = 2
CONF
# sandq-nightly splits "command" on spaces; give it one without quoting.
sed -i "s|^command = .*|command = wc -l in.csv|" "$Q_DIR/sales.conf"
for d in 2026-11-20 2026-11-21 2026-11-22; do
  SANDQ_NIGHTLY_DATE=$d "$SANDQ_TOP/systemd/sandq-nightly" "$Q_DIR/sales.conf" 2>"$Q_DIR/n-$d.err"
  is "nightly $d: exit 0 for an ok verdict" "$?" 0
done
like "the result is kept under a dated folder" "$(cat "$Q_DIR/results/2026-11-22/stdout")" '^2 in.csv'
is "only the last 2 dated folders are kept" "$(ls "$Q_DIR/results" | tr '\n' ' ')" "2026-11-21 2026-11-22 "
like "log lines carry journald levels and the job id" "$(cat "$Q_DIR/n-2026-11-22.err")" '^<6>sandq-nightly: job=nightly-sales-2026-11-22'
before=$(rcli hget 'sandq:{bulk}:stats' submitted)
SANDQ_NIGHTLY_DATE=2026-11-22 "$SANDQ_TOP/systemd/sandq-nightly" "$Q_DIR/sales.conf" 2>/dev/null
is "a second run on the same date: exit 0" "$?" 0
is "and nothing is submitted twice" "$(rcli hget 'sandq:{bulk}:stats' submitted)" "$before"
sed -i 's|^command = .*|command = false|' "$Q_DIR/sales.conf"
SANDQ_NIGHTLY_DATE=2026-11-23 "$SANDQ_TOP/systemd/sandq-nightly" "$Q_DIR/sales.conf" 2>"$Q_DIR/bad.err"
is "a bad verdict fails the service (exit 1)" "$?" 1
like "and says so at error level" "$(cat "$Q_DIR/bad.err")" '^<3>sandq-nightly: job=nightly-sales-2026-11-23 status=nonzero_exit'
"$SANDQ_TOP/systemd/sandq-nightly" "$Q_DIR/missing.conf" 2>/dev/null
is "a missing config: exit 2" "$?" 2
out=$("$SANDQ_TOP/systemd/sandq-nightly" --help 2>&1)
is "sandq-nightly --help: exit 0" "$?" 0
like "sandq-nightly --help: the usage and the config's keys" "$out" '^usage: sandq-nightly CONF'
# The shipped example, as shipped but for its paths: its durations parse.
printf 'import sys\nprint("summary of", sys.argv[0])\n' > "$Q_DIR/data/summarize.py"
cp "$Q_DIR/data/in.csv" "$Q_DIR/data/sales.csv"
sed -e "s|/srv/sandq/sales/|$Q_DIR/data/|g" -e "s|/var/lib/sandq/nightly/|$Q_DIR/ex-|" \
  "$SANDQ_TOP/systemd/nightly.conf.example" > "$Q_DIR/sales-summary.conf"
like "the example keeps its 6-hour timeout" "$(cat "$Q_DIR/sales-summary.conf")" '^timeout = 6h'
SANDQ_NIGHTLY_DATE=2026-11-24 "$SANDQ_TOP/systemd/sandq-nightly" "$Q_DIR/sales-summary.conf" \
  2>"$Q_DIR/ex.err"
is "nightly.conf.example runs (exit 0)" "$?" 0
like "... and its result is kept" "$(cat "$Q_DIR/ex-sales-summary/2026-11-24/stdout" 2>&1)" 'summary of'
[ "$(cat "$Q_DIR/ex-sales-summary/2026-11-24/stdout" 2>/dev/null)" ] || sed 's/^/#   /' "$Q_DIR/ex.err"
worker_stop n

# The worker under the unit's own confinement: its capability bounding set
# and no_new_privs (setpriv stands in for systemd). It must run jobs, and
# without CAP_NET_ADMIN (which it once lacked: every job then failed with
# "the archive helper is gone") it must stop at start and say why.
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$w" | tr ' ' '\n' | sed 's/^CAP_/+/' \
            | tr 'A-Z' 'a-z' | paste -sd, -)
# Its UMask too: the sandbox's files and directories must not take it.
unit_umask=$(sed -n 's/^UMask=//p' "$w")
if command -v setpriv >/dev/null; then
  (umask "$unit_umask" && exec setpriv --bounding-set "-all,$unit_caps" --no-new-privs \
    "$BIN/sandq-worker" --id confined --queue confined) > "$Q_DIR/confined.log" 2>&1 &
  W_confined=$!
  Q_PIDS+=("$W_confined")
  id=$(SQ submit --queue confined -- sh -c 'echo confined'); SQ wait "$id" >/dev/null
  is "a worker with the unit's capabilities and no_new_privs runs a job" \
    "$(job_field "$id" status confined) $(SQ logs --stdout "$id")" "ok confined"
  id=$(SQ submit --queue confined -- sh -c '
    stat -c "%a %n" /etc /etc/passwd /etc/hosts /dev /work /work/out /tmp | tr "\n" " "
    cat /etc/passwd /etc/group /etc/hosts /etc/nsswitch.conf > /dev/null \
      && ls /etc/alternatives /etc/ssl/certs > /dev/null && id -un')
  SQ wait "$id" >/dev/null
  is "under the unit's UMask=$unit_umask the job's root is as always, and readable" \
    "$(SQ logs --stdout "$id")" \
    "755 /etc 644 /etc/passwd 644 /etc/hosts 755 /dev 755 /work 755 /work/out 1777 /tmp sandbox"
  mkdir -p "$Q_DIR/umin/sub" && echo x > "$Q_DIR/umin/sub/f" && chmod 755 "$Q_DIR/umin" "$Q_DIR/umin/sub" \
    && chmod 644 "$Q_DIR/umin/sub/f"
  id=$(SQ submit --queue confined "$Q_DIR/umin" -- stat -c "%a %n" umin umin/sub umin/sub/f)
  SQ wait "$id" >/dev/null
  is "... and so are its input's directories and files" "$(SQ logs --stdout "$id" | tr '\n' ' ')" \
    "755 umin 755 umin/sub 644 umin/sub/f "
  worker_stop confined
  out=$(setpriv --bounding-set "-all,${unit_caps/+net_admin,/}" --no-new-privs \
    "$BIN/sandq-worker" --id no-net-admin 2>&1); rc=$?
  is "without CAP_NET_ADMIN the worker stops at start (exit 1)" "$rc" 1
  like "and names the capability" "$out" 'loopback device .*needs CAP_NET_ADMIN'
else
  skip "the worker under the unit's capabilities" "setpriv (util-linux) is not installed"
fi

# A worker started under setarch -R (no address-space randomisation) and
# with no stack limit: the archive helper, which parses hostile archives,
# has randomisation back and an 8 MiB stack, and every job has both.
if command -v setarch >/dev/null && command -v prlimit >/dev/null \
   && [ "$(ulimit -Hs)" = unlimited ]; then
  WORKER_WRAP="setarch $(uname -m) -R prlimit --stack=unlimited:unlimited" \
    worker_start norand --queue norand
  helper=$(pgrep -P "$(wpid norand)" -x sandq-archiver | head -1)
  is "under setarch -R: the worker runs without randomisation" \
     "$(cat "/proc/$(wpid norand)/personality" 2>&1)" 00040000
  is "... its archive helper with it" "$(cat "/proc/$helper/personality" 2>&1)" 00000000
  id=$(SQ submit --queue norand -- cat /proc/self/personality); SQ wait "$id" >/dev/null
  is "... and its jobs with it" "$(SQ logs --stdout "$id")" 00000000
  is "with no stack limit: the worker has none" \
     "$(awk '/^Max stack size/ {print $4}' "/proc/$(wpid norand)/limits")" unlimited
  is "... its archive helper an 8 MiB one" \
     "$(awk '/^Max stack size/ {print $4, $5}' "/proc/$helper/limits")" "8388608 unlimited"
  id=$(SQ submit --queue norand -- /bin/sh -c 'ulimit -s'); SQ wait "$id" >/dev/null
  is "... and its jobs an 8 MiB one" "$(SQ logs --stdout "$id")" 8192
  worker_stop norand
else
  skip "the archive helper under setarch -R" "setarch or prlimit is missing, or a hard stack limit"
fi

# sd_notify and metrics: a notify socket of our own stands in for systemd.
cat > "$Q_DIR/notify.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(15)
out = open(sys.argv[2], "a")
end = time.time() + 15
while time.time() < end:
    try:
        out.write(s.recv(4096).decode() + "\n---\n"); out.flush()
    except socket.timeout:
        break
PY
"$PY" "$Q_DIR/notify.py" "$Q_DIR/notify.sock" "$Q_DIR/notify.log" &
npid=$!
wait_for 5 'test -S "$Q_DIR/notify.sock"'
port=$(free_port)
NOTIFY_SOCKET=$Q_DIR/notify.sock worker_start m --queue metrics --concurrency 2 --metrics "127.0.0.1:$port"
ok "the worker tells systemd it is ready" wait_for 10 'grep -q "^READY=1" "$Q_DIR/notify.log"'
ok "and shows its slots in the status line" wait_for 10 'grep -q "STATUS=0/2 slots busy" "$Q_DIR/notify.log"'
ok "and pets the watchdog" wait_for 10 'grep -q "WATCHDOG=1" "$Q_DIR/notify.log"'
id=$(SQ submit --queue metrics -- true); SQ wait "$id" >/dev/null
id=$(SQ submit --queue metrics --memory 64M -- python3 -c 'b=[bytearray(1<<20) for _ in range(200)]'); SQ wait "$id" >/dev/null
m=$(metrics "$port")
like "metrics: jobs by queue and verdict" "$m" 'sandq_worker_jobs_total\{queue="metrics",status="ok"\} 1'
like "metrics: queue depth" "$m" 'sandq_worker_queue_depth\{queue="metrics"\} 0'
like "metrics: oldest waiting age" "$m" 'sandq_worker_queue_oldest_age_seconds\{queue="metrics"\} 0'
like "metrics: kills by reason" "$m" 'sandq_worker_sandbox_kills_total\{reason="memory_limit"\} 1'
like "metrics: run time histogram" "$m" 'sandq_worker_run_seconds_count 2'
like "metrics: queue wait histogram" "$m" 'sandq_worker_queue_wait_seconds_bucket\{le="\+Inf"\} 2'
like "metrics: busy slots" "$m" 'sandq_worker_busy_slots 0'
like "metrics: Redis up" "$m" 'sandq_worker_redis_up 1'
code=$("$PY" -c 'import sys,urllib.request,urllib.error
try: urllib.request.urlopen(sys.argv[1])
except urllib.error.HTTPError as e: print(e.code)' "http://127.0.0.1:$port/other")
is "metrics: other paths are 404" "$code" 404
worker_stop m
ok "and says it is stopping" grep -q "^STOPPING=1" "$Q_DIR/notify.log"
kill "$npid" 2>/dev/null
err=$("$BIN/sandq-worker" --metrics nonsense 2>&1); is "a bad --metrics address: exit 2" "$?" 2
like "a bad --metrics address is explained" "$err" "--metrics 'nonsense'"
# The worker's newer options refuse values out of range, naming the range.
while IFS='|' read -r opt want; do
  err=$("$BIN/sandq-worker" $opt 2>&1); is "sandq-worker $opt: exit 2" "$?" 2
  like "sandq-worker $opt is explained" "$err" "$want"
done <<'CASES'
--template-refresh 0.01|--template-refresh: out of range; use 0\.1s to 1d
--archive-timeout 100000|--archive-timeout: out of range; use 0\.1s to 1d
--inodes 3|--inodes '3': out of range; use 16 to 16777216
--cpus 0|--cpus '0': not a number of cores; use 0\.01 to 1024
CASES
done_testing
