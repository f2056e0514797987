#!/usr/bin/env bash
# The Debian package on a host run by systemd: apt installs it, the files
# are where Debian keeps them, the units name /usr/bin, the worker is
# installed but not enabled, and the README's steps then run a job: config,
# systemctl enable --now, submit with the packaged sandq, its result.
#
# Only in the v2 guest (it changes the system), with the .deb that
# tests/v2/run builds (make deb) before booting it.
. "$(dirname "$0")/../lib.sh"
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ] \
   || [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] || [ "$(hostname)" != sandq-v2 ]; then
  skip "the Debian package" "needs the v2 guest of make check-v2"
  done_testing; exit 0
fi
need_root "the Debian package"
deb=$(ls "$SANDQ_TOP/$BUILD"/deb/sandq_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  skip "the Debian package" "no .deb was built (make deb needs debhelper: scripts/install-deps --deb)"
  done_testing; exit 0
fi
W=$(mktemp -d /tmp/sandq-deb.XXXXXX)
PORT=6391
cleanup() {
  timeout 60 systemctl disable --now sandq-worker 2>/dev/null
  [ -f "$W/redis.pid" ] && kill "$(cat "$W/redis.pid")" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
wait_for_active() {
  for _ in $(seq 100); do
    [ "$(systemctl is-active sandq-worker)" = active ] && return 0
    sleep 0.2
  done
  systemctl status sandq-worker --no-pager 2>&1 | tail -5 | sed 's/^/#   /'
  return 1
}
# What make install put in /usr/local (t0101) would shadow the package.
echo "# removing what make install put in place"
timeout 60 systemctl disable --now sandq-worker >/dev/null 2>&1
timeout 60 make -s -C "$SANDQ_TOP" BUILD="$BUILD" uninstall >/dev/null 2>&1
rm -f /etc/sandq/sandq.conf /etc/sandq/redis-password
rm -rf /run/systemd/system/sandq-worker.service.d
timeout 60 systemctl daemon-reload
# man-db's trigger rescans every manual page on each install and removal
# while this flag file exists; under the guest's emulated CPU that alone
# has taken two minutes and more. The guest's / is a throwaway overlay.
rm -f /var/lib/man-db/auto-update
echo "# dpkg -i $deb"
out=$(DEBIAN_FRONTEND=noninteractive timeout 300 dpkg -i "$deb" 2>&1)
rc=$?
is "dpkg -i: exit 0" "$rc" 0
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -8 | sed 's/^/#   /'
ok "the package installs" dpkg-query -W -f='${Status}' sandq
like "... as installed" "$(dpkg-query -W -f='${Status}' sandq)" 'install ok installed'
for f in /usr/bin/sandq /usr/bin/sandq-worker /usr/bin/sandq-sandbox /usr/bin/sandq-nightly \
         /usr/libexec/sandq/sandq-archiver /usr/libexec/sandq/sandq-net \
         /usr/share/man/man1/sandq.1.gz /usr/share/man/man5/sandq.conf.5.gz \
         /usr/share/bash-completion/completions/sandq /etc/sandq/sandq.conf.example; do
  ok "the package has $f" test -e "$f"
done
is "the worker unit runs /usr/bin/sandq-worker" \
  "$(systemctl show -P ExecStart sandq-worker | grep -o 'path=[^ ;]*' | head -1)" "path=/usr/bin/sandq-worker"
is "... and is not enabled by the package" "$(systemctl is-enabled sandq-worker 2>&1)" disabled
ok "the system user sandq exists" getent passwd sandq
like "man sandq works" "$(MANWIDTH=80 man sandq 2>&1 | head -5)" 'sandq - submit jobs'

# The README's steps, with the packaged programs.
PW=deb-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
redis-server --port $PORT --bind 127.0.0.1 --requirepass "$PW" --daemonize yes --save '' \
  --appendonly no --dir "$W" --pidfile "$W/redis.pid" --logfile "$W/redis.log"
for _ in $(seq 50); do redis-cli -p $PORT -a "$PW" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done
install -m 0600 /dev/null /etc/sandq/redis-password
printf '%s\n' "$PW" > /etc/sandq/redis-password
# As the README says, but for the address; the password file is named too
# (this guest's systemd delivers empty credentials, see t0101).
sed -e "s|^redis_url = .*|redis_url = redis://127.0.0.1:$PORT/0|" -e 's|^queues = .*|queues = default|' \
  -e 's|^metrics = .*||' /etc/sandq/sandq.conf.example > /etc/sandq/sandq.conf
echo "redis_password_file = /etc/sandq/redis-password" >> /etc/sandq/sandq.conf
# A start that fails is the worker's fault unless systemd itself failed
# before running it (exit statuses 200 and up are systemd's: namespaces,
# credentials, ...): the guest runs systemd on an overlay over 9p, where
# some of its set-up is quirky (see t0101). Either way the journal is
# shown, and the unit must come up (Restart=on-failure) for the next
# test to pass.
if out=$(timeout 60 systemctl enable --now sandq-worker 2>&1); then
  t_result 0 "systemctl enable --now sandq-worker"
else
  st=$(systemctl show -P ExecMainStatus sandq-worker)
  if [ "${st:-0}" -ge 200 ]; then
    skip "systemctl enable --now sandq-worker" "systemd failed before running the worker (status $st)"
  else
    t_result 1 "systemctl enable --now sandq-worker (the worker exited with $st)"
  fi
  printf '#   %s\n' "$out"
  journalctl -u sandq-worker -n 20 --no-pager -o cat 2>&1 | sed 's/^/#   /'
fi
ok "the worker is active" wait_for_active
# The README's example, pandas and all, through the packaged worker (its
# unit's UMask=0077 once closed the sandbox's /etc to the job, and numpy
# could not find libblas through /etc/alternatives). Slow under TCG.
mkdir -p "$W/job" && cp "$SANDQ_TOP"/examples/csv-summary/* "$W/job/"
id=$(cd "$W/job" && timeout 400 /usr/bin/sandq submit --wait --result-dir "$W/result" --memory 512M \
     --wall 300 --cpu 300 sales.csv summarize.py -- python3 summarize.py 2>/dev/null | sed -n 's/^id *//p')
is "the example job runs through the packaged worker" "$(/usr/bin/sandq status "$id" | sed -n 's/^status *//p')" ok
[ "$(/usr/bin/sandq status "$id" | sed -n 's/^status *//p')" = ok ] || {
  /usr/bin/sandq status "$id" 2>&1 | sed 's/^/#   /'
  /usr/bin/sandq logs "$id" 2>&1 | tail -12 | sed 's/^/#   /'
}
id2=$(timeout 60 /usr/bin/sandq submit --wait -- sh -c 'echo from the package' 2>/dev/null | sed -n 's/^id *//p')
is "a shell job through the packaged worker" "$(/usr/bin/sandq logs --stdout "$id2" 2>&1)" "from the package"
like "... and its result comes back" "$(cat "$W/result/stdout" 2>&1)" '^summarised [0-9]+ of [0-9]+ rows'
ok "... with its out/" test -s "$W/result/out/summary.json"
timeout 60 systemctl disable --now sandq-worker >/dev/null 2>&1
t0=$(date +%s)
ok "apt remove takes the programs" timeout 300 dpkg -r sandq
echo "# dpkg -r took $(($(date +%s) - t0)) s"
ok "... all of them" test ! -e /usr/bin/sandq-worker
ok "... and the manual pages" test ! -e /usr/share/man/man1/sandq.1.gz
ok "... and leaves the configuration" test -f /etc/sandq/sandq.conf
done_testing
