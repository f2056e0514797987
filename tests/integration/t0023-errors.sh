#!/usr/bin/env bash
# One error style across the programs. Every refusal is a single line
#   PROGRAM: WHAT: WHY; WHAT TO DO
# with the documented exit status, whether it comes from sandq, sandq-worker,
# sandq-sandbox or sandq-nightly (whose lines carry a journald priority).
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
NORED=unix://$T/no-redis.sock
touch "$T/job.py"
mkdir -p "$T/full" && touch "$T/full/x"

# check RC PROGRAM ARG...: exit RC, one line on stderr in the house style.
check() {
  local want=$1 prog=$2; shift 2
  local err rc
  err=$(cd "$T" && timeout 10 "$prog" "$@" 2>&1 >/dev/null)
  rc=$?
  local name
  name="$(basename "$prog") $*"
  is "$name: exit $want" "$rc" "$want"
  is "$name: one line" "$(printf '%s\n' "$err" | wc -l)" 1
  like "$name: PROGRAM: WHAT: WHY; WHAT TO DO" "$(printf '%s' "$err" | sed 's/^<[0-9]>//')" \
    "^$(basename "$prog")( [a-z]+)?: [^;]+: [^;]+; [^;].*[^.]$"
}

S=$BIN/sandq
check 2 "$S" frob
check 2 "$S" --nope status x
check 2 "$S" submit --nope -- true
check 2 "$S" submit
check 2 "$S" submit job.py
check 2 "$S" submit --memory 12Q -- true
check 2 "$S" submit --wall 3x -- true
check 2 "$S" submit --priority urgent -- true
check 2 "$S" submit --queue 'a/b' -- true
check 2 "$S" submit --id '-x' -- true
check 2 "$S" submit --env NOEQUALS -- true
check 2 "$S" submit missing.csv -- true
check 2 "$S" submit --result-dir full -- true
check 2 "$S" submit --result-dir "$T/r" -- true
check 2 "$S" status
check 2 "$S" status a b
check 2 "$S" status 'bad id!'
check 2 "$S" stats extra
check 2 "$S" dead
check 2 "$S" dead frob
check 2 "$S" pause
check 2 "$S" logs -f --json x
check 2 "$S" result x
check 2 "$S" --redis ftp://nowhere status x
check 3 "$S" --redis "$NORED" status x
check 2 "$S" mcp extra
check 2 "$S" --redis 'redis://u:hunter2@localhost:notaport' status x
err=$("$S" --redis 'redis://u:hunter2@localhost:notaport' status x 2>&1)
unlike "a bad URL's error keeps its password out" "$err" hunter2
like "... and names the rest of it" "$err" "redis://\*\*\*@localhost:notaport"

W=$BIN/sandq-worker
check 2 "$W" --nope
check 2 "$W" --concurrency
check 2 "$W" --concurrency x
check 2 "$W" --config "$T/none.conf"
check 2 "$W" --lease 0
check 2 "$W" --memory 12Q
check 2 "$W" --queue 'a/b'
check 2 "$W" --log-level loud
check 2 "$W" --redis ftp://nowhere
check 2 "$W" extra
printf 'concurrency = 2\nfrobnicate = 1\n' > "$T/bad.conf"
check 2 "$W" --config "$T/bad.conf"

X=$BIN/sandq-sandbox
check 2 "$X"
check 2 "$X" frob
check 2 "$X" --memory 12Q -- true
check 2 "$X" run --nope -- /bin/true
check 2 "$X" run --memory 12Q -- /bin/true
check 2 "$X" run
check 2 "$X" run --env NOEQUALS -- /bin/true
check 2 "$X" run --dir "$T/none" -- /bin/true
check 2 "$X" run --stdin "$T/none" -- /bin/true
check 2 "$X" info --nope

N=$SANDQ_TOP/systemd/sandq-nightly
check 2 "$N"
check 2 "$N" --nope
check 2 "$N" "$T/none.conf"
printf 'results = %s\n' "$T" > "$T/nocmd.conf"
check 2 "$N" "$T/nocmd.conf"
done_testing
