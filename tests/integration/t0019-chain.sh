#!/usr/bin/env bash
# Chained jobs: a finished job's out/ as the next job's input, straight
# from Redis (sandq submit --input-from), and its limits.
. "$(dirname "$0")/../lib.sh"
need_root "chained jobs"
. "$SANDQ_TOP/tests/queue-lib.sh"
redis_start
worker_start ch1 --concurrency 2
run() { local id; id=$(SQ submit "$@") || return 1; SQ wait "$id" >/dev/null; echo "$id"; }

a=$(run -- sh -c 'mkdir -p out/plots; printf "d,v\n1,2\n" > out/data.csv; echo p > out/plots/p.txt; echo secret > notout.txt')
is "the first job is ok" "$(job_field "$a" status)" ok
b=$(run --input-from "$a" -- sh -c 'find . -type f | sort; cat data.csv')
is "a job with the first one's out/ as input is ok" "$(job_field "$b" status)" ok
got=$(SQ logs --stdout "$b")
like "its out/ is in /work as it was under out/" "$got" './data.csv'
like "... subdirectories too" "$got" './plots/p.txt'
like "... with the same bytes" "$got" 'd,v'
unlike "... and nothing from outside out/" "$got" 'notout|stdout|stderr|result.json'
c=$(run --input-from "$a:plots" -- sh -c 'find . -type f | sort')
got=$(SQ logs --stdout "$c")
like "ID:PATH takes only out/PATH" "$got" '^./plots/p.txt$'
d=$(run --input-from "$a:data.csv" --input-from "$c" -- sh -c 'ls; cat data.csv')
like "a single file, and two earlier jobs at once" "$(SQ logs --stdout "$d")" 'd,v'

# Files of the new job's own input and a chained one under one name: refused.
echo mine > "$Q_DIR/data.csv"
e=$(run --input-from "$a" "$Q_DIR/data.csv" -- cat data.csv)
is "the same name twice is rejected" "$(job_field "$e" status)" rejected
like "... naming the entry" "$(job_field "$e" message)" "data.csv"

# Limits: the chained files count against the new job's disk.
big=$(run -- sh -c 'mkdir out; head -c 3000000 /dev/zero > out/big')
f=$(run --disk 2M --input-from "$big" -- true)
is "a chained input over the job's disk is rejected" "$(job_field "$f" status)" rejected
like "... with the limit named" "$(job_field "$f" message)" 'limit'

out=$(SQ submit --input-from nosuchjob -- true 2>&1)
is "an unknown job is exit 4" "$?" 4
like "... naming it" "$out" "no job 'nosuchjob'"
out=$(SQ submit --queue other --input-from "$a" -- true 2>&1)
is "a job of another queue is a usage error" "$?" 2
like "... that says so" "$out" "is in queue 'default'"
out=$(SQ submit --input-from "$a:../x" -- true 2>&1)
is "a path with .. is refused" "$?" 2
running=$(SQ submit -- sleep 5)
out=$(SQ submit --input-from "$running" -- true 2>&1)
like "a job without a result yet is refused" "$out" 'has no result yet'
ttl=$(rcli ttl "sandq:{default}:result:$a")
[ "$ttl" -gt 86400 ]; t_result $? "the earlier result is kept while jobs may use it ($ttl s)"

# A spec naming a result that is gone: rejected by the worker.
rcli del "sandq:{default}:result:$a" >/dev/null
g=$(run --input-from "$c" -- true)
rcli del "sandq:{default}:result:$c" >/dev/null
raw='{"version":1,"command":["true"],"inputs":[{"job":"'"$c"'"}]}'
rcli hset "sandq:{default}:job:raw1" id raw1 queue default state queued spec "$raw" \
  priority 1 created_at 1 expires_at 99999999999999 attempts 0 reclaims 0 \
  max_attempts 3 keep_s 600 fence 0 >/dev/null
rcli rpush 'sandq:{default}:pending:1' raw1 >/dev/null
rcli lpush 'sandq:{default}:wake' raw1 >/dev/null
wait_for 10 '[ "$(job_field raw1 state)" = final ]'
is "a chained result gone by run time: rejected" "$(job_field raw1 status)" rejected
like "... saying so" "$(job_field raw1 message)" "spec.inputs\[0\]: job '$c' of queue 'default' has no result"
done_testing
