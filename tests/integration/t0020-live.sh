#!/usr/bin/env bash
# Live output: a running job's stdout and stderr are published as they
# come (capped, expiring); sandq logs -f follows them to the verdict,
# sandq wait shows them on a terminal, submit --wait shows the stderr's
# end when the verdict is not ok.
. "$(dirname "$0")/../lib.sh"
need_root "live output"
. "$SANDQ_TOP/tests/queue-lib.sh"
redis_start
worker_start lv --concurrency 2

id=$(SQ submit -- sh -c 'echo first; echo first-err >&2; sleep 3; echo second; exit 3')
SQ logs -f "$id" > "$Q_DIR/o" 2> "$Q_DIR/e" &
lp=$!
wait_for 10 'grep -q first "$Q_DIR/o"'
is "logs -f: the first line arrives while the job runs" \
  "$(cat "$Q_DIR/o") $(job_field "$id" state)" "first running"
ttl=$(rcli ttl "sandq:{default}:live:$id")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 3600 ]; t_result $? "the live stream expires within an hour ($ttl s)"
like "logs -f: ... and its stderr on stderr" "$(cat "$Q_DIR/e")" 'first-err'
wait $lp
is "logs -f: the exit status is the verdict's" "$?" 1
is "logs -f: the whole stdout, once" "$(cat "$Q_DIR/o")" "first
second"
is "logs -f: the whole stderr, once" "$(cat "$Q_DIR/e")" "first-err"
is "... and goes with the verdict" "$(rcli exists "sandq:{default}:live:$id")" 0

# More than the live cap: the stream stops at 1 MiB with a marker, and
# logs -f still prints everything, from the result.
id=$(SQ submit -- sh -c 'head -c 1500000 /dev/zero | tr "\0" a; sleep 4; echo; echo tail')
SQ logs -f --stdout "$id" > "$Q_DIR/big" 2>/dev/null &
lp=$!
wait_for 10 '[ -n "$(rcli --raw xrange "sandq:{default}:live:$id" - + | grep -x x)" ]'
rcli --raw xrange "sandq:{default}:live:$id" - + > "$Q_DIR/stream"
live=$(grep -c '^d$' "$Q_DIR/stream")
bytes=$(awk 'p {n += length($0) + 0; p = 0} /^d$/ {p = 1} END {print n + 0}' "$Q_DIR/stream")
[ "$bytes" -le 1048576 ] && [ "$bytes" -ge 500000 ]
t_result $? "the live stream holds at most 1 MiB ($bytes bytes in $live pieces)"
like "... and says the rest was not published" "$(grep -x x "$Q_DIR/stream")" '^x$'
wait $lp
is "logs -f: past the live cap, the whole output comes (from the result)" \
  "$(wc -c < "$Q_DIR/big")" 1500006

# A job that prints nothing publishes nothing.
id=$(SQ submit -- sleep 1.5); SQ wait "$id" >/dev/null
is "a silent job has no live stream" "$(rcli exists "sandq:{default}:live:$id")" 0
out=$(SQ logs -f "$id" 2>&1)
is "logs -f on a finished job prints its (empty) output and exits 0" "$?:$out" "0:"
out=$(SQ logs -f nosuchjob 2>&1)
is "logs -f on no such job: exit 4" "$?" 4
out=$(SQ logs -f --json "$id" 2>&1)
is "logs -f --json is a usage error" "$?" 2

# submit --wait: the end of stderr when the verdict is not ok.
SQ submit --wait -- sh -c 'echo "Traceback: boom" >&2; exit 1' > "$Q_DIR/w.out" 2> "$Q_DIR/w.err"
like "submit --wait: a failed job's stderr is shown" "$(cat "$Q_DIR/w.err")" "the job's stderr:.*
  Traceback: boom"
SQ submit --wait -- sh -c 'echo fine >&2' > /dev/null 2> "$Q_DIR/w2.err"
unlike "submit --wait: not for an ok job" "$(cat "$Q_DIR/w2.err")" "the job's stderr"

# sandq wait on a terminal shows the output as it comes.
if command -v script >/dev/null; then
  id=$(SQ submit -- sh -c 'sleep 1; echo on-the-terminal; sleep 1.5')
  out=$(SANDQ_REDIS_URL=$SANDQ_REDIS_URL script -qec "$BIN/sandq wait $id" /dev/null 2>&1)
  like "wait on a terminal shows the running job's output" "$out" 'on-the-terminal'
  out=$(SQ wait "$id" 2>&1)
  unlike "wait not on a terminal does not" "$out" 'on-the-terminal'
else
  skip "wait on a terminal" "script (util-linux) is not installed"
fi
done_testing
