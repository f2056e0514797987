#!/usr/bin/env bash
# make install puts every program where the others look for it.
. "$(dirname "$0")/../lib.sh"
need_root "install layout"
D=$(mktemp -d /tmp/sandq-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
san=; [ "$BUILD" = build-san ] && san=SANITIZE=1
make -s -C "$SANDQ_TOP" $san DESTDIR="$D" install > "$D.log" 2>&1
is "make install DESTDIR=...: exit 0" "$?" 0
sed 's/^/#   /' "$D.log" | tail -5; rm -f "$D.log"
for p in sandq sandq-worker sandq-sandbox sandq-nightly; do
  ok "bin/$p is installed" test -x "$D/usr/local/bin/$p"
done
ok "the archive helper goes to libexec" test -x "$D/usr/local/libexec/sandq/sandq-archiver"
ok "and not to bin" test ! -e "$D/usr/local/bin/sandq-archiver"
ok "the network helper goes to libexec" test -x "$D/usr/local/libexec/sandq/sandq-net"
ok "the worker unit of a local install goes to /etc/systemd/system" \
  test -f "$D/etc/systemd/system/sandq-worker.service"
like "... and starts the worker where it was installed" \
  "$(grep ^ExecStart= "$D/etc/systemd/system/sandq-worker.service")" \
  '^ExecStart=/usr/local/bin/sandq-worker '
# A package's layout: PREFIX=/usr.
D2=$(mktemp -d /tmp/sandq-install.XXXXXX)
make -s -C "$SANDQ_TOP" $san PREFIX=/usr DESTDIR="$D2" install > /dev/null 2>&1
is "make install PREFIX=/usr: the unit runs /usr/bin/sandq-worker" \
  "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$D2/lib/systemd/system/sandq-worker.service")" \
  /usr/bin/sandq-worker
is "... the nightly unit /usr/bin/sandq-nightly" \
  "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$D2/lib/systemd/system/sandq-nightly@.service")" \
  /usr/bin/sandq-nightly
ok "... the helpers are in /usr/libexec/sandq" test -x "$D2/usr/libexec/sandq/sandq-archiver"
unlike "... and nothing names /usr/local" "$(grep -r /usr/local "$D2/lib" 2>&1)" '/usr/local'
make -s -C "$SANDQ_TOP" $san PREFIX=/usr DESTDIR="$D2" uninstall > /dev/null 2>&1
is "make uninstall leaves only the configuration" \
  "$(cd "$D2" && find . -type f | sort | tr '\n' ' ')" \
  "./etc/sandq/nightly.conf.example ./etc/sandq/sandq.conf.example "
rm -rf "$D2"
ok "the docs are installed" test -f "$D/usr/local/share/doc/sandq/protocol.md"
ok "the example config is installed" test -f "$D/etc/sandq/sandq.conf.example"
for m in man1/sandq.1 man1/sandq-sandbox.1 man5/sandq.conf.5 man8/sandq-worker.8 man8/sandq-nightly.8; do
  ok "man page $m is installed" test -f "$D/usr/local/share/man/$m"
done
ok "the bash completion is installed" test -f "$D/usr/local/share/bash-completion/completions/sandq"

# Run from the staging tree, the worker looks for its helper beside itself,
# then where it will be installed; finding neither, it says where it looked.
if [ -e /usr/local/libexec/sandq/sandq-archiver ]; then
  skip "a worker without its helper says so" "sandq is installed on this host"
else
  out=$("$D/usr/local/bin/sandq-worker" --redis unix:///nonexistent.sock 2>&1); rc=$?
  is "a worker without its helper exits 1" "$rc" 1
  like "and names the path it looked for" "$out" \
    'cannot start the archive helper: the archive helper /usr/local/libexec/sandq/sandq-archiver: No such file or directory'
fi

# Where executable memfds are forbidden (vm.memfd_noexec=2, in a PID
# namespace of the test's own), the worker cannot start sandq-init: it
# stops at once, naming the sysctl, before it takes any job.
if [ -e /proc/sys/vm/memfd_noexec ]; then
  out=$(unshare -pf --mount-proc sh -c \
    'echo 2 > /proc/sys/vm/memfd_noexec && exec "$0" --redis unix:///nonexistent.sock' \
    "$BIN/sandq-worker" 2>&1); rc=$?
  is "vm.memfd_noexec=2: the worker exits 1" "$rc" 1
  like "and names the sysctl" "$out" 'cannot set up sandboxes: .*vm.memfd_noexec=2 forbids executable memfds'
else
  skip "vm.memfd_noexec=2 is reported" "the kernel has no vm.memfd_noexec (before 6.3)"
fi
done_testing
