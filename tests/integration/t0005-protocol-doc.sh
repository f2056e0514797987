#!/usr/bin/env bash
# docs/protocol.md is enough for another client: its script appendix is
# the real code, and a client made of redis-cli, tar and sh that follows
# the document's recipes gets a job run.
. "$(dirname "$0")/../lib.sh"
need_root "protocol doc client"
. "$SANDQ_TOP/tests/queue-lib.sh"
DOC=$SANDQ_TOP/docs/protocol.md

appendix=$(sed -n '/<!-- lua:begin -->/,/<!-- lua:end -->/p' "$DOC" | sed '1d;$d')
is "the doc's script appendix is common/lua, verbatim" \
   "$appendix" "$(cd "$SANDQ_TOP" && scripts/protocol-appendix)"
for s in $(sed -n 's/.*\[SQ_STATUS_[A-Z_]*\] = "\([a-z_]*\)".*/\1/p' "$SANDQ_TOP/common/status.c"); do
  like "the doc lists status $s" "$(cat "$DOC")" "\| \`$s\` \|"
done
for k in job input result pending running delayed dead wake ev stats paused live; do
  like "the doc lists key sandq:{Q}:$k" "$(cat "$DOC")" "sandq:\{Q\}:$k"
done

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start doc --lease 5
Q=docq id=doc-client-1
mkdir -p "$Q_DIR/in" && echo 'from a shell client' > "$Q_DIR/in/note.txt"
tar czf "$Q_DIR/in.tgz" -C "$Q_DIR/in" note.txt
spec='{"version":1,"command":["sh","-c","tr a-z A-Z < note.txt > out/upper.txt; echo done"],"limits":{"wall_ms":10000}}'
now=$(( $(date +%s%N) / 1000000 ))
ttl_ms=3600000 keep_s=600
is "recipe: the id is free" "$(rcli exists "sandq:{$Q}:job:$id")" 0
is "recipe: SET index NX" "$(rcli set "sandq:jobq:$id" "$Q" NX EX $((ttl_ms / 1000 + keep_s + 86400)))" OK
out=$( { printf 'MULTI\n'
  printf 'HSET sandq:{%s}:job:%s id %s queue %s state queued spec %s priority 1 created_at %s expires_at %s attempts 0 reclaims 0 max_attempts 3 keep_s %s input_bytes %s submitter doc fence 0\n' \
    "$Q" "$id" "$id" "$Q" "'$spec'" "$now" $((now + ttl_ms)) "$keep_s" "$(stat -c %s "$Q_DIR/in.tgz")"
  printf 'EXEC\n'; } | rcli)
like "recipe: the job hash is written" "$out" 'OK'
# The input goes in raw with -x (binary-safe), then the rest of the recipe.
is "recipe: SET input" "$(rcli -x set "sandq:{$Q}:input:$id" < "$Q_DIR/in.tgz")" OK
out=$( { printf 'MULTI\n'
  printf 'EXPIRE sandq:{%s}:job:%s %s\n' "$Q" "$id" $((ttl_ms / 1000 + keep_s))
  printf 'EXPIRE sandq:{%s}:input:%s %s\n' "$Q" "$id" $((ttl_ms / 1000 + keep_s))
  printf 'RPUSH sandq:{%s}:pending:1 %s\n' "$Q" "$id"
  printf 'LPUSH sandq:{%s}:wake %s\nLTRIM sandq:{%s}:wake 0 63\n' "$Q" "$id" "$Q"
  printf 'HINCRBY sandq:{%s}:stats submitted 1\nSADD sandq:queues %s\nEXEC\n' "$Q" "$Q"; } | rcli)
like "recipe: queued" "$out" 'OK'
worker_stop doc
worker_start doc2 --queue "$Q" --lease 5
# Wait as the document says.
for _ in $(seq 100); do
  [ "$(rcli hget "sandq:{$Q}:job:$id" state)" = final ] && break
  rcli blpop "sandq:{$Q}:ev:$id" 1 >/dev/null
done
is "recipe: the job is final" "$(rcli hget "sandq:{$Q}:job:$id" state)" final
is "recipe: its status" "$(rcli hget "sandq:{$Q}:job:$id" status)" ok
rcli --raw get "sandq:{$Q}:result:$id" | head -c -1 > "$Q_DIR/result.tgz"
mkdir -p "$Q_DIR/res" && tar xzf "$Q_DIR/result.tgz" -C "$Q_DIR/res"
is "recipe: the result archive extracts" "$(cat "$Q_DIR/res/out/upper.txt")" "FROM A SHELL CLIENT"
is "recipe: result.json" "$(jget "$(cat "$Q_DIR/res/result.json")" status)" ok
is "recipe: stdout" "$(cat "$Q_DIR/res/stdout")" done
is "the sandq CLI finds the job through the index" "$(SQ status --json "$id" | sed 's/.*"queue":"\([^"]*\)".*/\1/')" "$Q"
worker_stop doc2
done_testing
