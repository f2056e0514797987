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
# A stock client: the MCP project's inspector CLI, at the version
# tests/integration/mcp/package-lock.json pins, from the npm registry.
INSP=$SANDQ_TOP/$BUILD/tests/mcp-clients
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  skip "the inspector CLI" "Node.js and npm are not installed (scripts/install-deps)"
else
  mkdir -p "$INSP"
  if ! cmp -s "$SANDQ_TOP/tests/integration/mcp/package-lock.json" "$INSP/package-lock.json" \
     || [ ! -d "$INSP/node_modules/@modelcontextprotocol/inspector-cli" ]; then
    cp "$SANDQ_TOP/tests/integration/mcp/package.json" \
       "$SANDQ_TOP/tests/integration/mcp/package-lock.json" "$INSP/"
    (cd "$INSP" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
      > "$Q_DIR/npm.log" 2>&1
  fi
  I=$INSP/node_modules/@modelcontextprotocol/inspector-cli/build
  if [ ! -f "$I/index.js" ]; then
    t_result 1 "the inspector CLI installs with npm ci"
    sed 's/^/#   /' "$Q_DIR/npm.log" | tail -5
  else
    out=$(cd "$I" && node index.js "$BIN/sandq" mcp --method tools/list 2>&1)
    like "inspector: tools/list" "$out" '"name": "run_python"'
    mkdir -p "$Q_DIR/seed"
    if "$SANDQ_TOP/tests/integration/mcp/seed_chain.sh" "$I" "$BIN/sandq" "$Q_DIR/seed" \
         > "$Q_DIR/seed/log" 2>&1; then
      t_result 0 "inspector: three chained calls ran"
    else
      t_result 1 "inspector: three chained calls ran"
      sed 's/^/#   /' "$Q_DIR/seed/log" | tail -8
    fi
    j() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@" 2>&1; }
    like "inspector: load read the messy CSV" "$(j "$Q_DIR/seed/1.json" 'd["content"][0]["text"]')" '8 rows'
    like "inspector: clean fixed the dates and amounts (one row without an amount dropped)" \
      "$(j "$Q_DIR/seed/2.json" 'd["content"][0]["text"]')" '7 clean rows'
    like "inspector: plot ran on the cleaned data, chained" \
      "$(j "$Q_DIR/seed/3.json" 'd["content"][0]["text"]')" 'trend over 7 days'
    is "inspector: the plot came back as a PNG image" \
      "$(j "$Q_DIR/seed/3.json" '[c["mimeType"] for c in d["content"] if c["type"] == "image"]')" "['image/png']"
    is "inspector: ... a real PNG" \
      "$(j "$Q_DIR/seed/3.json" '__import__("base64").b64decode([c["data"] for c in d["content"] if c["type"] == "image"][0])[:4]')" "b'\\x89PNG'"
  fi
fi

# The example gateway's tool loop, with its scripted model.
out=$("$PY" "$SANDQ_TOP/examples/mcp-gateway/gateway.py" --sandq "$BIN/sandq" \
      --out "$Q_DIR/gw" 2>/dev/null)
is "examples/mcp-gateway runs its three turns (exit 0)" "$?" 0
like "... and the model's last answer comes" "$out" 'model: The trend is plotted'
is "... with the plot saved from the image content" "$(head -c 4 "$Q_DIR/gw/image-2.png" | od -An -c | tr -d ' ')" '211PNG'

out=$(SQ mcp --help)
like "mcp --help" "$out" 'usage: sandq mcp'
out=$(SQ mcp extra 2>&1)
is "mcp takes no arguments (exit 2)" "$?" 2
done_testing
