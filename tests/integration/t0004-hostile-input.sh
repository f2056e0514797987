#!/usr/bin/env bash
# Hostile specs and tarballs through the queue: each is rejected with a
# message naming the field or entry, nothing lands outside the job, and
# the worker keeps going.
. "$(dirname "$0")/../lib.sh"
need_root "hostile queue input"
. "$SANDQ_TOP/tests/queue-lib.sh"

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start h --concurrency 2 --lease 5

# A job pushed straight into Redis with redis-cli, the way docs/protocol.md
# describes, with a spec given as $2.
raw_job() {
  local id=$1 spec=$2
  rcli hset "sandq:{default}:job:$id" id "$id" queue default state queued spec "$spec" \
    priority 1 created_at 1 expires_at 99999999999999 attempts 0 reclaims 0 \
    max_attempts 3 keep_s 600 fence 0 >/dev/null
  rcli rpush 'sandq:{default}:pending:1' "$id" >/dev/null
  rcli lpush 'sandq:{default}:wake' "$id" >/dev/null
}
check_rejected() { # NAME ID REGEX
  local cr_id=$2    # wait_for's eval sees this (bash locals are dynamic)
  wait_for 10 'test "$(job_field "$cr_id" state)" = final'
  is "$1: rejected" "$(job_field "$cr_id" status)" rejected
  like "$1: the message names the problem" "$(job_field "$cr_id" message)" "$3"
}

raw_job bad1 'not json at all'
check_rejected "invalid JSON" bad1 'spec: invalid JSON at line 1'
raw_job bad2 '{"version":1}'
check_rejected "missing command" bad2 'spec.command: missing'
raw_job bad3 '{"version":1,"command":"ls"}'
check_rejected "command not an array" bad3 'spec.command: must be an array of strings'
raw_job bad4 '{"version":1,"command":["ls"],"limits":{"memory_bytes":-5}}'
check_rejected "negative limit" bad4 'spec.limits.memory_bytes: must not be negative'
raw_job bad5 '{"version":1,"command":["ls"],"limits":{"memory_bytes":99999999999999}}'
check_rejected "limit over the policy" bad5 "spec.limits.memory_bytes: .* over this worker's maximum"
raw_job bad6 '{"version":1,"command":["ls"],"limits":{"gpus":1}}'
check_rejected "unknown limit" bad6 'spec.limits.gpus: unknown limit'
raw_job bad7 '{"version":1,"command":["ls"],"env":{"PATH":"/tmp"}}'
check_rejected "PATH override" bad7 "env 'PATH': the sandbox's PATH is fixed"
raw_job bad8 '{"version":1,"command":["ls"],"env":{"1BAD":"x"}}'
check_rejected "bad env name" bad8 "env '1BAD=x': the name must match"
raw_job bad9 '{"version":2,"command":["ls"]}'
check_rejected "wrong version" bad9 'spec.version: must be 1'
raw_job bad10 '{"version":1,"command":["ls"],"extra":true}'
check_rejected "unknown field" bad10 'spec.extra: unknown field'
raw_job bad11 '{"version":1,"command":[""]}'
check_rejected "empty program" bad11 'spec.command\[0\]: must not be empty'
raw_job bad12 '{"version":1,"command":["ls"],"limits":{"memory_bytes":1000}}'
check_rejected "limit below the sandbox minimum" bad12 'memory: out of range; use 4 MiB'
raw_job bad13 '{"version":1,"command":["ls"],"network":"pypi"}'
check_rejected "network not an array" bad13 'spec.network: must be an array of profile names'
raw_job bad14 '{"version":1,"command":["ls"],"network":["Py Pi"]}'
check_rejected "bad network name" bad14 "network 'Py Pi': a profile's name is 1-32 of"
raw_job bad15 '{"version":1,"command":["ls"],"network":["a","b","c","d","e","f","g","h","i"]}'
check_rejected "too many network profiles" bad15 'network: more than 8 profiles'
raw_job bad16 '{"version":1,"command":["ls"],"network":["pypi"]}'
check_rejected "a profile this worker does not have" bad16 "queue 'default' offers no network profile 'pypi' \(it offers: none\)"
rcli rpush 'sandq:{default}:pending:1' ghost-job >/dev/null
rcli lpush 'sandq:{default}:wake' x >/dev/null

# Hostile tarballs, submitted with the CLI as they are.
t() { # KIND REGEX
  local f=$Q_DIR/$1.tar
  "$PY" "$SANDQ_TOP/tests/integration/mktar.py" "$1" "$f"
  local id; id=$(SQ submit "$f" -- ls -la)
  check_rejected "tarball $1" "$id" "$2"
  t_id=$id
}
t absolute "entry '/etc/sandq-pwned': absolute paths are not allowed"
# A name that is not UTF-8: the message names it with '?' for the bad
# byte, and stays in status --json (JSON must be UTF-8).
t absolute-not-utf8 "entry '/etc/sandq-pwned-\\?': absolute paths are not allowed"
is "tarball absolute-not-utf8: status --json keeps the message" \
  "$(jget "$(SQ status --json "$t_id")" message)" \
  "input: entry '/etc/sandq-pwned-?': absolute paths are not allowed"
# Another client may write a field that is not UTF-8: status --json
# shows it with U+FFFD rather than leaving it out.
rcli hset "sandq:{default}:job:$t_id" submitter "$(printf 'bob\377')" >/dev/null
is "a job field that is not UTF-8: status --json shows it with U+FFFD" \
  "$("$PY" -c 'import json,sys; print(ascii(json.loads(sys.argv[1])["submitter"]))' \
      "$(SQ status --json "$t_id")" 2>&1)" "'bob\\ufffd'"
t dotdot "entry 'a/../../sandq-pwned': '..' is not allowed"
t symlink-out "entry 'link': symlink to '/etc' leaves the job directory"
t symlink-up "entry 'd/up': symlink to '../../..' leaves the job directory"
t symlink-chain "entry 't': symlink to 'd1/d2/s/\.\.' leaves the job directory"
"$PY" "$SANDQ_TOP/tests/integration/mktar.py" symlink-ok "$Q_DIR/symlink-ok.tar"
js=$(SQ submit --json --wait "$Q_DIR/symlink-ok.tar" -- /bin/cat sub/a sub/data/a.csv)
is "links that climb first, then descend, still unpack" "$(jget "$js" status)" ok
t hardlink-out "hard link 'h'.*absolute paths are not allowed"
t device "entry 'null': devices are not allowed"
t fifo "entry 'pipe': FIFOs are not allowed"
"$PY" "$SANDQ_TOP/tests/integration/mktar.py" many "$Q_DIR/many.tar"
id=$(SQ submit --inodes 200 "$Q_DIR/many.tar" -- ls)
check_rejected "tarball many" "$id" "more than 192 entries \\(limit reached at 'f192'\\)"
t deep "nested deeper than the limit of 32"
t longname "path longer than the limit of 1024 bytes"
t control "control characters in the name"
"$PY" "$SANDQ_TOP/tests/integration/mktar.py" bomb "$Q_DIR/bomb.tar.gz"
id=$(SQ submit --inodes 200 --disk 512M --memory 600M "$Q_DIR/bomb.tar.gz" -- ls)
check_rejected "gzip bomb" "$id" 'expands more than 200 times its size'
ok "no file of any rejected tarball reached the host" \
   test -z "$(find /etc /tmp /root -maxdepth 2 -name 'sandq-pwned*' 2>/dev/null)"

# Survivable inputs: setuid bits dropped, links that stay inside allowed.
"$PY" "$SANDQ_TOP/tests/integration/mktar.py" setuid "$Q_DIR/setuid.tar"
id=$(SQ submit "$Q_DIR/setuid.tar" -- stat -c %a tool)
SQ wait "$id" >/dev/null
is "setuid bit is stripped on unpack" "$(SQ logs --stdout "$id")" 755
"$PY" "$SANDQ_TOP/tests/integration/mktar.py" inside-links "$Q_DIR/inside.tar"
id=$(SQ submit "$Q_DIR/inside.tar" -- sh -c 'cat sub/link hard')
SQ wait "$id" >/dev/null
is "links that stay inside work" "$(SQ logs --stdout "$id")" "$(printf 'hello\nhello')"
printf 'not a tarball' > "$Q_DIR/junk.tar"
id=$(SQ submit "$Q_DIR/junk.tar" -- ls)
check_rejected "a file that is not a tar" "$id" 'not a tar archive|corrupt archive'

# sandq-archiver's job process unpacks as the job's uid, into an fd of its
# disk: it could not write a root-owned place even if a check were missed
# (defence in depth). Files it made are the job's own (a root-owned one
# would show as the overflow uid 65534 inside).
printf 'x' > "$Q_DIR/owned.txt"
id=$(SQ submit "$Q_DIR/owned.txt" -- stat -c %u owned.txt); SQ wait "$id" >/dev/null
is "unpacked files belong to the job's uid" "$(SQ logs --stdout "$id")" 1000
ok "worker logged each rejection" test "$(grep -c 'rejected' "$Q_DIR/h.log")" -ge 20
is "the worker is still running" "$(kill -0 "$(wpid h)" && echo yes)" yes
id=$(SQ submit -- echo still-fine); SQ wait "$id" >/dev/null
is "and still runs good jobs" "$(SQ logs --stdout "$id")" still-fine

# A hostile result archive (links in out/) is safe to fetch.
id=$(SQ submit -- sh -c 'ln -s /etc/shadow out/s; mkfifo out/f; echo ok > out/real')
SQ wait "$id" >/dev/null
SQ result --result-dir "$Q_DIR/res" "$id" >/dev/null
ok "result: regular files come back" test "$(cat "$Q_DIR/res/out/real")" = ok
ok "result: links and FIFOs do not" test -z "$(find "$Q_DIR/res" ! -type f ! -type d)"
# A job's out/ nested deeper than 64 directories, or with a path longer
# than 4095 bytes: what lies too deep is left out and counted, the rest
# comes back, and the verdict is the job's own (not a system error that
# would run it three times).
id=$(SQ submit -- sh -c 'd=out/$(printf "d/%.0s" $(seq 1 70)); mkdir -p $d && echo deep > $d/f
  n=$(printf "n%.0s" $(seq 1 200)); l=out/long; for i in $(seq 1 22); do l=$l/$n; done
  mkdir -p $l && echo long > $l/f; echo shallow > out/s')
SQ wait "$id" >/dev/null
is "out/ too deep or too long: the job is ok, run once" \
  "$(job_field "$id" status) $(job_field "$id" attempts)" "ok 1"
SQ result --result-dir "$Q_DIR/deep" "$id" >/dev/null
is "... the rest of out/ comes back" "$(cat "$Q_DIR/deep/out/s")" shallow
like "... and what was left out is counted" "$(cat "$Q_DIR/deep/result.json")" '"out_skipped":2[,}]'
is "... nothing below the limits is lost" \
  "$(find "$Q_DIR/deep/out/d" -type d | awk -F/ '{print NF}' | sort -n | tail -1)" \
  "$(( $(echo "$Q_DIR/deep/out/d" | awk -F/ '{print NF}') + 63 ))"

# A job cannot get its code run by the archive helper. glibc looks up
# gconv's modules by absolute path when libarchive asks for a charset
# conversion; the helper's job process once chrooted into the job's
# directory, so a gconv-modules and a library planted there (by the job,
# or by its input tarball) were loaded outside the sandbox. The library
# here leaves a file wherever it can when it is loaded.
gc=$Q_DIR/gconv && mkdir -p "$gc/usr/lib/x86_64-linux-gnu/gconv"
cat > "$gc/evil.c" <<'C'
#include <fcntl.h>
#include <unistd.h>
__attribute__ ((constructor)) static void loaded (void)
{
  int fd = open ("/out/pwned", O_WRONLY | O_CREAT, 0644);
  if (fd < 0)
    fd = open ("/pwned", O_WRONLY | O_CREAT, 0644);
  if (fd >= 0)
    close (fd);
}
int gconv (void) { return 0; }
int gconv_init (void) { return 0; }
C
if ${CC:-cc} -shared -fPIC -o "$gc/usr/lib/x86_64-linux-gnu/gconv/EVIL.so" "$gc/evil.c" 2>/dev/null; then
  printf 'module ANSI_X3.4-1968// UTF-8// EVIL 1\nmodule UTF-8// ANSI_X3.4-1968// EVIL 1\n' \
    > "$gc/usr/lib/x86_64-linux-gnu/gconv/gconv-modules"
  tar -C "$gc" -cf "$gc/in.tar" usr
  # Planted by the input tarball: present while it is unpacked, and
  # while the result is packed.
  id=$(SQ submit "$gc/in.tar" -- sh -c 'ls pwned out/pwned 2>/dev/null; echo end')
  SQ wait "$id" >/dev/null
  SQ result --result-dir "$gc/res0" "$id" >/dev/null
  is "a gconv module in the input tarball is not loaded" \
    "$(job_field "$id" status) $(SQ logs --stdout "$id") $(ls "$gc/res0/out" 2>/dev/null)" "ok end "
  # Planted by the job: present while the result is packed.
  tar -C "$gc/usr/lib/x86_64-linux-gnu/gconv" -cf "$gc/flat.tar" EVIL.so gconv-modules
  id=$(SQ submit "$gc/flat.tar" -- sh -c 'd=usr/lib/x86_64-linux-gnu/gconv
    mkdir -p $d && mv EVIL.so gconv-modules $d/')
  SQ wait "$id" >/dev/null
  SQ result --result-dir "$gc/res" "$id" >/dev/null
  is "a gconv module the job planted is not loaded while packing" \
    "$(job_field "$id" status) $(ls "$gc/res/out" 2>/dev/null)" "ok "
else
  skip "a planted gconv module" "no C compiler to build it"
fi

# Worker slots reuse one network namespace per slot. The host's loopback
# stays out of reach, and nothing a job leaves listening survives it.
"$PY" - "$Q_DIR/port" > /dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept(); open(sys.argv[1] + ".hit", "w").write("hit")
PY
lpid=$!
wait_for 5 'test -s "$Q_DIR/port"'
port=$(cat "$Q_DIR/port")
cat > "$Q_DIR/probe.py" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    print("CONNECTED")
except OSError as e:
    print("refused:", e.errno)
PY
# Records and script arguments a client got wrong: named, never lost.
rcli hset 'sandq:{default}:job:badrec1' id badrec1 queue default state queued spec '{"version":1,"command":["true"]}' \
  priority 1 created_at 1 expires_at soon attempts 0 reclaims 0 max_attempts 3 keep_s 600 fence 0 >/dev/null
rcli rpush 'sandq:{default}:pending:1' badrec1 >/dev/null; rcli lpush 'sandq:{default}:wake' badrec1 >/dev/null
check_rejected "a record with expires_at 'soon'" badrec1 'malformed: expires_at is "soon"'
rcli hset 'sandq:{default}:job:badrec2' id badrec2 queue default state queued spec '{"version":1,"command":["true"]}' \
  priority 1 created_at 1 expires_at 99999999999999 attempts 0 reclaims 0 max_attempts lots keep_s 600 fence 0 >/dev/null
rcli rpush 'sandq:{default}:pending:1' badrec2 >/dev/null; rcli lpush 'sandq:{default}:wake' badrec2 >/dev/null
check_rejected "a record with max_attempts 'lots'" badrec2 'malformed: max_attempts is "lots"'
js=$("$BIN/sandq" submit --json --wait -- /bin/true)
is "  the worker goes on after both" "$(jget "$js" status)" ok
out=$(rcli eval "$(cat "$SANDQ_TOP/common/lua/lib.lua" "$SANDQ_TOP/common/lua/submit.lua")" 5 'sandq:{default}:job:badsub' \
  'sandq:{default}:input:badsub' 'sandq:{default}:pending:1' 'sandq:{default}:wake' 'sandq:{default}:stats' \
  badsub '{"version":1,"command":["true"]}' '' 3600000 600 default 1 lots me 2>&1)
like "the submit script refuses max_attempts 'lots', naming it" "$out" 'max_attempts must be a whole number from 1 to 100, not "lots"'
is "  and stores nothing" "$(rcli exists 'sandq:{default}:job:badsub')" 0
out=$(rcli eval "$(cat "$SANDQ_TOP/common/lua/lib.lua" "$SANDQ_TOP/common/lua/submit.lua")" 5 'sandq:{default}:job:badsub' \
  'sandq:{default}:input:badsub' 'sandq:{default}:pending:1' 'sandq:{default}:wake' 'sandq:{default}:stats' \
  badsub '{"version":1,"command":["true"]}' '' -5 600 default 7 3 me 2>&1)
like "  and a negative ttl_ms" "$out" 'ttl_ms must be a whole number'
worker_stop h
worker_start h1 --concurrency 1 --lease 5
id=$(SQ submit "$Q_DIR/probe.py" -- python3 probe.py 127.0.0.1 "$port"); SQ wait "$id" >/dev/null
like "a worker's job cannot reach the host's loopback" "$(SQ logs --stdout "$id")" '^refused'
ok "the host listener saw nothing" test ! -e "$Q_DIR/port.hit"
kill "$lpid" 2>/dev/null
id=$(SQ submit -- python3 -c '
import os, socket, time
s = socket.socket(); s.bind(("127.0.0.1", 7777)); s.listen()
a = socket.socket(socket.AF_UNIX); a.bind("\0sandq-left-behind"); a.listen()
if os.fork() == 0:
    os.setsid(); time.sleep(60)
print("listening")')
SQ wait "$id" >/dev/null
is "job 1 left listeners and a daemon behind" "$(SQ logs --stdout "$id")" listening
id=$(SQ submit "$Q_DIR/probe.py" -- sh -c 'python3 probe.py 127.0.0.1 7777; python3 -c "
import socket
a = socket.socket(socket.AF_UNIX)
try:
    a.connect(\"\\0sandq-left-behind\"); print(\"CONNECTED\")
except OSError as e:
    print(\"refused:\", e.errno)"')
SQ wait "$id" >/dev/null
out=$(SQ logs --stdout "$id")
unlike "the next job in the slot finds nothing listening" "$out" CONNECTED
like "both probes were refused" "$out" '^refused.*'$'\n''refused'
worker_stop h1
done_testing
