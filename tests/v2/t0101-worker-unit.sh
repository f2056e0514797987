#!/usr/bin/env bash
# The worker under its real unit on a cgroup v2 host run by systemd:
# make install, then systemctl start (READY=1), the delegated subtree and
# each job's leaf with its limits, jobs with every kind of input, the
# watchdog, a drain on stop, SIGKILL and a restart that sweeps what the
# dead worker left and re-runs its job, a password Redis refuses (the unit
# fails at once and says why), and the nightly timer fired by systemd.
#
# Only on such a host: make check-v2 boots one (tests/v2/run). It changes
# the system (installs sandq, starts units), so elsewhere it is skipped.
. "$(dirname "$0")/../lib.sh"
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ] \
   || [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] || [ "$(hostname)" != sandq-v2 ]; then
  skip "the worker under systemd on cgroup v2" \
       "needs the v2 guest of make check-v2 (pure cgroup v2, systemd as PID 1)"
  done_testing; exit 0
fi
need_root "the worker unit"

W=$(mktemp -d /tmp/sandq-unit.XXXXXX)
PORT=6390
PW=v2-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
cleanup() {
  systemctl stop sandq-worker 'sandq-nightly@*' 2>/dev/null
  [ -f "$W/redis.pid" ] && kill "$(cat "$W/redis.pid")" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

ok "make install" make -C "$SANDQ_TOP" BUILD="$BUILD" install
redis-server --port $PORT --bind 127.0.0.1 --requirepass "$PW" --daemonize yes --save '' \
  --appendonly no --dir "$W" --pidfile "$W/redis.pid" --logfile "$W/redis.log"
for _ in $(seq 50); do redis-cli -p $PORT -a "$PW" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p /etc/sandq
install -m 0600 /dev/null /etc/sandq/redis-password
printf '%s\n' "$PW" > /etc/sandq/redis-password
cat > /etc/sandq/sandq.conf <<EOF
redis_url = redis://127.0.0.1:$PORT/0
queues = default
concurrency = 2
lease = 6s
grace = 20s
memory = 256M
wall = 60s
cpu = 60s
pids = 64
metrics = 127.0.0.1:9464
redis_password_file = /etc/sandq/redis-password
EOF
# The units also pass the file as the credential redis-password; in this
# guest systemd 252 delivers an empty credentials directory for every
# unit (SetCredential= too: a quirk of its overlay-on-9p root), so the
# worker and the nightly CLI read the file named above.
c=$(systemd-run --quiet --wait --pipe -p SetCredential=probe:x sh -c 'ls "$CREDENTIALS_DIRECTORY"' 2>/dev/null)
echo "# systemd credentials in this guest: ${c:-none delivered}"
# The CLI reads the same config; its password comes from the file.
export SANDQ_CONFIG=$W/cli.conf
printf 'redis_url = redis://127.0.0.1:%s/0\nredis_password_file = /etc/sandq/redis-password\n' \
  $PORT > "$SANDQ_CONFIG"
# A short watchdog, so that a missed ping shows within the test.
mkdir -p /run/systemd/system/sandq-worker.service.d
printf '[Service]\nWatchdogSec=4s\n' > /run/systemd/system/sandq-worker.service.d/lane.conf
systemctl daemon-reload

show() { systemctl show -P "$2" "$1"; }
Q=/usr/local/bin/sandq
CG=

out=$(systemd-analyze verify /etc/systemd/system/sandq-worker.service 2>&1)
is "systemd-analyze verify of the installed unit" "$out" ""
t0=$(date +%s.%N)
diag() { systemctl status --no-pager sandq-worker 2>&1 | sed 's/^/#   /' | head -20
         journalctl --no-pager -u sandq-worker -n 30 2>&1 | sed 's/^/#   /'; }
ok "systemctl start sandq-worker returns once READY=1 is sent" timeout 120 systemctl start sandq-worker \
  || { diag; echo "Bail out! the worker unit does not start"; exit 1; }
echo "# started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
is "the unit is active/running" "$(show sandq-worker ActiveState)/$(show sandq-worker SubState)" active/running
CG=/sys/fs/cgroup$(show sandq-worker ControlGroup)
main=$(show sandq-worker MainPID)
ok "systemd marked the unit's cgroup delegated (trusted.delegate)" \
   "$PY" -c 'import os, sys; os.getxattr(sys.argv[1], "trusted.delegate")' "$CG"
inst=$(cd "$CG/sandq" 2>/dev/null && ls -d [0-9]*-[0-9]* 2>/dev/null | head -1)
like "the worker made sandq/<instance> in its delegated cgroup" "$inst" '^[0-9]+-[0-9]+$'
like "the worker moved itself to sandq/<instance>/supervisor" "$(cat "$CG/sandq/$inst/supervisor/cgroup.procs" 2>/dev/null)" "(^|[^0-9])$main([^0-9]|$)"
like "memory, pids and cpu are enabled for the jobs" "$(cat "$CG/sandq/$inst/cgroup.subtree_control" 2>/dev/null)" 'cpu.*memory.*pids|memory.*pids'
like "the unit's status names the busy slots" "$(show sandq-worker StatusText)" 'slots busy'

# Jobs: a verdict for each, through the real unit.
J=$W/jobs; mkdir -p "$J/dir/sub"
printf 'a,b\n1,2\n3,4\n' > "$J/data.csv"
printf 'x\n' > "$J/dir/sub/f.txt"
tar -C "$J/dir" -czf "$J/input.tgz" .
cp "$SANDQ_TOP/tests/hostile/fork-bomb/input/bomb.py" "$J/"
verdict() { local js; js=$(timeout 120 $Q submit --json --wait "$@" 2>"$W/sub.err"); jget "$js" status; }
is "job /bin/true: ok" "$(verdict -- /bin/true)" ok
# Under the unit's UMask=0077 the job's root is as anywhere else.
is "job reading /etc under the unit's UMask: ok" "$(verdict -- /bin/sh -c '
  test "$(stat -c %a /etc /etc/passwd | tr "\n" " ")" = "755 644 " && id -un >/dev/null &&
  ls /etc/alternatives >/dev/null && test -r /usr/lib/x86_64-linux-gnu/libblas.so.3')" ok
is "job with a file input: ok" "$(verdict "$J/data.csv" -- /usr/bin/python3 -c 'import csv; print(sum(int(r["a"]) for r in csv.DictReader(open("data.csv"))))')" ok
is "job with a directory input: ok" "$(verdict "$J/dir" -- /bin/sh -c 'test -f dir/sub/f.txt')" ok
is "job with a tarball input: ok" "$(verdict "$J/input.tgz" -- /bin/sh -c 'test -f sub/f.txt')" ok
is "job over its memory: memory_limit" "$(verdict --memory 64M -- /usr/bin/python3 -c 'a=[]
while True: a.append(bytearray(1<<20))')" memory_limit
is "fork bomb with an input file: pids_limit" "$(verdict --pids 16 --wall 10 "$J/bomb.py" -- /usr/bin/python3 bomb.py)" pids_limit
is "job over its CPU time: cpu_limit" "$(verdict --cpu 1 --wall 30 -- /usr/bin/python3 -c 'while True: pass')" cpu_limit
is "job past its wall time: timeout" "$(verdict --wall 2 -- /bin/sleep 30)" timeout
is "job exiting 3: nonzero_exit" "$(verdict -- /bin/sh -c 'exit 3')" nonzero_exit

# Each running job in a leaf of its own, with its limits written.
id1=$($Q submit --json --memory 100M --pids 20 --cpus 0.5 -- /bin/sleep 4 | sed 's/.*"id":"\([^"]*\)".*/\1/')
# The job's leaf is the one with its sleep in it (an idle slot's
# prewarmed sandbox has a leaf too, with default limits until it is
# given a job).
leaf=
for _ in $(seq 100); do
  for d in "$CG/sandq/$inst"/j*; do
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && leaf=$d
    done
  done
  [ -n "$leaf" ] && break
  sleep 0.1
done
ok "a running job has a leaf cgroup of its own below the instance" test -n "$leaf"
is "its memory.max is the job's 100M" "$(cat "$leaf/memory.max" 2>/dev/null)" 104857600
is "its memory.swap.max is 0" "$(cat "$leaf/memory.swap.max" 2>/dev/null)" 0
is "its pids.max is the job's 20" "$(cat "$leaf/pids.max" 2>/dev/null)" 20
is "its cpu.max is the job's half core" "$(cat "$leaf/cpu.max" 2>/dev/null)" "50000 100000"
is "the job ends ok" "$(jget "$(timeout 60 $Q wait --json "$id1")" status)" ok

# The watchdog (4 s here) is fed: no restart after three periods.
sleep 12
is "watchdog: still running, never restarted" \
   "$(show sandq-worker SubState) $(show sandq-worker NRestarts)" "running 0"

# Stop while a job runs: the worker drains it, then nothing is left.
id2=$($Q submit --json -- /bin/sh -c 'sleep 3; echo drained' | sed 's/.*"id":"\([^"]*\)".*/\1/')
for _ in $(seq 100); do [ "$(jget "$($Q status --json "$id2")" state)" = running ] && break; sleep 0.1; done
t0=$(date +%s.%N)
ok "systemctl stop returns" timeout 120 systemctl stop sandq-worker
echo "# stopped in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
is "stop: the unit's result is success" "$(show sandq-worker Result)" success
is "stop: the running job was drained to its verdict" "$(jget "$($Q status --json "$id2")" status)" ok
ok "stop: the unit's cgroup is gone, with every process in it" test ! -e "$CG"

# SIGKILL: systemd restarts the worker, which sweeps the dead instance's
# cgroups; the job it held comes back when its lease runs out.
ok "start again" timeout 120 systemctl start sandq-worker
old=$(cd "$CG/sandq" && ls -d [0-9]*-[0-9]* | head -1)
id3=$($Q submit --json -- /bin/sh -c 'sleep 2; echo survived' | sed 's/.*"id":"\([^"]*\)".*/\1/')
for _ in $(seq 100); do [ "$(jget "$($Q status --json "$id3")" state)" = running ] && break; sleep 0.1; done
ok "systemctl kill -s KILL" systemctl kill -s KILL sandq-worker
for _ in $(seq 200); do
  new=$(cd "$CG/sandq" 2>/dev/null && ls -d [0-9]*-[0-9]* 2>/dev/null | grep -vx "$old" | head -1)
  [ -n "$new" ] && [ "$(show sandq-worker SubState)" = running ] && break
  sleep 0.1
done
like "systemd restarted the worker (a new instance)" "$new" '^[0-9]+-[0-9]+$'
is "the restart counter moved" "$(show sandq-worker NRestarts)" 1
ok "the dead instance's cgroups were swept" test ! -e "$CG/sandq/$old"
is "the killed job ran again to its verdict" "$(jget "$(timeout 90 $Q wait --json "$id3")" status)" ok
echo "# attempts of the killed job: $(jget "$($Q status --json "$id3")" attempts)"
systemctl stop sandq-worker

# A password Redis refuses: the start fails at once, the status says why,
# and systemd does not restart it in a loop.
printf 'wrong\n' > /etc/sandq/redis-password
t0=$(date +%s)
not_ok "start with a refused password fails" timeout 120 systemctl start sandq-worker
took=$(($(date +%s) - t0))
ok "  within 15 s (took $took s), not at the start timeout" test "$took" -le 15
like "  its status names the cause" "$(show sandq-worker StatusText)" 'authenticate|password'
is "  and it is not restarted" "$(show sandq-worker NRestarts)" 0
printf '%s\n' "$PW" > /etc/sandq/redis-password
systemctl reset-failed sandq-worker 2>/dev/null

# The nightly pair: the timer fires the service, which submits, waits and
# keeps a dated result. Needs a worker.
systemctl start sandq-worker
# The service has PrivateTmp= and ProtectSystem=full: its files live in /var.
N=/var/lib/sandq-v2-lane
rm -rf "$N"; mkdir -p /etc/sandq/nightly "$N"
printf 'n,v\na,1\nb,2\n' > "$N/data.csv"
printf 'import csv\nprint(sum(int(r["v"]) for r in csv.DictReader(open("data.csv"))))\n' > "$N/sum.py"
cat > /etc/sandq/nightly/lane.conf <<EOF
inputs = $N/data.csv $N/sum.py
command = /usr/bin/python3 sum.py
queue = default
limits = --memory 128M --wall 60
results = $N/results
timeout = 120
EOF
mkdir -p /run/systemd/system/sandq-nightly@lane.timer.d
printf '[Timer]\nOnCalendar=\nOnCalendar=*:*:0/5\nRandomizedDelaySec=0\nPersistent=false\nAccuracySec=1s\n' \
  > /run/systemd/system/sandq-nightly@lane.timer.d/lane.conf
systemctl daemon-reload
ok "systemctl start sandq-nightly@lane.timer" systemctl start sandq-nightly@lane.timer
today=$(date +%F)
for _ in $(seq 600); do
  [ -d "$N/results/$today" ] && [ "$(show sandq-nightly@lane.service ActiveState)" != activating ] && break
  sleep 0.2
done
systemctl stop sandq-nightly@lane.timer
is "the timer fired the service, which succeeded" "$(show sandq-nightly@lane.service Result)" success
is "the dated result holds the job's output" "$(cat "$N/results/$today/stdout" 2>/dev/null)" 3
systemctl stop sandq-worker
rm -rf "$N" /etc/sandq/nightly/lane.conf /run/systemd/system/sandq-nightly@lane.timer.d \
  /run/systemd/system/sandq-worker.service.d/lane.conf
systemctl daemon-reload
done_testing
