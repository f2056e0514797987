#!/usr/bin/env bash
# sandq-sandbox: options, exit codes, files in and out, cleanup.
. "$(dirname "$0")/../lib.sh"
need_root "sandq-sandbox CLI"
S=$BIN/sandq-sandbox
tmp=$(mktemp -d /tmp/sandq-t0001.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
memfd_noexec_before=$(cat /proc/sys/vm/memfd_noexec 2>/dev/null)

out=$("$S" --help); rc=$?
is "--help exits 0" "$rc" 0
for o in --memory --cpu --wall --pids --output --disk --env --stdout --stderr --dir; do
  like "--help names $o" "$out" "$o "
done
"$S" run --help >/dev/null; is "run --help exits 0" "$?" 0
like "--version prints a version" "$("$S" --version)" '^sandq-sandbox [0-9]+\.[0-9]+'

err=$("$S" 2>&1 >/dev/null); is "no command: exit 2" "$?" 2
err=$("$S" frobnicate 2>&1); is "unknown command: exit 2" "$?" 2
like "unknown command is named" "$err" "'frobnicate': unknown command"
err=$("$S" run --memory lots -- /bin/true 2>&1); is "bad --memory: exit 2" "$?" 2
like "bad --memory names the option and value" "$err" "--memory 'lots': not a size"
err=$("$S" run --memory 1K -- /bin/true 2>&1); is "tiny --memory: exit 2" "$?" 2
like "tiny --memory names the range" "$err" 'memory: out of range; use 4 MiB to 1 TiB'
err=$("$S" run --wall 0 -- /bin/true 2>&1); is "zero --wall: exit 2" "$?" 2
like "zero --wall is explained" "$err" "--wall '0': must be more than zero"
err=$("$S" run --pids 0 -- /bin/true 2>&1); is "zero --pids: exit 2" "$?" 2
err=$("$S" run --cpus 0 -- /bin/true 2>&1); is "zero --cpus: exit 2" "$?" 2
err=$("$S" run --env NOEQUALS -- /bin/true 2>&1); is "bad --env: exit 2" "$?" 2
like "bad --env is explained" "$err" "not NAME=VALUE"
err=$("$S" run --dir "$tmp/missing" -- /bin/true 2>&1); is "missing --dir: exit 2" "$?" 2
like "missing --dir is named" "$err" "--dir '$tmp/missing': No such file or directory"
err=$("$S" run --stdout /nonexistent/dir/x -- /bin/true 2>&1); is "unwritable --stdout: exit 2" "$?" 2
err=$("$S" run 2>&1); is "run without a command: exit 2" "$?" 2
like "run without a command is explained" "$err" "run: no command; give it after the options"
mkdir -p "$tmp/full/out" && touch "$tmp/full/out/old"
err=$("$S" run --dir "$tmp/full" -- /bin/true 2>&1); is "non-empty DIR/out: exit 2" "$?" 2
like "non-empty DIR/out is explained" "$err" "must be empty before a run"

res=$("$S" run -- /bin/true); is "ok job: exit 0" "$?" 0
is "ok job: status" "$(jget "$res" status)" ok
is "ok job: exit_code" "$(jget "$res" exit_code)" 0
is "ok job: signal is null" "$(jget "$res" signal)" null
for f in wall_ms cpu_ms memory_peak_bytes stdout_bytes stderr_bytes message; do
  like "result has $f" "$res" "\"$f\":"
done
res=$("$S" run -- /bin/false); is "failing job: exit 1" "$?" 1
is "failing job: nonzero_exit" "$(jget "$res" status)" nonzero_exit

mkdir -p "$tmp/job" && printf 'a,b\n1,2\n' > "$tmp/job/in.csv"
res=$("$S" run --dir "$tmp/job" --stdout "$tmp/so" --stderr "$tmp/se" \
      --env GREETING=hello -- /bin/sh -c \
      'cat in.csv; echo "$GREETING" >&2; pwd; echo result > out/r.txt; mkdir out/d; echo x > out/d/y; echo junk > notout')
is "files job: ok" "$(jget "$res" status)" ok
is "stdout captured to --stdout" "$(cat "$tmp/so")" "$(printf 'a,b\n1,2\n/work')"
is "stderr captured to --stderr" "$(cat "$tmp/se")" hello
is "stdout_bytes counted" "$(jget "$res" stdout_bytes)" 14
is "out/ file came back" "$(cat "$tmp/job/out/r.txt")" result
is "out/ subdir came back" "$(cat "$tmp/job/out/d/y")" x
is "out_files counts files and dirs" "$(jget "$res" out_files)" 3
ok "writes outside out/ stay in the sandbox" test ! -e "$tmp/job/notout"
is "input file untouched" "$(cat "$tmp/job/in.csv")" "$(printf 'a,b\n1,2')"

echo 'from stdin' > "$tmp/in"
"$S" run --stdin "$tmp/in" --stdout "$tmp/so2" -- /bin/cat >/dev/null
is "--stdin feeds the program" "$(cat "$tmp/so2")" "from stdin"

env -i PATH=/usr/bin:/bin SECRET_TOKEN=s3cret "$S" run --stdout "$tmp/env" -- /usr/bin/env >/dev/null
unlike "the CLI's environment does not leak" "$(cat "$tmp/env")" 's3cret|SECRET_TOKEN'
like "the default environment is set" "$(cat "$tmp/env")" 'PATH=/usr/local/bin:/usr/bin:/bin'

"$S" run --stdout "$tmp/id" -- /usr/bin/id >/dev/null
is "runs as the unprivileged sandbox user" "$(cat "$tmp/id")" "uid=1000(sandbox) gid=1000(sandbox) groups=1000(sandbox)"
"$S" run --stdout "$tmp/caps" -- /bin/grep -E '^(Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status >/dev/null
is "no capabilities in any set (ambient included), no_new_privs, seccomp filter" \
   "$(tr -s '\t' ' ' < "$tmp/caps")" \
   "$(printf 'CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nCapAmb: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2')"
# The CLI ignores SIGPIPE and blocks signals in a thread: the program
# starts with no signal ignored or blocked all the same.
(trap '' INT; "$S" run --stdout "$tmp/sig" -- /bin/grep -E '^Sig(Blk|Ign):' /proc/self/status >/dev/null)
is "the program starts with no signal blocked or ignored" "$(tr -s '\t' ' ' < "$tmp/sig")" \
   "$(printf 'SigBlk: 0000000000000000\nSigIgn: 0000000000000000')"
# Nor the caller's umask or OOM score: a job is killable under its memory
# cap and the first to go in a host OOM, whatever protects its caller.
(umask 077; echo 300 > /proc/self/oom_score_adj
 exec "$S" run --stdout "$tmp/umask" -- sh -c 'cat /proc/self/oom_score_adj; umask; touch out/f; stat -c %A out/f' >/dev/null)
is "the program's OOM score is 1000 and its umask 022, not the caller's" \
   "$(cat "$tmp/umask")" "$(printf '1000\n0022\n-rw-r--r--')"
if (echo -1000 > /proc/self/oom_score_adj) 2>/dev/null; then
  res=$( (echo -1000 > /proc/self/oom_score_adj
          exec "$S" run --memory 64M --wall 20 -- python3 -c 'x = bytearray(200 << 20)') )
  is "a caller with oom_score_adj -1000: the job still ends memory_limit" \
     "$(jget "$res" status)" memory_limit
else
  skip "a caller with oom_score_adj -1000" "lowering the OOM score needs CAP_SYS_RESOURCE"
fi
# init (sandq-init, started with its user namespace's capabilities as
# ambient ones) keeps none once the program runs. Seen from the host. The
# CLI runs with an inherited fd 8 that is not close-on-exec, as a worker
# may hold one (hiredis's sockets are): init must not keep it.
"$S" run --wall 10 --stdout "$tmp/sink" -- /bin/sleep 3 >/dev/null 8</etc/hostname &
bg=$!
init_pid=
for i in $(seq 1 100); do
  init_pid=$(pgrep -P "$bg" | head -1)
  [ -n "$init_pid" ] && grep -q sleep /proc/"$(pgrep -P "$init_pid" | head -1)"/comm 2>/dev/null && break
  sleep 0.05
done
is "init, while the program runs: sandq-init" "$(tr '\0' ' ' < /proc/"$init_pid"/cmdline 2>/dev/null)" "sandq-init "
is "init, while the program runs: no capabilities in any set" \
   "$(grep -E '^Cap' /proc/"$init_pid"/status 2>/dev/null | awk '{print $2}' | sort -u)" 0000000000000000
# It passes the program's output on (its two pipes) to the stdout sink, the
# one file of the caller's it holds.
is "init, while the program runs: its report pipe, the program's two pipes, the stdout sink; nothing inherited" \
   "$(for f in /proc/"$init_pid"/fd/*; do readlink "$f" | sed 's/:\[.*//'; done 2>/dev/null | sort | tr '\n' ' ')" \
   "$tmp/sink pipe pipe pipe "
wait "$bg"
"$S" run --stdout "$tmp/net" -- /bin/cat /proc/net/dev >/dev/null
is "only the loopback device exists" "$(awk 'NR>2 {print $1}' "$tmp/net")" "lo:"

"$S" run --stdout "$tmp/fs" -- /bin/sh -c '
  for p in / /usr /etc /dev /proc/sys; do touch "$p/.x" 2>/dev/null && echo "$p writable"; done
  for p in /work /tmp /dev/shm; do touch "$p/.x" && echo "$p ok"; done
  echo hi > /dev/null && echo null-ok' >/dev/null
is "read-only: /, /usr, /etc, /dev, /proc/sys; writable: /work, /tmp, /dev/shm, /dev/null" \
   "$(cat "$tmp/fs")" "$(printf '/work ok\n/tmp ok\n/dev/shm ok\nnull-ok')"
"$S" run --stdout "$tmp/ls" -- /bin/ls -A / /tmp /dev >/dev/null
unlike "no helper directory is left in the root, /tmp or /dev" "$(cat "$tmp/ls")" 'scratch'

# Limits over what a disk holds fail as input errors before anything runs.
big=$(mktemp -d "$tmp/big.XXXX"); head -c 3M /dev/zero > "$big/blob"
err=$("$S" run --disk 1M --dir "$big" -- /bin/true 2>&1); is "inputs larger than --disk: exit 2" "$?" 2
like "inputs larger than --disk are explained" "$err" "more than 1 MiB"
like "and name --dir first" "$err" "^sandq-sandbox: --dir '$big': "

# A crashed instance's cgroups are swept at the next start.
mem=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
if [ -d /sys/fs/cgroup/memory ]; then
  stale=/sys/fs/cgroup/memory${mem%/}/sandq/1-1
  mkdir -p "$stale/j9"
  "$S" run -- /bin/true >/dev/null
  ok "a dead instance's job cgroup is swept" test ! -e "$stale"
else
  skip "a dead instance's job cgroup is swept" "not a cgroup v1 host"
fi
is "no sandq job cgroup is left" "$(find /sys/fs/cgroup -path '*/sandq/*/j*' -type d | wc -l)" 0

# The caller's own limits and umask are not the job's: a shell's small
# stack, address-space and data caps and its umask 077 (whatever their
# hard limits allow, the job gets the usual stack and no cap but its
# cgroup's), both as the CLI builds the root and as a worker does.
# (An ASan build of the CLI itself cannot start under the address-space
# and data caps: its shadow memory needs terabytes of address space.)
caps() { ulimit -S -s 1024; [ "$BUILD" = build-san ] || { ulimit -S -v 900000; ulimit -S -d 900000; }; }
for how in "" --template; do
  got=$( (caps; umask 077
         "$S" run $how --stdout /dev/stdout -- /bin/sh -c \
           'echo $(ulimit -s) $(ulimit -v) $(ulimit -d) $(umask) $(stat -c %a /etc /etc/passwd /work)') \
         | head -1)
  is "the caller's ulimits and umask stay out${how:+ ($how)}" "$got" \
     "8192 unlimited unlimited 0022 755 644 755"
done
if command -v setarch >/dev/null; then
  # The personality too: a caller's setarch -R (no address-space
  # randomisation) is not the job's.
  is "the caller's personality stays out" \
     "$(setarch "$(uname -m)" -R "$S" run --stdout /dev/stdout -- cat /proc/self/personality | head -1)" \
     00000000
else
  skip "the caller's personality stays out" "setarch is not installed"
fi

# The subtree directory is shared by every sandq process started in the
# same cgroup, and the last to leave removes it, also when many start and
# leave at once. Run in a pids cgroup of the test's own, so that nothing
# else there keeps it.
pown=$(awk -F: '$2 ~ /(^|,)pids(,|$)/ {print $3}' /proc/self/cgroup)
if [ -d /sys/fs/cgroup/pids ] && [ -n "$pown" ]; then
  box=/sys/fs/cgroup/pids${pown%/}/sandq-t0001-$$
  mkdir "$box"
  incg() { sh -c 'echo $$ > "$0/tasks" && exec "$@"' "$box" "$@"; }
  incg "$S" run -- /bin/true >/dev/null
  is "one run: exit 0" "$?" 0
  ok "one run leaves no sandq directory in its cgroup" test ! -e "$box/sandq"
  fails=0
  for round in 1 2 3 4; do
    pids=""
    for i in 1 2 3 4 5 6; do
      incg "$S" run -- /bin/sh -c 'exit 0' >/dev/null 2>"$tmp/race.$round.$i" &
      pids="$pids $!"
    done
    for p in $pids; do wait "$p" || fails=$((fails + 1)); done
  done
  is "24 runs, six at a time: all exit 0" "$fails" 0
  is "... and no error" "$(cat "$tmp"/race.* | head -3)" ""
  ok "... and no sandq directory is left" test ! -e "$box/sandq"
  # One that finds the directory locked exclusively (as by another sandq
  # process removing it) tries again, for 2 s at most, then stops with a
  # sandq error that says why, and leaves nothing behind.
  if command -v flock >/dev/null; then
    mkdir "$box/sandq"
    flock -x -o "$box/sandq" sleep 30 &
    holder=$!
    for _ in $(seq 50); do pgrep -P "$holder" >/dev/null && break; sleep 0.05; done
    t0=$(date +%s%N)
    err=$(incg "$S" run -- /bin/true 2>&1 >/dev/null)
    is "a subtree that stays locked: exit 3 (sandq failed)" "$?" 3
    ms=$((($(date +%s%N) - t0) / 1000000))
    like "... saying so" "$err" "cgroup '.*/sandq' was being removed by another sandq process and could not be made again within 2 s"
    ok "... after trying for 2 s ($ms ms)" test "$ms" -ge 1900
    pkill -P "$holder" sleep; kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
    rmdir "$box/sandq"
    incg "$S" run -- /bin/true >/dev/null
    is "... and once it is free again, a run works" "$?" 0
    ok "... and leaves no sandq directory" test ! -e "$box/sandq"
  else
    skip "a subtree that stays locked" "util-linux flock is not installed"
  fi
  # Empty, unless a check above failed: then whatever is left, deepest first.
  find "$box" -depth -type d -exec rmdir {} + 2>/dev/null
else
  skip "the last run removes the subtree" "no cgroup v1 pids hierarchy"
fi

# Seen from the host, a running job is in its own cgroup in every
# hierarchy with a limit (on v1 the CLI makes them while init builds the
# root, and init steps in before the program starts), and so are its
# children.
"$S" run --wall 10 -- /bin/sh -c 'sleep 7.3 & sleep 7.4' >/dev/null &
cli=$!
for _ in $(seq 100); do
  kid=$(pgrep -xf 'sleep 7.3'); [ -n "$kid" ] && break; sleep 0.05
done
main=$(pgrep -xf 'sleep 7.4')
if [ -d /sys/fs/cgroup/memory ]; then
  inst=$(awk -F: '$2 == "memory" {print $3}' "/proc/$kid/cgroup")
  like "a running job's memory cgroup is its instance's" "$inst" '/sandq/[0-9]+-[0-9]+$'
  inst=sandq/${inst##*/sandq/}
  for c in memory pids cpu cpuacct; do
    for p in "$kid" "$main"; do
      cg=$(awk -F: -v c="$c" '$2 == c || $2 ~ "(^|,)" c "(,|$)" {print $3}' "/proc/$p/cgroup")
      is "a job process ($p) is in the job's $c cgroup" "${cg#"${cg%/sandq/*}"/}" "$inst"
    done
  done
else
  cg=$(awk -F: '$1 == "0" {print $3}' "/proc/$kid/cgroup")
  like "a running job is in its own v2 cgroup" "$cg" '/sandq/[0-9]+-[0-9]+/j[0-9]+$'
fi
kill "$cli" 2>/dev/null; wait "$cli" 2>/dev/null

# --template copies the root from a template mount namespace, as the
# worker does. The template's own /proc (there only so that a sandbox may
# mount its own over it) must not show through.
"$S" run --template --stdout "$tmp/tp" -- /bin/sh -c '
  p=$(readlink /proc/self); [ "$p" -lt 100 ] && echo own || echo "host pid $p"
  touch /x 2>/dev/null || echo ro; tr "\0" " " < /proc/1/cmdline' >/dev/null
is "--template: /proc is the sandbox's own pid namespace, root read-only" \
   "$(sed -n '1,2p' "$tmp/tp" | tr '\n' ' ')" "own ro "
like "--template: pid 1 is sandq's init" "$(sed -n 3p "$tmp/tp")" '^sandq-init $'
# A --template run keeps its cgroups as a reusable set (on v1), as a
# worker does; it leaves none of it behind.
is "--template: no cgroup of its own is left" \
   "$(find /sys/fs/cgroup -maxdepth 10 -path '*/sandq/*' -type d 2>/dev/null | wc -l)" 0

# A --stdout whose reader goes away: the job is stopped with a clear
# verdict (the CLI must not die of SIGPIPE and leave its cgroup behind).
mkfifo "$tmp/fifo"
head -c 10 < "$tmp/fifo" > /dev/null &
res=$("$S" run --wall 20 --stdout "$tmp/fifo" -- yes); rc=$?
is "--stdout reader gone: exit 3" "$rc" 3
like "--stdout reader gone: the message says so" "$res" \
  "sandq could not store the program's output: Broken pipe"
is "--stdout reader gone: no cgroup left" "$(find /sys/fs/cgroup -path '*/sandq/[0-9]*' -type d | wc -l)" 0

# An out/ nested deeper than 64 directories, or with a path longer than
# 4095 bytes: what lies too deep is left out and counted, not an error.
mkdir "$tmp/deep"
res=$("$S" run --dir "$tmp/deep" -- /bin/sh -c \
  'd=out/$(printf "d/%.0s" $(seq 1 70)); mkdir -p $d && echo deep > $d/f
   n=$(printf "n%.0s" $(seq 1 200)); l=out/long; for i in $(seq 1 22); do l=$l/$n; done
   mkdir -p $l && echo long > $l/f; echo shallow > out/s')
is "out/ too deep or too long: skipped and counted, no out_error" \
  "$(jget "$res" status) $(jget "$res" out_skipped) $(jget "$res" out_error)" "ok 2 "
is "... the rest is copied" "$(cat "$tmp/deep/out/s")" shallow

# Errors name paths that jobs chose; the verdict must stay valid JSON
# (UTF-8) even when a name is not: a copy error (here: DIR's file system
# runs out of inodes) naming out/ entries with a quote, a backslash and a
# byte that is not UTF-8 (it becomes '?').
mkdir "$tmp/esc"
if mount -t tmpfs -o size=1m,nr_inodes=3 sandq-t0001 "$tmp/esc"; then
  res=$("$S" run --dir "$tmp/esc" -- /bin/sh -c \
    'd=out; for i in 1 2 3; do d="$d/q\"$(printf "\377")\\"; mkdir "$d" || exit 1; done')
  umount "$tmp/esc"
  is "a hostile out/ name in out_error: valid JSON" \
    "$("$PY" -c 'import json,sys; json.loads(sys.argv[1]); print("valid")' "$res" 2>&1)" valid
  like "the error keeps the quote and backslash, the bad byte is '?'" \
    "$(jget "$res" out_error)" '^create directory .q"\?\\/q"\?\\.: No space left on device$'
else
  skip "a hostile out/ name in out_error" "cannot mount a tmpfs"
fi

# The verdict quotes the command, cut at 200 bytes: a cut through a
# three-byte character must not lose the message (jansson refuses a
# string that is not UTF-8).
cmd=$(printf '\342\202\254%.0s' $(seq 1 100))
res=$("$S" run -- "$cmd")
like "a command cut mid-character: the message is kept, the cut byte is '?'" \
  "$(jget "$res" message)" "\\?' could not be started: File name too long|\\?' could not be started: Filename too long"

# Runs straight after one another, each with its network namespace made
# by a second thread of the CLI: none may stall. (glibc's uid and group
# calls, made in the child, once waited forever for a thread caught
# mid-creation at the moment of the clone.)
stalls=0
for i in $(seq 1 150); do
  "$S" run --wall 3 -- /bin/true >/dev/null || stalls=$((stalls + 1))
done
is "150 runs in a row, none stalls" "$stalls" 0

# sandq-init runs from a memfd. Where executable memfds are forbidden
# (vm.memfd_noexec=2, set here in a PID namespace of the test's own: the
# sysctl is per PID namespace), the CLI says so and exits 3.
if [ -e /proc/sys/vm/memfd_noexec ]; then
  out=$(unshare -pf --mount-proc sh -c \
    'echo 2 > /proc/sys/vm/memfd_noexec && exec "$0" run -- /bin/true' "$S" 2>&1); rc=$?
  is "vm.memfd_noexec=2: exit 3" "$rc" 3
  like "vm.memfd_noexec=2: the error names the sysctl" "$out" \
    'sandq-init, the sandboxes. init: the sysctl vm.memfd_noexec=2 forbids executable memfds'
  out=$(unshare -pf --mount-proc sh -c \
    'echo 1 > /proc/sys/vm/memfd_noexec && exec "$0" run -- /bin/true' "$S" 2>&1); rc=$?
  is "vm.memfd_noexec=1 (no executable memfd unless asked for): runs" "$rc $(jget "$out" status)" "0 ok"
  is "vm.memfd_noexec=2: the host's own setting is untouched" \
    "$(cat /proc/sys/vm/memfd_noexec)" "$memfd_noexec_before"
else
  skip "vm.memfd_noexec=2 is reported" "the kernel has no vm.memfd_noexec (before 6.3)"
fi

# Where clone3 is denied with ENOSYS (the default seccomp profile of
# container runtimes), sandboxes start through clone instead.
for mode in "" --template; do
  res=$("$BIN/tests/deny-syscall" clone3 ENOSYS "$S" run $mode -- /bin/echo fine)
  is "clone3 denied${mode:+ ($mode)}: the sandbox still runs" "$(jget "$res" status)" ok
done

# A command over the sandbox's 1 MiB of argv and environment is the
# caller's error (exit 2), found before anything is set up.
big=$("$PY" -c 'print(" ".join(["x" * 1000] * 1100))')
# shellcheck disable=SC2086
err=$(timeout 60 "$S" run -- /bin/true $big 2>&1 >/dev/null); rc=$?
is "a command over 1 MiB: usage error (exit 2)" "$rc" 2
is "... saying which limit" "$err" \
  "sandq-sandbox: run: the command and environment exceed the sandbox's limit of 4096 strings and 1024 KiB: Argument list too long; pass large data in a file under --dir instead"
# A library caller that skips that check gets the same error after the
# sandbox has started, and the run ends (init is not left waiting). The
# library finds its helpers (sandq-scope, on v2) beside the program.
mkdir "$tmp/lib" && cp "$BIN/tests/big-command" "$tmp/lib/" &&
  ln -s "$BIN/sandq-scope" "$tmp/lib/sandq-scope"
out=$(timeout 60 "$tmp/lib/big-command" 1100000); rc=$?
is "the library, 1.1 MB of arguments: an error (exit 3), not a hang" "$rc" 3
is "... saying which limit" "$out" \
  "the command and environment exceed the sandbox's limit of 4096 strings and 1024 KiB: Argument list too long"
# shellcheck disable=SC2086
err=$(timeout 60 "$S" run $(printf -- '--env V%d=x ' $(seq 4097)) -- /bin/true 2>&1 >/dev/null)
is "... and so is one over 4096 variables" "$?:${err%%;*}" \
  "2:sandq-sandbox: run: the command and environment exceed the sandbox's limit of 4096 strings and 1024 KiB: Argument list too long"

# The CLI makes its network namespace in a thread that it puts on
# another CPU than its own, and its cgroups after init's clone; confined
# to one CPU, it runs the same. The thread's placement is its own: the
# job may use every CPU its caller may.
cpus() { awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status; }
got=$("$S" run --stdout /dev/stdout -- /bin/sh -c "$(declare -f cpus); cpus" | head -1)
is "the job may use the caller's CPUs" "$got" "$(cpus)"
if command -v taskset >/dev/null; then
  res=$(taskset -c 0 "$S" run -- /bin/sh -c 'exit 3'); rc=$?
  is "confined to one CPU: the program's verdict (exit 1)" "$rc $(jget "$res" status)" \
     "1 nonzero_exit"
else
  skip "confined to one CPU" "util-linux taskset is not installed"
fi

info=$("$S" info); is "info exits 0" "$?" 0
like "info names the cgroup layout" "$info" 'cgroup v[12]'
done_testing
