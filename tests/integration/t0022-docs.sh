#!/usr/bin/env bash
# The man pages, the shell completion and the example configs agree with
# the programs: every option a program's --help names is in its man page,
# each page renders cleanly, and the shipped configs load.
. "$(dirname "$0")/../lib.sh"
M=$SANDQ_TOP/man
for f in "$SANDQ_TOP/$BUILD"/man/*; do
  out=$(MANWIDTH=80 man --warnings=all -l "$f" 2>&1 >/dev/null)
  is "man page $(basename "$f") renders without warnings" "$out" ""
done
is "five man pages" "$(ls "$SANDQ_TOP/$BUILD"/man | wc -l)" 5

missing() { # SCD PROGRAM [ARGS]: options of --help missing from the page
  local scd=$1; shift
  for o in $("$@" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -qF -- "*$o*" "$scd" || grep -qF -- "$o" "$scd" || echo "$o"
  done | tr '\n' ' '
}
is "sandq-worker(8) names every option of --help" "$(missing "$M/sandq-worker.8.scd" "$BIN/sandq-worker")" ""
is "sandq-sandbox(1) names every option of --help" "$(missing "$M/sandq-sandbox.1.scd" "$BIN/sandq-sandbox")" ""
for cmd in submit status wait result logs cancel stats dead workers drain pause resume mcp acl keygen; do
  is "sandq(1) names every option of sandq $cmd --help" "$(missing "$M/sandq.1.scd" "$BIN/sandq" "$cmd")" ""
  like "sandq(1) describes sandq $cmd" "$(cat "$M/sandq.1.scd")" "^\*$cmd\*"
done
for cmd in $("$BIN/sandq" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p'); do
  like "sandq --help's $cmd is in the completion" "$(cat "$SANDQ_TOP/completion/sandq.bash")" "cmds=.*\b$cmd\b"
done

# Every option the documents name is one of sandq's programs' (their
# --help), or one of another tool's, listed here with the tool.
foreign=" --target --prefix --offline --raw --now --failed --scope --unshare-all \
 --method --tool-name --tool-arg "  # pip, pip, systemd-analyze, redis-cli,
# systemctl, systemctl, systemd-run, bwrap, MCP Inspector (three)
ours=$( (for c in submit status wait result logs cancel stats dead workers drain pause resume mcp acl keygen
         do "$BIN/sandq" "$c" --help; done
         "$BIN/sandq" --help; "$BIN/sandq-worker" --help; "$BIN/sandq-sandbox" --help
         "$SANDQ_TOP/systemd/sandq-nightly" --help; "$SANDQ_TOP/scripts/install-deps" --help
         "$SANDQ_TOP/scripts/demo" --help) 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
for f in "$SANDQ_TOP"/README.md "$SANDQ_TOP"/docs/*.md "$M"/*.scd; do
  bad=$(grep -oE -- '(^|[ `(*])--[a-z][a-z0-9-]+' "$f" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u |
        while read -r o; do
          grep -qx -- "$o" <<< "$ours" || [[ $foreign == *" $o "* ]] || echo "$o"
        done | tr '\n' ' ')
  is "$(basename "$f"): every option it names exists" "$bad" ""
done
for s in install-deps demo; do
  like "scripts/$s --help says what it does" "$("$SANDQ_TOP/scripts/$s" --help)" '^[A-Z]'
done

# The completion, as bash runs it.
comp() { bash -c '. "$0"; PATH=$1:$PATH; shift
  COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  f=$(complete -p "$1" | sed "s/.*-F \([^ ]*\).*/\1/"); $f; echo "${COMPREPLY[*]}"' \
  "$SANDQ_TOP/completion/sandq.bash" "$BIN" "$@"; }
is "completion: sandq su -> submit" "$(comp sandq su)" submit
is "completion: sandq submit --inp -> --input-from" "$(comp sandq submit --inp)" --input-from
is "completion: sandq dead <TAB>" "$(comp sandq dead '')" "list show retry purge"
is "completion: sandq-worker --conc" "$(comp sandq-worker --conc)" --concurrency

# The shipped configs load: a configuration error would exit 2 before
# Redis is tried (here it is not there: the worker waits for it, and is
# stopped after 3 s).
out=$(timeout 3 "$BIN/sandq-worker" --config "$SANDQ_TOP/systemd/sandq.conf.example" \
      --redis unix:///nonexistent/redis.sock 2>&1)
rc=$?
[ "$rc" -ne 2 ]; t_result $? "sandq.conf.example loads (exit $rc, not a configuration error)"
unlike "... with no complaint about its lines" "$out" 'unknown option|invalid'
sed -n '/^# EXAMPLE/,/^# SEE ALSO/p' "$M/sandq.conf.5.scd" | sed '1,/^```$/d;/^```$/,$d' \
  > "${TMPDIR:-/tmp}/sandq-man-example.$$.conf"
out=$(timeout 3 "$BIN/sandq-worker" --config "${TMPDIR:-/tmp}/sandq-man-example.$$.conf" \
      --redis unix:///nonexistent/redis.sock 2>&1)
rc=$?
rm -f "${TMPDIR:-/tmp}/sandq-man-example.$$.conf"
[ "$rc" -ne 2 ]; t_result $? "sandq.conf(5)'s example loads (exit $rc)"
unlike "... with no complaint" "$out" 'unknown option|invalid'
# The README's first command, end to end. It builds into build/, so it
# runs here when that is the build under test (make check's).
if [ "$BUILD" = build ] && [ "$(id -u)" -eq 0 ]; then
  before=$(ls -d /tmp/sandq-demo.* 2>/dev/null)
  out=$(cd "$SANDQ_TOP" && make -s demo 2>&1)
  is "make demo: exit 0" "$?" 0
  like "... names how the worker confines jobs" "$out" "== worker: cgroup v[12]"
  like "... prints the verdict" "$out" $'\nstatus +ok\n'
  like "... and the result" "$out" '"rows_in": 8,'
  is "... and leaves no directory or redis-server behind" \
     "$(ls -d /tmp/sandq-demo.* 2>/dev/null; pgrep -af 'redis-server .*sandq-demo')" "$before"
else
  skip "make demo" "it builds into build/, and this run tests $BUILD"
fi
done_testing
