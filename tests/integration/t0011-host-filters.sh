#!/usr/bin/env bash
# A host whose seccomp filter answers some syscalls with an errno (systemd's
# RestrictSUIDSGID= answers openat2 with ENOSYS; container runtimes answer
# clone3 so): sandq falls back where it can, and where it cannot the job
# is sandq's fault (system_error, retried elsewhere), never `rejected`.
. "$(dirname "$0")/../lib.sh"
need_root "host filters"
. "$SANDQ_TOP/tests/queue-lib.sh"
SQ() { "$BIN/sandq" "$@"; }

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
in=$Q_DIR/in; mkdir -p "$in/dir/sub" "$in/t"
printf 'a,b\n1,2\n' > "$in/data.csv"
printf 'x\n' > "$in/dir/sub/f.txt"
printf 'hello\n' > "$in/t/a.txt"; ln -s a.txt "$in/t/link"
tar -C "$in/t" -cf "$in/links.tar" a.txt link

# openat2 denied, as under the worker's unit: every input still unpacks.
WORKER_WRAP="$BIN/tests/deny-syscall openat2 ENOSYS" worker_start o --queue o --lease 5
js=$(SQ submit --json --wait --queue o "$in/data.csv" "$in/dir" -- /bin/sh -c 'test -f data.csv && cat dir/sub/f.txt')
is "openat2 answered ENOSYS: a job with file and directory inputs is ok" "$(jget "$js" status)" ok
js=$(SQ submit --json --wait --queue o "$in/links.tar" -- /bin/cat link)
is "openat2 answered ENOSYS: a tarball with a symlink is ok" "$(jget "$js" status)" ok

# symlinkat denied: the same tarball cannot be unpacked on this host. That
# is the host's doing: system_error, with the reason, never rejected.
WORKER_WRAP="$BIN/tests/deny-syscall symlinkat ENOSYS" worker_start s --queue s --lease 5
js=$(SQ submit --json --wait --queue s --max-attempts 1 "$in/links.tar" -- /bin/cat link)
is "symlinkat answered ENOSYS: the job is a system_error" "$(jget "$js" status)" system_error
like "  and the message says why" "$(jget "$js" message)" "link.*(not implemented|ENOSYS)"
js=$(SQ submit --json --wait --queue s "$in/data.csv" -- /bin/cat data.csv)
is "  the worker goes on: a job without links is ok" "$(jget "$js" status)" ok
done_testing
