#!/usr/bin/env bash
# Roles as Redis ACL users (sandq acl): a worker, an operator and two
# teams against a real redis-server with the rules loaded. Each role can
# do what it should and nothing else.
. "$(dirname "$0")/../lib.sh"
need_root "Redis ACL roles"
. "$SANDQ_TOP/tests/queue-lib.sh"
unset SANDQ_REDIS_URL
S=$Q_DIR/secrets

# ---- sandq acl refuses what it cannot make rules of.
err=$(SQ acl --team alpha=a 2>&1); is "acl without --secrets: exit 2" "$?" 2
like "and says --secrets is required" "$err" '--secrets DIR is required'
err=$(SQ acl --secrets "$S" --team 'al pha=a' 2>&1); is "a bad team name: exit 2" "$?" 2
like "the bad team is named" "$err" "team name: use 1-48"
err=$(SQ acl --secrets "$S" --team alpha=a --team beta=a 2>&1); is "a queue of two teams: exit 2" "$?" 2
like "the shared queue is named" "$err" "queue 'a' is already team 'alpha''s"
err=$(SQ acl --secrets "$S" --team 'alpha=a}b' 2>&1); is "a queue name with '}': exit 2" "$?" 2
err=$(SQ acl --secrets "$S" --team operator=x 2>&1); is "a team named like a role: exit 2" "$?" 2

# ---- The rules: two teams, the operator and the worker.
SQ acl --secrets "$S" --team alpha=alpha,alpha-night --team beta=beta > "$Q_DIR/users.acl"
is "acl prints the rules" "$?" 0
is "each user has a password file of mode 0600" \
  "$(stat -c '%a %n' "$S"/* | sort | sed "s|$S/||" | tr '\n' ' ')" \
  "600 sandq-alpha 600 sandq-beta 600 sandq-operator 600 sandq-worker "
unlike "no password is printed" "$(cat "$Q_DIR/users.acl")" "$(cat "$S/sandq-alpha")"
like "the default user is off" "$(cat "$Q_DIR/users.acl")" '^user default off'
SQ acl --secrets "$S" --team alpha=alpha,alpha-night --team beta=beta > "$Q_DIR/again.acl"
is "a second run keeps the passwords" "$(cmp "$Q_DIR/users.acl" "$Q_DIR/again.acl" && echo same)" same
j=$(SQ acl --json --secrets "$S" --team alpha=alpha,alpha-night --team beta=beta)
is "--json lists each user's role" "$(jget "$j" users.3.user) $(jget "$j" users.3.role) $(jget "$j" users.3.queues.0)" \
  "sandq-beta submitter beta"
cp "$S/sandq-beta" "$Q_DIR/beta.pw"; : > "$S/sandq-beta"
err=$(SQ acl --secrets "$S" --team beta=beta 2>&1); is "an empty password file: exit 2" "$?" 2
like "the file is named, and what to do" "$err" "sandq-beta': empty; write the password on its first line, or remove the file to have one made"
printf '  %s  \n' "$(cat "$Q_DIR/beta.pw")" > "$S/sandq-beta"
SQ acl --secrets "$S" --team alpha=alpha,alpha-night --team beta=beta > "$Q_DIR/spaced.acl"
is "a password file is read as the clients read it (spaces trimmed)" "$(cmp "$Q_DIR/users.acl" "$Q_DIR/spaced.acl" && echo same)" same
ADMINPW=admin-$RANDOM$RANDOM
echo "user admin on >$ADMINPW ~* &* +@all" >> "$Q_DIR/users.acl"
redis_start --aclfile "$Q_DIR/users.acl" || { t_result 1 "redis-server loads the rules"; done_testing; exit 1; }
t_result 0 "redis-server loads the rules"
rcli() { redis-cli -s "$REDIS_SOCK" --user admin --pass "$ADMINPW" --no-auth-warning "$@"; }
# as USER CMD...: redis-cli logged in as sandq-USER.
as() { local u=sandq-$1; shift; redis-cli -s "$REDIS_SOCK" --user "$u" --pass "$(cat "$S/$u")" --no-auth-warning "$@"; }
for who in worker operator alpha beta; do
  printf 'redis_url = unix://%s\nredis_user = sandq-%s\nredis_password_file = %s/sandq-%s\n' \
    "$REDIS_SOCK" "$who" "$S" "$who" > "$Q_DIR/$who.conf"
done
A() { SANDQ_CONFIG=$Q_DIR/alpha.conf SANDQ_QUEUE=alpha "$BIN/sandq" "$@"; }
B() { SANDQ_CONFIG=$Q_DIR/beta.conf SANDQ_QUEUE=beta "$BIN/sandq" "$@"; }
O() { SANDQ_CONFIG=$Q_DIR/operator.conf "$BIN/sandq" "$@"; }

is "without a login nothing is allowed" "$(redis-cli -s "$REDIS_SOCK" get x 2>&1 | cut -c1-6)" NOAUTH

# Before any worker: Redis holds no script, and a submitter may not load one.
err=$(A submit -- true 2>&1); is "a submitter before any worker: exit 6" "$?" 6
like "and it is told a worker loads the scripts" "$err" "may not load it \(SCRIPT LOAD\); a worker loads them"

worker_start acl --config "$Q_DIR/worker.conf" --queue alpha,alpha-night,beta --concurrency 2 \
  || { t_result 1 "a worker starts under its role"; done_testing; exit 1; }
t_result 0 "a worker starts under its role"

# ---- A team runs jobs in its queues.
ida=$(A submit -- sh -c 'echo alpha-data; mkdir -p out; echo alpha-secret > out/a.txt')
is "alpha submits" "$?" 0
A wait --timeout 30 "$ida" > /dev/null; is "the worker runs alpha's job under its role" "$?" 0
is "alpha reads its logs" "$(A logs --stdout "$ida")" alpha-data
A result --result-dir "$Q_DIR/ra" "$ida" > /dev/null; is "alpha fetches its result" "$?" 0
is "and the result is right" "$(cat "$Q_DIR/ra/out/a.txt")" alpha-secret
A submit --queue alpha-night --wait -- true > /dev/null 2>&1; is "alpha uses its second queue" "$?" 0
idch=$(A submit --input-from "$ida" -- cat a.txt); A wait --timeout 30 "$idch" > /dev/null
is "alpha chains its own job's result (without the id index)" "$(A logs --stdout "$idch")" alpha-secret
like "a command's help names its role" "$(SQ status --help)" 'Redis role: submitter or operator'
err=$(SANDQ_REDIS_USER=sandq-beta A status "$ida" 2>&1); is "SANDQ_REDIS_USER picks the user (wrong password here): exit 3" "$?" 3
like "and the refusal says so" "$err" 'refused the password'
idb=$(B submit -- sh -c 'mkdir -p out; echo beta-secret > out/b.txt')
B wait --timeout 30 "$idb" > /dev/null; is "beta's job runs" "$?" 0

# ---- What a team may not do.
err=$(A result --queue beta --result-dir "$Q_DIR/steal" "$idb" 2>&1); is "alpha reading beta's result: exit 6" "$?" 6
like "the refusal names the key and the role" "$err" "user 'sandq-alpha' may not run (HGETALL|GET) sandq:\{beta\}:(job|result):$idb.*submitter role"
ok "and nothing was written" test ! -e "$Q_DIR/steal/out/b.txt"
like "alpha may not read beta's result in Redis" "$(as alpha get "sandq:{beta}:result:$idb" 2>&1)" '^NOPERM'
like "nor beta's job record" "$(as alpha hgetall "sandq:{beta}:job:$idb" 2>&1)" '^NOPERM'
err=$(A status "$idb" 2>&1); is "alpha's status of beta's id looks in alpha's queue: no such job, exit 4" "$?" 4
err=$(SANDQ_CONFIG=$Q_DIR/alpha.conf "$BIN/sandq" status "$idb" 2>&1); is "without a queue, the id index is closed to alpha: exit 6" "$?" 6
like "and alpha is told to name the queue" "$err" "name its queue with --queue"
like "the id index is closed to a submitter" "$(as alpha get "sandq:jobq:$idb" 2>&1)" '^NOPERM'
err=$(A workers 2>&1); is "alpha listing the workers (and their jobs): exit 6" "$?" 6
like "the refusal names the operator role" "$err" "the operator role"
like "the workers' registry is closed to alpha" "$(as alpha zrange sandq:workers 0 -1 2>&1)" '^NOPERM'
like "so is a worker's hash" "$(as alpha hgetall sandq:worker:acl 2>&1)" '^NOPERM'
like "so is the queue set" "$(as alpha smembers sandq:queues 2>&1)" '^NOPERM'
err=$(A pause 2>&1); is "alpha pausing its own queue: exit 6" "$?" 6
err=$(A pause --queue beta 2>&1); is "alpha pausing beta's queue: exit 6" "$?" 6
is "nothing was paused" "$(rcli exists 'sandq:{alpha}:paused' 'sandq:{beta}:paused')" 0
err=$(A stats 2>&1); is "alpha's stats (every queue): exit 6" "$?" 6
like "listing keys is refused" "$(as alpha scan 0 2>&1)" '^NOPERM'
like "a Lua script of alpha's own is refused" "$(as alpha eval 'return 1' 0 2>&1)" '^NOPERM'
like "so is loading one" "$(as alpha script load 'return 1' 2>&1)" '^NOPERM'
like "alpha may not cancel beta's job" "$(as alpha hset "sandq:{beta}:job:$idb" cancel 1 2>&1)" '^NOPERM'
err=$(A submit --queue beta -- true 2>&1); is "alpha submitting to beta's queue: exit 6" "$?" 6

# ---- The operator steers the fleet but reads no data.
O pause --queue beta > /dev/null; is "the operator pauses a queue" "$?" 0
is "and it is paused" "$(rcli exists 'sandq:{beta}:paused')" 1
O resume --queue beta > /dev/null; is "the operator resumes it" "$?" 0
out=$(O stats --json); is "the operator reads stats" "$?" 0
like "stats name the teams' queues" "$out" '"alpha-night"'
out=$(O workers --json); is "the operator lists the workers" "$?" 0
like "with their queues" "$out" 'alpha,alpha-night,beta|"alpha-night"'
out=$(O status --queue beta "$idb"); is "the operator reads a job's status" "$?" 0
O dead list --queue beta > /dev/null; is "the operator lists dead letters" "$?" 0
err=$(O result --queue beta --result-dir "$Q_DIR/op" "$idb" 2>&1); is "the operator fetching a result: exit 6" "$?" 6
like "the refusal names the submitter role" "$err" "the submitter role"
like "the operator may not read a result in Redis" "$(as operator get "sandq:{beta}:result:$idb" 2>&1)" '^NOPERM'
like "nor an input" "$(as operator get "sandq:{beta}:input:$idb" 2>&1)" '^NOPERM'
err=$(O logs --queue alpha "$ida" 2>&1); is "nor logs: exit 6" "$?" 6

# ---- Sealed results: only the submitter's secret key opens them.
out=$(SQ keygen "$Q_DIR/k"); is "keygen makes a key pair" "$?" 0
is "the secret key is 0600" "$(stat -c %a "$Q_DIR/k")" 600
like "the public key is 64 hex digits" "$(cat "$Q_DIR/k.pub")" '^[0-9a-f]{64}$'
err=$(SQ keygen "$Q_DIR/k" 2>&1); is "keygen never overwrites a key: exit 2" "$?" 2
SQ keygen "$Q_DIR/other" > /dev/null
err=$(A submit --seal-to "$Q_DIR/missing.pub" -- true 2>&1); is "--seal-to a missing file: exit 2" "$?" 2
like "the file is named" "$err" 'missing.pub'
printf 'nothex\n' > "$Q_DIR/bad.pub"
err=$(A submit --seal-to "$Q_DIR/bad.pub" -- true 2>&1); is "--seal-to a bad key: exit 2" "$?" 2
like "the key's form is given" "$err" "must be 64 hex digits"
ids=$(A submit --seal-to "$Q_DIR/k.pub" -- sh -c 'echo sealed-out; mkdir -p out; echo sealed-secret > out/s.txt')
A wait --timeout 30 "$ids" > /dev/null; is "a sealed job runs" "$?" 0
raw=$(rcli --raw get "sandq:{alpha}:result:$ids" | tr -d '\0')
like "Redis holds a sealed box" "$raw" '^sandq-sealed-1'
unlike "in which neither the output" "$raw" 'sealed-out'
unlike "nor out/ shows" "$raw" 'sealed-secret'
is "no live output was published" "$(rcli exists "sandq:{alpha}:live:$ids")" 0
err=$(A result --result-dir "$Q_DIR/s0" "$ids" 2>&1); is "result without the key: exit 2" "$?" 2
like "which says the result is sealed" "$err" 'sealed to its submitter.s key; give the secret key with --key'
err=$(A result --key "$Q_DIR/other" --result-dir "$Q_DIR/s1" "$ids" 2>&1); is "result with another key: exit 2" "$?" 2
like "which says the key does not open it" "$err" 'does not open it'
A result --key "$Q_DIR/k" --result-dir "$Q_DIR/s2" "$ids" > /dev/null; is "result with the key: exit 0" "$?" 0
is "and out/ is right" "$(cat "$Q_DIR/s2/out/s.txt")" sealed-secret
is "logs open with SANDQ_KEY" "$(SANDQ_KEY=$Q_DIR/k A logs --stdout "$ids")" sealed-out
idx=$(A submit --input-from "$ids" -- true); A wait --timeout 30 "$idx" > /dev/null
like "a sealed result is no other job's input" "$(A status "$idx")" "sealed to its submitter's key; a sealed result cannot be another job's input"

# ---- The worker under its role: cancel and drain still work.
idc=$(A submit -- sleep 60)
wait_for 20 '[ "$(rcli hget "sandq:{alpha}:job:$idc" state)" = running ]'
A cancel "$idc" > /dev/null; is "alpha cancels its running job" "$?" 0
out=$(A wait --timeout 30 "$idc"); like "and the worker stops it" "$out" 'cancelled'
# The password in the URL and the user in redis_user: both are used.
printf 'redis_url = unix://:%s@%s\nredis_user = sandq-worker\n' "$(cat "$S/sandq-worker")" "$REDIS_SOCK" > "$Q_DIR/w2.conf"
rcli config set maxmemory-policy allkeys-lru > /dev/null
worker_start acl2 --config "$Q_DIR/w2.conf" --queue beta > /dev/null
is "a worker with redis_user and the URL's password logs in" "$?" 0
ok "under its role, it reads Redis's eviction policy and warns" \
  wait_for 5 "grep -q 'evicts keys when it is full (maxmemory-policy allkeys-lru)' '$Q_DIR/acl2.log'"
worker_stop acl2
rcli config set maxmemory-policy noeviction > /dev/null
O drain acl > /dev/null; is "the operator drains the worker" "$?" 0
worker_stop acl
is "the worker, drained, exits 0" "$WSTATUS" 0
unlike "its log shows no refusal" "$(cat "$Q_DIR/acl.log")" 'NOPERM|may not'
done_testing
