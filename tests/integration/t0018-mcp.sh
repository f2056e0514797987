#!/usr/bin/env bash
# sandq mcp: an MCP session against a real worker (tests/integration/mcp/).
. "$(dirname "$0")/../lib.sh"
need_root "sandq mcp"
. "$SANDQ_TOP/tests/queue-lib.sh"
redis_start
worker_start mcp1 --concurrency 2
out=$(timeout 300 "$PY" "$SANDQ_TOP/tests/integration/mcp/session.py" "$BIN/sandq" 2>&1)
while IFS= read -r l; do
  case "$l" in
    "ok "*) t_result 0 "${l#ok }" ;;
    "not ok "*) t_result 1 "${l#not ok }" ;;
  esac
done <<< "$out"
like "the session ran to its end" "$(tail -1 <<< "$out")" '^done [0-9]+$'
# Jobs the client cancelled, or left running, end cancelled in Redis.
wait_for 10 '[ "$(for k in $(rcli --scan --pattern "sandq:{default}:job:*"); do rcli hget "$k" status; done | grep -c cancelled)" = 2 ]'
is "both abandoned jobs end cancelled" \
  "$(for k in $(rcli --scan --pattern 'sandq:{default}:job:*'); do rcli hget "$k" status; done | grep -c cancelled)" 2
out=$(SQ mcp --help)
like "mcp --help" "$out" 'usage: sandq mcp'
out=$(SQ mcp extra 2>&1)
is "mcp takes no arguments (exit 2)" "$?" 2
done_testing
