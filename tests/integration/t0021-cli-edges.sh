#!/usr/bin/env bash
# The rough edges a newcomer hits with the CLI, each mended: a queue no
# worker serves, a result directory that is not empty, where Redis is
# found, durations.
. "$(dirname "$0")/../lib.sh"
need_root "CLI edges"
. "$SANDQ_TOP/tests/queue-lib.sh"
redis_start

out=$(SQ submit -- true 2>&1 >/dev/null)
like "submit with no worker at all: a warning" "$out" "no live worker at all; the job waits in queue 'default'"
worker_start e1 --queue interactive,bulk
out=$(SQ submit -- true 2>&1 >/dev/null)
like "submit to a queue no live worker serves: a warning naming what they serve" "$out" \
  "no live worker serves queue 'default' \(they serve: interactive, bulk\)"
out=$(SQ submit --queue interactive -- true 2>&1 >/dev/null)
is "submit to a served queue: no warning" "$out" ""
like "sandq workers shows the queues" "$(SQ workers)" 'QUEUES.*
.*interactive,bulk'

id=$(SQ submit --queue interactive --wait --result-dir "$Q_DIR/res" -- sh -c 'echo hi' 2>/dev/null | sed -n 's/^id *//p')
is "submit --wait --result-dir: the result is there" "$(cat "$Q_DIR/res/stdout")" hi
before=$(rcli hget 'sandq:{interactive}:stats' submitted)
out=$(SQ submit --queue interactive --wait --result-dir "$Q_DIR/res" -- sh -c 'echo again' 2>&1)
is "the same command again: exit 2, before anything runs" "$?" 2
like "... saying the directory is not empty" "$out" "result-dir '$Q_DIR/res' is not empty"
is "... and nothing was submitted" "$(rcli hget 'sandq:{interactive}:stats' submitted)" "$before"
out=$(SQ result --queue interactive --result-dir "$Q_DIR/res" "$id" 2>&1)
is "sandq result into a directory that is not empty: exit 2" "$?" 2
is "... and the earlier result is untouched" "$(cat "$Q_DIR/res/stdout")" hi
mkdir "$Q_DIR/empty"
SQ result --queue interactive --result-dir "$Q_DIR/empty" "$id" >/dev/null
is "an empty directory is fine" "$(cat "$Q_DIR/empty/stdout")" hi

# One vocabulary: pause and resume take --queue (or the queue alone).
like "pause --queue Q" "$(SQ pause --queue bulk)" '^bulk: paused$'
is "... the queue is paused" "$(rcli exists 'sandq:{bulk}:paused')" 1
like "resume Q" "$(SQ resume bulk)" '^bulk: resumed$'
out=$(SQ pause --queue nosuchqueue 2>&1)
is "pause of a queue nobody knows: exit 4" "$?" 4
like "... saying why" "$out" "queue 'nosuchqueue': unknown"
is "... and nothing is paused" "$(rcli exists 'sandq:{nosuchqueue}:paused')" 0
out=$(SQ pause 2>&1); is "pause without a queue: exit 2" "$?" 2

# The jobs sandq workers lists, as QUEUE/ID, are what the other commands take.
id=$(SQ submit --queue interactive -- sleep 2 2>/dev/null)
wait_for 10 '[ "$(SQ workers --json | grep -c "interactive/$id")" = 1 ]'
qid=$("$PY" -c 'import json,sys; print([j for w in json.load(sys.stdin) for j in w["jobs"]][0])' \
      <<< "$(SQ workers --json)")
is "workers --json names the running job QUEUE/ID" "$qid" "interactive/$id"
SQ wait "$qid" >/dev/null
is "wait takes QUEUE/ID" "$?" 0
like "status takes QUEUE/ID" "$(SQ status "$qid")" 'status +ok'
out=$(SQ status --queue bulk "$qid" 2>&1)
is "a QUEUE/ID against another --queue: exit 2" "$?" 2

# --json output has its keys in one order, whatever Redis's.
for cmd in "status --queue interactive $id" "stats" "workers"; do
  js=$(SQ $cmd --json)
  "$PY" -c 'import json,sys
def ok(v):
    if isinstance(v, dict):
        return list(v) == sorted(v) and all(ok(x) for x in v.values())
    if isinstance(v, list):
        return all(ok(x) for x in v)
    return True
sys.exit(0 if ok(json.loads(sys.argv[1])) else 1)' "$js"
  t_result $? "$cmd --json: keys sorted"
done

# Limits over what the queue's workers accept are refused before queueing.
before=$(rcli hget 'sandq:{interactive}:stats' submitted)
out=$(SQ submit --queue interactive --memory 1000G -- true 2>&1)
is "submit --memory 1000G: exit 2" "$?" 2
like "... naming the limit and the workers' cap" "$out" \
  "submit: --memory 1000 GiB: more than the workers of queue 'interactive' accept; ask for at most 8 GiB"
is "... and nothing was queued" "$(rcli hget 'sandq:{interactive}:stats' submitted)" "$before"
like "the worker publishes its caps" "$(rcli hget "sandq:worker:e1" caps)" '^memory_bytes=[0-9]+,'

out=$(SQ submit --queue interactive --wall 1h --ttl 2d -- true 2>&1)
is "durations take h and d" "$?" 0
out=$(SQ submit --wall 1w -- true 2>&1)
like "an unknown suffix names the ones there are" "$out" "unknown suffix 'w'; use ms, s, m, h or d"

# An ID the queue does not hold: the same answer from status, wait and result.
for cmd in "status" "wait" "result --result-dir $Q_DIR/none"; do
  out=$(SQ $cmd --queue interactive no-such-job 2>&1)
  is "$cmd of an unknown job: exit 4" "$?" 4
  is "... saying where it looked" "$out" \
    "sandq: job 'no-such-job': not in queue 'interactive'; it may have expired, or be in another queue (--queue)"
done

# Long work shows a progress line on a terminal: packing then uploading,
# each with its rate and time; nothing of it when stderr is not one.
head -c 3M /dev/urandom > "$Q_DIR/p1.bin"
mkdir -p "$Q_DIR/pdir" && cp "$Q_DIR/p1.bin" "$Q_DIR/pdir/a" && cp "$Q_DIR/p1.bin" "$Q_DIR/pdir/b"
out=$(script -qfec "$(printf '%q ' "$BIN/sandq" --redis "unix://$REDIS_SOCK" submit \
      --queue interactive "$Q_DIR/pdir" -- true)" /dev/null | tr '\r' '\n')
like "on a terminal: a packing phase, of the inputs' 6 MiB" "$out" '^packing +6 MiB of 6 MiB +\[#+\] 100%'
like "... with its rate and time" "$out" '^packing .*100%  [0-9.]+ [KMG]?i?B/s  in [0-9.]+s'
like "... then an uploading phase with its rate" "$out" '^uploading .* 100%  [0-9.]+ [KMG]?i?B/s  in [0-9.]+s'
out=$(SQ submit --queue interactive "$Q_DIR/pdir" -- true 2>&1 >/dev/null)
unlike "not on a terminal: no progress line" "$out" 'packing|uploading'
done_testing
