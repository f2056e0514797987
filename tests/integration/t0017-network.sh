#!/usr/bin/env bash
# Network profiles: a job reaches the destinations its profiles name and
# nothing else, through the sandbox CLI and through a worker.
#
# Everything runs in network namespaces this test makes: H stands for a
# worker's host (IPv4 forwarding on, as an operator sets it), S holds the
# services: a PyPI mirror over TLS (pypi.internal) serving a wheel built
# here, a database port (db.internal), the mirror's host on other ports,
# and a decoy address with the same ports. Names resolve through a hosts
# file bound over /etc/hosts in a private mount namespace of the test's
# commands only.
. "$(dirname "$0")/../lib.sh"
need_root "network profiles"
command -v ip >/dev/null || { skip "network profiles" "iproute2 is not installed"; done_testing; exit 0; }
command -v openssl >/dev/null || { skip "network profiles" "openssl is not installed"; done_testing; exit 0; }
[ -x "$BIN/sandq-net" ] || { skip "network profiles" "sandq-net is not built"; done_testing; exit 0; }
. "$SANDQ_TOP/tests/queue-lib.sh"
NETD=$SANDQ_TOP/tests/integration/net
S=$$
H=sqnh$S
SV=sqns$S
HF=sqnf$S # a host without forwarding
MIRROR=10.79.0.2 DECOY=10.79.0.3 HOSTIP=10.79.0.1
SVC_PID=

net_cleanup() {
  [ -n "$SVC_PID" ] && kill -KILL "$SVC_PID" 2>/dev/null
  for ns in "$H" "$SV" "$HF"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.2
  for ns in "$H" "$SV" "$HF"; do ip netns del "$ns" 2>/dev/null; done
  q_cleanup
}
trap net_cleanup EXIT

if ! ip netns add "$H" 2>/dev/null; then
  skip "network profiles" "cannot create network namespaces here"; done_testing; exit 0
fi
ip netns add "$SV"
ip netns add "$HF"
for ns in "$H" "$SV" "$HF"; do ip -n "$ns" link set lo up; done
ip link add sq0 netns "$H" type veth peer name sq1 netns "$SV"
ip -n "$H" addr add "$HOSTIP/24" dev sq0
ip -n "$H" link set sq0 up
ip -n "$SV" addr add "$MIRROR/24" dev sq1
ip -n "$SV" addr add "$DECOY/24" dev sq1
ip -n "$SV" link set sq1 up
ip netns exec "$H" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$HF" sysctl -qw net.ipv4.ip_forward=0

D=$Q_DIR/net
mkdir -p "$D/wheels" "$D/job" "$D/pip"
printf '127.0.0.1\tlocalhost\n%s\tpypi.internal\n%s\tdb.internal\n%s\tdecoy.internal\n' \
  "$MIRROR" "$MIRROR" "$DECOY" > "$D/hosts"
# A CA of the test's and the mirror's certificate for pypi.internal.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=sandq-test-ca -keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj /CN=pypi.internal -keyout "$D/srv.key" -out "$D/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:pypi.internal\nbasicConstraints=CA:FALSE\n' > "$D/ext"
openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
  -days 2 -extfile "$D/ext" -out "$D/srv.pem" 2>/dev/null
"$PY" "$NETD/mkwheel.py" "$D/wheels" sqdemo 1.0 42 >/dev/null

# The services in S; a stand-in for the host's own services (Redis on its
# address, anything on its end of a job's link) in H.
nsenter --net=/run/netns/"$SV" "$PY" -u "$NETD/services.py" "$D/srv.pem" "$D/srv.key" \
  "$D/wheels" "$MIRROR:8443" "mirror-8444=$MIRROR:8444" "db=$MIRROR:5432" \
  "db-443=$MIRROR:443" "decoy-8443=$DECOY:8443" "decoy-5432=$DECOY:5432" \
  > "$D/svc.log" 2>&1 &
SVC_PID=$!
nsenter --net=/run/netns/"$H" "$PY" -u "$NETD/services.py" "$D/srv.pem" "$D/srv.key" \
  "$D/wheels" "127.0.0.2:8443" "host-redis=0.0.0.0:6379" "host-any=0.0.0.0:7000" \
  > "$D/hostsvc.log" 2>&1 &
Q_PIDS+=($!)
wait_for 10 'grep -q ready "$D/svc.log" && grep -q ready "$D/hostsvc.log"'
ok "the stand-in services are up" grep -q ready "$D/svc.log"

cp "$NETD/probe.py" "$D/ca.pem" "$D/job/"
# in NS CMD...: runs CMD in namespace NS, with the test's hosts file.
in_ns() {
  local ns=$1; shift
  nsenter --net=/run/netns/"$ns" unshare -m sh -c \
    'mount --make-rprivate / && mount --bind "$0" /etc/hosts && exec "$@"' "$D/hosts" "$@"
}
PROBES=(mirror=pypi.internal:8443 db=db.internal:5432 mirror-8444=pypi.internal:8444
        db-443=db.internal:443 decoy=$DECOY:8443 decoy-db=$DECOY:5432
        dns=udp:$MIRROR:53 host-veth=10.231.0.1:7000 host-addr=$HOSTIP:7000
        host-redis=$HOSTIP:6379 v6=v6:fd00::2:8443)
line() { printf '%s\n' "$1" | grep "^$2 " | head -1; }

# ---- The sandbox CLI ----
rm -rf "$D/job/out"
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal:8443 \
      --network db.internal:5432 --dir "$D/job" --stdout "$D/cli.out" \
      -- /usr/bin/python3 probe.py "${PROBES[@]}")
rc=$?
is "CLI: a job with destinations runs" "$rc" 0
got=$(cat "$D/cli.out")
like "CLI: the mirror is reached by its name" "$(line "$got" mirror)" '^mirror ok$'
like "CLI: the database port is reached" "$(line "$got" db)" '^db ok db$'
for p in mirror-8444 db-443 decoy decoy-db host-veth host-addr host-redis; do
  like "CLI: $p is refused" "$(line "$got" "$p")" "^$p refused"
done
like "CLI: UDP (DNS) is refused" "$(line "$got" dns)" '^dns refused'
like "CLI: IPv6 is unreachable" "$(line "$got" v6)" '^v6 refused.*(unreachable|Network)'
like "CLI: a refused connection fails at once, it does not time out" \
  "$(line "$got" decoy)" 'refused .*(No route|refused|not permitted)'
refused=$(jget "$out" net_refused)
[ "${refused:-0}" -ge 7 ]; t_result $? "CLI: the verdict counts the refused attempts ($refused)"
like "CLI: the verdict names refused destinations" "$(jget "$out" net_refused_to)" \
  '10\.79\.0\.[123]:[0-9]+/(tcp|udp)'
like "CLI: the message explains them" "$(jget "$out" message)" \
  'network policy refused [0-9]+ connection attempts'
# The kernel removes a namespace's links in a worker thread of its own.
links_gone() { wait_for 10 "[ \$(ip -n $1 -o link show | grep -cE ': sqn[0-9a-f]{4}@') = 0 ]"; }
link_seen() { wait_for 10 "ip -n $1 -o link show | grep -qE ': sqn[0-9a-f]{4}@'"; }
in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal:8443 -- sleep 3 >/dev/null &
ok "CLI: while a job runs, its link is on the host" link_seen "$H"
wait $!
ok "CLI: nothing of the job's link is left on the host" links_gone "$H"

# The job cannot change its own network, nor its /etc/hosts; it reads it
# whatever the caller's umask (a service's UMask=0077 is not the job's).
rm -rf "$D/job/out"
(umask 077 && in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal:8443 --dir "$D/job" \
  --stdout "$D/cap.out" -- /bin/sh -c \
  'ip link set eth0 down 2>&1 | head -1; ip route add 10.79.0.3/32 dev eth0 2>&1 | head -1;
   (echo "10.79.0.3 pypi.internal" >> /etc/hosts) 2>&1 | head -1; cat /etc/hosts') >/dev/null
got=$(cat "$D/cap.out")
like "CLI: the job cannot take its link down" "$got" 'Operation not permitted'
like "CLI: the job cannot write its /etc/hosts" "$got" 'Read-only file system|Permission denied'
like "CLI: /etc/hosts has the resolved name" "$got" "$MIRROR	pypi.internal"
unlike "CLI: /etc/hosts names nothing the job was not given" "$got" 'db.internal|decoy'

# Packages from the mirror, one line.
rm -rf "$D/job/out"
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal:8443 --dir "$D/job" \
      --env PIP_INDEX_URL=https://pypi.internal:8443/simple/ --env PIP_CERT=/work/ca.pem \
      --stdout "$D/pip.out" --stderr "$D/pip.err" --wall 60 -- /bin/sh -c \
      'python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check \
         --target /work/pkgs sqdemo && PYTHONPATH=/work/pkgs python3 -c "import sqdemo; print(sqdemo.VALUE)"')
is "CLI: pip installs a wheel from the mirror over TLS" "$(cat "$D/pip.out")" 42
[ "$(cat "$D/pip.out")" = 42 ] || sed 's/^/#   /' "$D/pip.err" | tail -5
rm -rf "$D/job/out"
t0=$(date +%s)
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal:8443 --dir "$D/job" \
      --env PIP_INDEX_URL=https://pypi.internal:8443/simple/ --env PIP_CERT=/work/ca.pem \
      --stderr "$D/pip2.err" --wall 60 -- python3 -m pip install --no-cache-dir \
      --disable-pip-version-check --target /work/pkgs nosuchpackage)
is "CLI: a package not on the mirror fails" "$(jget "$out" status)" nonzero_exit
like "CLI: ... with pip's own message" "$(cat "$D/pip2.err")" 'No matching distribution found for nosuchpackage'
[ $(( $(date +%s) - t0 )) -lt 50 ]; t_result $? "CLI: ... without hanging"
rm -rf "$D/job/out"
in_ns "$H" "$BIN/sandq-sandbox" run --network db.internal:5432 --dir "$D/job" \
  --env PIP_INDEX_URL=https://pypi.internal:8443/simple/ --env PIP_CERT=/work/ca.pem \
  --stderr "$D/pip3.err" --wall 60 -- python3 -m pip install --no-cache-dir --retries 0 \
  --disable-pip-version-check --target /work/pkgs sqdemo >/dev/null
like "CLI: without the mirror's profile pip cannot reach it" "$(cat "$D/pip3.err")" \
  'No route to host|Network is unreachable|No matching distribution'

# Without --network: loopback only, as always.
rm -rf "$D/job/out"
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --dir "$D/job" --stdout "$D/none.out" \
      -- /usr/bin/python3 probe.py "${PROBES[@]}")
got=$(cat "$D/none.out")
is "CLI: without a network every probe fails" "$(grep -c ' refused ' <<< "$got")" "${#PROBES[@]}"
like "CLI: ... with no route at all" "$(line "$got" mirror)" 'Network is unreachable|Name or service not known'
unlike "CLI: without a network the verdict has no network figures" "$out" net_refused

# Two jobs with a network at once: each its own link and filter.
rm -rf "$D/job/out"
mkdir -p "$D/job2" && cp "$NETD/probe.py" "$D/job2/"
in_ns "$H" "$BIN/sandq-sandbox" run --slot 7 --network pypi.internal:8443 --dir "$D/job" \
  --stdout "$D/par1.out" -- /bin/sh -c "sleep 1; python3 probe.py mirror=pypi.internal:8443 db=$MIRROR:5432" >/dev/null &
p1=$!
in_ns "$H" "$BIN/sandq-sandbox" run --slot 8 --network db.internal:5432 --dir "$D/job2" \
  --stdout "$D/par2.out" -- /bin/sh -c "sleep 1; python3 probe.py mirror=$MIRROR:8443 db=db.internal:5432" >/dev/null &
p2=$!
wait $p1 $p2
like "CLI: two jobs at once: the first reaches its mirror" "$(line "$(cat "$D/par1.out")" mirror)" '^mirror ok$'
like "CLI: ... and not the other's database" "$(line "$(cat "$D/par1.out")" db)" '^db refused .*No route'
like "CLI: the second reaches its database" "$(line "$(cat "$D/par2.out")" db)" '^db ok db$'
like "CLI: ... and not the other's mirror" "$(line "$(cat "$D/par2.out")" mirror)" '^mirror refused .*No route'
ok "CLI: both links are gone after them" links_gone "$H"

# Bad destinations and hosts that cannot forward.
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal -- /bin/true 2>&1)
is "CLI: --network without a port is a usage error" "$?" 2
like "CLI: ... that names the input" "$out" "pypi.internal': expected HOST:PORT"
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --network pypi.internal:0 -- /bin/true 2>&1)
like "CLI: port 0 is refused, with the range" "$out" 'port.*1.*65535'
out=$(in_ns "$H" "$BIN/sandq-sandbox" run --network nosuch.invalid:443 -- /bin/true 2>&1)
is "CLI: a name that does not resolve is a usage error" "$?" 2
like "CLI: ... that names it" "$out" "cannot resolve 'nosuch.invalid'"
out=$(in_ns "$HF" "$BIN/sandq-sandbox" run --network pypi.internal:8443 -- /bin/true 2>/dev/null)
is "CLI: on a host that does not forward, sandq fails (exit 3)" "$?" 3
like "CLI: ... and says why" "$(jget "$out" message)" 'does not forward IPv4.*ip_forward'
ok "CLI: ... leaving no link behind" links_gone "$HF"

# ---- Through a worker ----
redis_start
cat > "$Q_DIR/w.conf" <<CONF
network.pypi = pypi.internal:8443
network.pypi.env = PIP_INDEX_URL=https://pypi.internal:8443/simple/
network.pypi.env = PIP_CERT=/work/ca.pem
network.warehouse = db.internal:5432
queue.default.networks = pypi, warehouse
queue.etl.networks = pypi
queue.etl.network = pypi
CONF
# The worker starts in H, with the hosts file, and serves two queues with
# one slot, so that each job below runs in the slot the one before used.
WORKER_WRAP="in_ns $H"
SANDQ_CONFIG=$Q_DIR/w.conf worker_start wn --queue default,etl --concurrency 1 \
  --metrics 127.0.0.1:9464
ok "worker with network profiles starts" kill -0 "$(wpid wn)"
tar -C "$D/job" -cf "$D/job.tar" probe.py ca.pem

id=$(SQ submit --network pypi --network warehouse "$D/job.tar" -- \
     /usr/bin/python3 probe.py "${PROBES[@]}")
SQ wait "$id" >/dev/null
is "worker: the job with both profiles ran" "$(job_field "$id" status)" ok
rm -rf "$D/r1" && SQ result --result-dir "$D/r1" "$id" >/dev/null
got=$(cat "$D/r1/stdout" 2>/dev/null)
like "worker: the mirror is reached" "$(line "$got" mirror)" '^mirror ok$'
like "worker: the database is reached" "$(line "$got" db)" '^db ok db$'
for p in mirror-8444 db-443 decoy decoy-db dns host-veth host-addr host-redis v6; do
  like "worker: $p is refused" "$(line "$got" "$p")" "^$p refused"
done
refused=$(job_field "$id" net_refused)
[ "${refused:-0}" -ge 7 ]; t_result $? "worker: the job's record counts refused attempts ($refused)"
like "worker: result.json names them" "$(cat "$D/r1/result.json")" '"net_refused_to":"10\.79\.'

id=$(SQ submit "$D/job.tar" -- /usr/bin/python3 probe.py "${PROBES[@]}")
SQ wait "$id" >/dev/null
rm -rf "$D/r2" && SQ result --result-dir "$D/r2" "$id" >/dev/null
is "worker: the next job of the same slot, naming no profile, reaches nothing" \
  "$(grep -c ' refused ' "$D/r2/stdout")" "${#PROBES[@]}"
is "worker: ... and its record has no network figures" "$(job_field "$id" net_refused)" ""

id=$(SQ submit --queue etl "$D/job.tar" -- /bin/sh -c \
     'python3 -m pip install -q --no-cache-dir --disable-pip-version-check --target /work/p sqdemo \
      && PYTHONPATH=/work/p python3 -c "import sqdemo; print(sqdemo.VALUE)"; python3 probe.py db=db.internal:5432 db-ip='"$MIRROR"':5432')
SQ wait "$id" >/dev/null
rm -rf "$D/r3" && SQ result --result-dir "$D/r3" "$id" >/dev/null
like "worker: the queue's default profile installs from the mirror, its variables set" \
  "$(head -1 "$D/r3/stdout" 2>/dev/null)" '^42$'
like "worker: ... and reaches nothing of another profile" \
  "$(line "$(cat "$D/r3/stdout")" db-ip)" '^db-ip refused'

id=$(SQ submit --queue etl --network warehouse -- /bin/true)
SQ wait "$id" >/dev/null
is "worker: a profile the queue does not offer is rejected" "$(job_field "$id" status etl)" rejected
like "worker: ... with the queue's offer" "$(job_field "$id" message etl)" \
  "queue 'etl' offers no network profile 'warehouse' \(it offers: pypi\)"
id=$(SQ submit --network nosuch -- /bin/true)
SQ wait "$id" >/dev/null
is "worker: an unknown profile is rejected" "$(job_field "$id" status)" rejected
ok "worker: no link is left on the host" links_gone "$H"

metrics=$(nsenter --net=/run/netns/"$H" "$PY" -c \
  'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/metrics").read().decode())')
like "metrics: refused attempts by profile" "$metrics" \
  'sandq_network_refused_total\{profile="warehouse"\} [1-9]'
like "metrics: jobs by profile" "$metrics" 'sandq_network_jobs_total\{profile="pypi"\} 2'

# Configuration errors stop the worker at start, with the line at fault.
printf 'network.pypi = pypi.internal:8443\nqueue.default.networks = pypi, nosuch\n' > "$Q_DIR/bad.conf"
out=$(SANDQ_CONFIG=$Q_DIR/bad.conf "$BIN/sandq-worker" --id bad 2>&1)
is "worker: a queue rule naming no profile stops the worker (exit 2)" "$?" 2
like "worker: ... naming it" "$out" "queue.default.networks: no network profile 'nosuch'"
printf 'network.pypi = pypi.internal\n' > "$Q_DIR/bad.conf"
out=$(SANDQ_CONFIG=$Q_DIR/bad.conf "$BIN/sandq-worker" --id bad 2>&1)
like "worker: a destination without a port stops the worker" "$out" "'network.pypi': 'pypi.internal' is not HOST:PORT"
out=$(SQ submit --network 'Bad Name' -- /bin/true 2>&1)
is "submit: an invalid profile name is a usage error" "$?" 2
like "submit: ... naming the rule" "$out" 'a profile.s name is 1-32 of \[a-z0-9_-\]'
done_testing
