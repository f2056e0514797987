#!/usr/bin/env bash
# UTF-8 file names end to end: the CLI packs an input named in French and
# Chinese, the job sees it under that name, writes out/ files with such
# names, and the result comes back with them. None of it is sandq's fault
# (system_error) nor the input's (rejected).
. "$(dirname "$0")/../lib.sh"
need_root "UTF-8 names"
. "$SANDQ_TOP/tests/queue-lib.sh"
SQ() { "$BIN/sandq" "$@"; }

redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
worker_start u --concurrency 1 --lease 5
in=$Q_DIR/in; mkdir -p "$in/dossier été"
printf 'a\n1\n' > "$in/données é.csv"
printf 'x\n' > "$in/dossier été/数据.txt"
cat > "$in/job.py" <<'PY'
import os
print(sorted(os.listdir(".")))
print(open("données é.csv").read().split()[1], open("dossier été/数据.txt").read().strip())
os.makedirs("out/sous-dossier", exist_ok=True)
open("out/résumé.txt", "w").write("ok\n")
open("out/sous-dossier/données.png", "wb").write(b"\x89PNG")
PY
tar -C "$in" -cf "$in/named.tar" "données é.csv" "dossier été"
js=$(SQ submit --json --wait --result-dir "$Q_DIR/r1" "$in/données é.csv" "$in/dossier été" "$in/job.py" -- /usr/bin/python3 job.py 2>"$Q_DIR/err1")
is "a job with UTF-8 input names and out/ names is ok" "$(jget "$js" status)" ok
[ "$(jget "$js" status)" = ok ] || sed 's/^/#   /' "$Q_DIR/err1"
id=$(jget "$js" id)
like "  the job saw its inputs under their names" "$(SQ logs --stdout "$id")" "données é.csv.*dossier été"
like "  and read them" "$(SQ logs --stdout "$id")" '^1 x$'
is "  out/résumé.txt came back" "$(cat "$Q_DIR/r1/out/résumé.txt" 2>/dev/null)" ok
ok "  out/sous-dossier/données.png came back" test -s "$Q_DIR/r1/out/sous-dossier/données.png"
js=$(SQ submit --json --wait "$in/named.tar" -- /bin/sh -c 'cat "données é.csv" "dossier été/数据.txt"')
is "a tarball with UTF-8 names unpacks" "$(jget "$js" status)" ok
# A command a job names goes back in its message; the terminal gets its
# control characters escaped, never the bytes themselves.
js=$(SQ submit --json --wait -- $'\e]0;pwned\a\e[31mred')
is "a command named with escape sequences: nonzero_exit" "$(jget "$js" status)" nonzero_exit
shown=$(SQ status "$(jget "$js" id)")
like "  sandq status shows them escaped" "$shown" 'x1b\]0;pwned\\x07\\x1b\[31mred'
ok "  and sends no control byte to the terminal" bash -c '! printf %s "$1" | LC_ALL=C grep -q "[[:cntrl:]]" <<<"$(printf %s "$1" | tr -d "\n")"' _ "$shown"

# A name that is not UTF-8 at all is the job's choice: packed as it is.
js=$(SQ submit --json --wait --result-dir "$Q_DIR/r2" -- /usr/bin/python3 -c 'open(b"out/caf\xe9.txt", "w").write("latin1\n")')
is "an out/ name that is not UTF-8 is the job's business: ok" "$(jget "$js" status)" ok
is "  and it comes back byte for byte" "$(cat "$Q_DIR/r2/out/caf"$'\xe9'".txt" 2>/dev/null)" latin1
done_testing
