#!/usr/bin/env bash
# Every byte a job causes counts against its own memory limit: its inputs
# (unpacked by the worker's archive helper, or copied in by the CLI) and
# its captured stdout and stderr. Before, these pages were the worker's or
# the caller's: a 32 MiB job could make them hold hundreds of MiB and
# still end ok.
. "$(dirname "$0")/../lib.sh"
need_root "charging"
. "$SANDQ_TOP/tests/queue-lib.sh"
SQ() { "$BIN/sandq" "$@"; }
S="$BIN/sandq-sandbox"
# Under queue-lib's directory, removed (with redis and the worker) at exit.
tmp=$Q_DIR/t0015
shm=/dev/shm/sandq-t0015-$$
mkdir -p "$tmp"

# --- The CLI ---------------------------------------------------------------
mkdir -p "$tmp/big" "$tmp/mid"
head -c 40000000 /dev/zero > "$tmp/big/zeros"
head -c 20000000 /dev/zero > "$tmp/mid/zeros"
out=$("$S" run --memory 32M --disk 200M --dir "$tmp/big" -- true 2>&1)
is "CLI: 40 MB of inputs, --memory 32M --disk 200M: refused as bad input" "$?" 2
like "  the message names the memory limit" "$out" \
  "do not fit in the memory limit of 32 MiB \(files in /work count against it\)"
# Under the limit by size, over it with the copy's own memory: the kernel
# stops the copying process (or refuses its write), and the CLI says which
# limit.
mkdir -p "$tmp/edge-cli" && head -c $((32700 << 10)) /dev/urandom > "$tmp/edge-cli/f"
out=$("$S" run --memory 32M --disk 200M --dir "$tmp/edge-cli" -- true 2>&1)
is "CLI: 32700 KiB of inputs, --memory 32M: refused as bad input" "$?" 2
like "  the message names the memory limit" "$out" \
  "do not fit in the memory limit of 32 MiB \(files in /work count against it\)"
res=$("$S" run --memory 64M --disk 200M --dir "$tmp/mid" -- true)
is "CLI: 20 MB of inputs under --memory 64M: ok" "$(jget "$res" status)" ok
ok "  the copy is charged to the job (peak $(jget "$res" memory_peak_bytes) >= 20 MB)" \
  test "$(jget "$res" memory_peak_bytes)" -ge 20000000
# stdout into a tmpfs file: its pages are written by the job's init, in the
# job's memory cgroup, so they count against the job's memory.
res=$("$S" run --memory 32M --output 300M --stdout "$shm" --wall 30 -- \
  sh -c 'head -c 100000000 /dev/zero')
is "CLI: 100 MB of stdout into a tmpfs file from a 32 MiB job: memory_limit" \
  "$(jget "$res" status)" memory_limit
ok "  the file holds at most the job's memory ($(stat -c %s "$shm") bytes)" \
  test "$(stat -c %s "$shm")" -le $((32 << 20))
rm -f "$shm"
res=$("$S" run --memory 32M --output 300M --stdout "$shm" -- sh -c 'head -c 8000000 /dev/zero')
is "CLI: 8 MB of it: ok" "$(jget "$res" status)" ok
is "  all of it stored" "$(stat -c %s "$shm")" 8000000
ok "  charged to the job (peak $(jget "$res" memory_peak_bytes) >= 8 MB)" \
  test "$(jget "$res" memory_peak_bytes)" -ge 8000000
rm -f "$shm"

# --- The worker ------------------------------------------------------------
redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start c --concurrency 1 --lease 10 --max-result 512M
js=$(SQ submit --json --wait --memory 32M --output 300M --wall 30 -- \
  /bin/sh -c 'head -c 200000000 /dev/zero')
is "worker: 200 MB of stdout from a 32 MiB job (output cap 300M): memory_limit" \
  "$(jget "$js" status)" memory_limit
like "  the message says the output counts" "$(jget "$js" message)" \
  "32 MiB of memory.*its captured output \(.* so far\) counts against that limit"
is "  one attempt: the job's verdict, not sandq's fault" "$(jget "$js" attempts)" 1
js=$(SQ submit --json --wait --memory 64M --output 300M -- /bin/sh -c 'head -c 20000000 /dev/zero')
is "worker: 20 MB of stdout under --memory 64M: ok" "$(jget "$js" status)" ok
is "  all of it kept" "$(jget "$js" stdout_bytes)" 20000000
ok "  charged to the job (peak $(jget "$js" memory_peak_bytes) >= 20 MB)" \
  test "$(jget "$js" memory_peak_bytes)" -ge 20000000

# Inputs (random bytes: zeros would trip the compression-ratio cap).
head -c 40000000 /dev/urandom > "$tmp/big.bin"
head -c 20000000 /dev/urandom > "$tmp/mid.bin"
js=$(SQ submit --json --wait --memory 32M --disk 200M "$tmp/big.bin" -- true)
is "worker: 40 MB of inputs, --memory 32M --disk 200M: rejected" "$(jget "$js" status)" rejected
like "  the message names the memory limit" "$(jget "$js" message)" \
  "do not fit in the memory limit of 32 MiB"
is "  one attempt" "$(jget "$js" attempts)" 1
js=$(SQ submit --json --wait --memory 64M --disk 200M "$tmp/mid.bin" -- true)
is "worker: 20 MB of inputs under --memory 64M: ok" "$(jget "$js" status)" ok
ok "  the unpacked input is charged to the job (peak $(jget "$js" memory_peak_bytes) >= 20 MB)" \
  test "$(jget "$js" memory_peak_bytes)" -ge 20000000
# Just under the memory limit by size, over it with what unpacking needs
# besides: the kernel stops the archive helper's job process (or refuses
# its write), and the job is rejected, never a system_error.
head -c $((32500 << 10)) /dev/urandom > "$tmp/edge"
js=$(SQ submit --json --wait --memory 32M --disk 200M "$tmp/edge" -- true)
is "worker: 32500 KiB of inputs under --memory 32M: rejected" "$(jget "$js" status)" rejected
like "  the message names the memory limit" "$(jget "$js" message)" "memory limit of 32 MiB"
is "  one attempt" "$(jget "$js" attempts)" 1
# The slot is whole afterwards: the next job runs.
js=$(SQ submit --json --wait -- /bin/echo fine)
is "the next job in the slot: ok" "$(jget "$js" status)" ok
rm -f "$shm"
done_testing
