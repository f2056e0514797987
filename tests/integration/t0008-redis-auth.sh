#!/usr/bin/env bash
# A Redis with a password: the password comes from a file or a systemd
# credential, never from a command line, and never shows in logs.
. "$(dirname "$0")/../lib.sh"
need_root "Redis password handling"
. "$SANDQ_TOP/tests/queue-lib.sh"
PW="s3cr3t-$RANDOM$RANDOM"
redis_start --requirepass "$PW" || { t_result 1 "redis-server starts"; done_testing; exit 1; }
unset SANDQ_REDIS_URL
install -m 0600 /dev/null "$Q_DIR/pw" && printf '%s\n' "$PW" > "$Q_DIR/pw"
cat > "$Q_DIR/sandq.conf" <<CONF
redis_url = unix://$REDIS_SOCK
redis_password_file = $Q_DIR/pw
CONF
export SANDQ_CONFIG=$Q_DIR/sandq.conf

SQ stats >/dev/null; is "sandq reads the password from redis_password_file" "$?" 0
worker_start_auth() { "$BIN/sandq-worker" --config "$SANDQ_CONFIG" --id auth > "$Q_DIR/auth.log" 2>&1 & WA=$!; Q_PIDS+=("$WA"); }
worker_start_auth
id=$(SQ submit -- echo authed)
SQ wait --timeout 20 "$id" >/dev/null
is "a worker with the password file runs jobs" "$(SQ logs --stdout "$id")" authed
unlike "the password is not on the worker's command line" "$(tr '\0' ' ' < /proc/$WA/cmdline)" "$PW"
unlike "the password is not in the worker's log" "$(cat "$Q_DIR/auth.log")" "$PW"
kill -TERM "$WA"; wait "$WA"

printf 'redis_url = unix://%s\n' "$REDIS_SOCK" > "$Q_DIR/nopw.conf"
mkdir -p "$Q_DIR/cred" && printf '%s' "$PW" > "$Q_DIR/cred/redis-password"
out=$(CREDENTIALS_DIRECTORY=$Q_DIR/cred SANDQ_CONFIG=$Q_DIR/nopw.conf "$BIN/sandq" stats --json)
is "the systemd credential redis-password is used" "$?" 0
err=$(SANDQ_CONFIG=$Q_DIR/nopw.conf "$BIN/sandq" stats 2>&1); is "no password: exit 3" "$?" 3
like "no password is explained" "$err" 'requires a password: set redis_password_file'
mkdir -p "$Q_DIR/etc"
printf 'redis_url = unix://%s\n' "$REDIS_SOCK" > "$Q_DIR/etc/sandq.conf"
printf '%s\n' "$PW" > "$Q_DIR/etc/redis-password"
chmod 0600 "$Q_DIR/etc/redis-password"
out=$(SANDQ_CONFIG=$Q_DIR/etc/sandq.conf "$BIN/sandq" stats --json 2>&1)
is "redis-password beside the config file is read (as /etc/sandq/redis-password)" "$?" 0
printf 'wrong\n' > "$Q_DIR/pw"
err=$("$BIN/sandq" stats 2>&1); is "a wrong password: exit 3" "$?" 3
like "a wrong password is explained" "$err" 'refused the password'
unlike "and the message does not echo it" "$err" 'wrong'
printf 'redis_url = unix://%s\nredis_password_file = %s/missing\n' "$REDIS_SOCK" "$Q_DIR" > "$Q_DIR/bad.conf"
err=$(SANDQ_CONFIG=$Q_DIR/bad.conf "$BIN/sandq" stats 2>&1); is "a missing password file: exit 2" "$?" 2
like "a missing password file is named" "$err" "$Q_DIR/missing"
printf 'this line has no equals sign\n' > "$Q_DIR/broken.conf"
err=$(SANDQ_CONFIG=$Q_DIR/broken.conf "$BIN/sandq" stats 2>&1); is "a broken config: exit 2" "$?" 2
like "a broken config names the line" "$err" "broken.conf' line 1: not 'key = value'; see sandq.conf\(5\)"
done_testing
