#!/usr/bin/env bash
# Nothing a job leaves in the kernel reaches the next job of the same
# slot: a job that closes TCP connections leaves TIME_WAIT sockets (with
# the addresses and ports it chose) for a minute; the next job, another
# tenant's, must not see them, nor any socket, queue or segment of the
# job before it.
. "$(dirname "$0")/../lib.sh"
need_root "slot reuse"
. "$SANDQ_TOP/tests/queue-lib.sh"
SQ() { "$BIN/sandq" "$@"; }

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start one --concurrency 1 --lease 5
in=$Q_DIR/in; mkdir -p "$in"
cat > "$in/leave.py" <<'PY'
# Encodes a secret in loopback addresses and ports of closed connections,
# then leaves a System V queue and a POSIX segment behind if it can.
import os, socket
for i, port in enumerate((41001, 41002, 41003)):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.%d" % (i + 2), port)); l.listen(1)
    c = socket.socket(); c.connect(("127.0.0.%d" % (i + 2), port))
    s, _ = l.accept(); c.close(); s.close(); l.close()
try:
    import sysv_ipc  # not installed: the queue below is the fallback
except ImportError:
    pass
with open("/dev/shm/secret", "w") as f:
    f.write("TOPSECRET tenant1")
socket.socket(socket.AF_UNIX).bind("\0sandq-secret-tenant1")
print(open("/proc/net/tcp").read().count("\n") - 1)
PY
cat > "$in/look.py" <<'PY'
import os
n = 0
for f in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/unix"):
    lines = open(f).read().splitlines()[1:]
    for l in lines:
        print(f, l)
    n += len(lines)
print("shm:", sorted(os.listdir("/dev/shm")))
print("sysvipc:", open("/proc/sysvipc/msg").read().count("\n") - 1,
      open("/proc/sysvipc/shm").read().count("\n") - 1)
print("entries:", n)
PY
js=$(SQ submit --json --wait "$in/leave.py" -- /usr/bin/python3 leave.py)
is "the first job ran" "$(jget "$js" status)" ok
left=$(SQ logs --stdout "$(jget "$js" id)")
ok "  and left TIME_WAIT sockets behind in its namespace ($left entries)" test "${left:-0}" -ge 3
js=$(SQ submit --json --wait "$in/look.py" -- /usr/bin/python3 look.py)
is "the next job in the slot ran" "$(jget "$js" status)" ok
seen=$(SQ logs --stdout "$(jget "$js" id)")
unlike "  it sees none of the first job's connections" "$seen" ':A029|:A02A|:A02B|0[2-4]00007F'
like "  no socket at all in its namespace" "$seen" 'entries: 0$'
like "  nor the first job's /dev/shm" "$seen" "shm: \[\]"
like "  nor any System V IPC object" "$seen" 'sysvipc: 0 0'
unlike "  nor its abstract unix socket" "$seen" 'sandq-secret'

# A job that leaves processes behind ends when its program does: they
# are killed before its out/ is packed, and the next job in the slot
# sees none of them.
js=$(SQ submit --json --wait --wall 60s -- sh -c \
  'sleep 600 & (while :; do echo x >> out/late; done) & echo main > out/main; exit 4')
is "a job whose program leaves processes behind ends with the program's verdict" \
  "$(jget "$js" status) $(jget "$js" exit_code)" "nonzero_exit 4"
id=$(jget "$js" id)
rm -rf "$Q_DIR/res"
SQ result --result-dir "$Q_DIR/res" "$id" > /dev/null 2>&1
is "  its out/ was packed" "$(cat "$Q_DIR/res/out/main" 2>/dev/null)" main
js=$(SQ submit --json --wait -- sh -c 'ps -e -o comm= | grep -c -E "^(sleep|sh)$"')
is "  the next job in the slot sees none of its processes (its own sh only)" \
  "$(SQ logs --stdout "$(jget "$js" id)")" 1

# The program starts only once its inputs are all in place (init has the
# job while they are unpacked): the last of 1500 files, a 4 MiB one, is
# whole when the program first looks.
mkdir -p "$Q_DIR/many/d"
for i in $(seq 1 1500); do echo "$i" > "$Q_DIR/many/d/f$i"; done
head -c 4194304 /dev/zero > "$Q_DIR/many/d/zlast"
js=$(SQ submit --json --wait "$Q_DIR/many/d" -- sh -c 'ls d | wc -l; wc -c < d/zlast')
is "a job sees all of its input when it starts" \
  "$(SQ logs --stdout "$(jget "$js" id)" | tr '\n' ' ')" "1501 4194304 "
done_testing
