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
done_testing
