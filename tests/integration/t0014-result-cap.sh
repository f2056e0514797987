#!/usr/bin/env bash
# A job's output cap above the worker's result cap: the job is held to
# what fits and gets output_limit with a message naming both caps, never a
# result too large to keep (system_error, retried, dead-lettered).
. "$(dirname "$0")/../lib.sh"
need_root "result cap"
. "$SANDQ_TOP/tests/queue-lib.sh"
SQ() { "$BIN/sandq" "$@"; }

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start c --concurrency 1 --lease 5 --max-result 4M
js=$(SQ submit --json --wait --output 100M -- /bin/sh -c 'head -c 12000000 /dev/urandom')
is "12 MB of stdout, --output 100M, a 4 MiB result cap: output_limit" "$(jget "$js" status)" output_limit
like "  the message names both caps" "$(jget "$js" message)" "allowed 100(\.0)? ?Mi?B.*result cap of 4(\.0)? ?Mi?B"
is "  one attempt" "$(jget "$js" attempts)" 1
js=$(SQ submit --json --wait --output 100M -- /bin/sh -c 'head -c 2000000 /dev/urandom')
is "2 MB of stdout under the same caps: ok" "$(jget "$js" status)" ok
is "  all of it kept" "$(jget "$js" stdout_bytes)" 2000000
# Whatever a worker packs, the client extracts: many files, deep paths,
# and output that compresses a thousandfold.
js=$(SQ submit --json --wait --result-dir "$Q_DIR/many" -- /usr/bin/python3 -c '
import os
for i in range(12000): open("out/f%05d" % i, "w").close()
p = "out/" + "/".join("d%d" % i for i in range(40)); os.makedirs(p); open(p + "/deep", "w").write("deep")
open("out/zeros", "wb").write(bytes(3 << 20))')
is "12000 files, 40 levels, 3 MiB of zeros in out/: ok" "$(jget "$js" status)" ok
is "  the client extracted every file" "$(find "$Q_DIR/many/out" -type f | wc -l)" 12002
is "  the deepest one too" "$(cat "$Q_DIR/many/out/$(printf 'd%d/' $(seq 0 39))deep" 2>/dev/null)" deep
done_testing
