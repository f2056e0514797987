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

out=$(SQ submit --queue interactive --wall 1h --ttl 2d -- true 2>&1)
is "durations take h and d" "$?" 0
out=$(SQ submit --wall 1w -- true 2>&1)
like "an unknown suffix names the ones there are" "$out" "unknown suffix 'w' \(use ms, s, m, h or d\)"
done_testing
