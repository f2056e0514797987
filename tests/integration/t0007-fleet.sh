#!/usr/bin/env bash
# A fleet: three "hosts" (network namespaces) with workers, linked by veth
# to a fourth holding Redis (master + replica) and three Sentinels. Jobs
# spread across hosts; killing every process of one host loses nothing;
# a Sentinel failover mid-run loses nothing. Prints the figures the
# operations doc quotes. Every namespace it makes is removed on exit.
. "$(dirname "$0")/../lib.sh"
need_root "fleet test"
command -v ip >/dev/null || { skip "fleet test" "iproute2 is not installed"; done_testing; exit 0; }
S=$$
R=sqr$S
H=(sqh1$S sqh2$S sqh3$S)
D=$(mktemp -d /tmp/sandq-fleet.XXXXXX)
IP=10.77.0.1
SENT="sentinel://$IP:26379,$IP:26380,$IP:26381/sq"
WPIDS=()

# wait_for_s SECONDS 'CONDITION'
wait_for_s() {
  local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  while [ "$(date +%s%N)" -lt "$end" ]; do eval "$*" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

cleanup() {
  for ns in "${H[@]}" "$R"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.2
  for ns in "${H[@]}" "$R"; do ip netns del "$ns" 2>/dev/null; done
  [ -n "${FLEET_LOGS:-}" ] && cp -r "$D" "$FLEET_LOGS"
  rm -rf "$D"
}
trap cleanup EXIT

if ! ip netns add "$R" 2>/dev/null; then
  skip "fleet test" "cannot create network namespaces here"; done_testing; exit 0
fi
ip -n "$R" link set lo up
ip -n "$R" link add br0 type bridge
ip -n "$R" addr add "$IP/24" dev br0
ip -n "$R" link set br0 up
for i in 1 2 3; do
  h=${H[$((i - 1))]}
  ip netns add "$h"
  ip -n "$h" link set lo up
  ip -n "$h" link add eth0 type veth peer name v$i netns "$R"
  ip -n "$h" addr add "10.77.0.1$i/24" dev eth0
  ip -n "$h" link set eth0 up
  ip -n "$R" link set "v$i" master br0
  ip -n "$R" link set "v$i" up
done

# nsenter --net switches the network namespace only: "ip netns exec" would
# also mount a fresh /sys and hide the cgroup hierarchies from the workers.
inR() { nsenter --net=/run/netns/"$R" "$@"; }
inH() { local h=$1; shift; nsenter --net=/run/netns/"$h" "$@"; }
# Protected mode off: these listen only inside namespaces this test made.
rs() { inR redis-server "$@" --protected-mode no; }
rs --bind "$IP" --port 6379 --dir "$D" --dbfilename m.rdb --save '' --appendonly yes \
   --appendfilename m.aof --daemonize yes --logfile "$D/m.log" --pidfile "$D/m.pid"
rs --bind "$IP" --port 6380 --dir "$D" --dbfilename r.rdb --save '' --appendonly yes \
   --appendfilename r.aof --replicaof "$IP" 6379 --daemonize yes --logfile "$D/r.log" --pidfile "$D/r.pid"
for p in 26379 26380 26381; do
  cat > "$D/s$p.conf" <<CONF
port $p
bind $IP
protected-mode no
daemonize yes
pidfile $D/s$p.pid
logfile $D/s$p.log
dir $D
sentinel monitor sq $IP 6379 2
sentinel down-after-milliseconds sq 1000
sentinel failover-timeout sq 5000
sentinel parallel-syncs sq 1
CONF
  inR redis-server "$D/s$p.conf" --sentinel
done
master_port() { inR redis-cli -h "$IP" -p 26379 sentinel get-master-addr-by-name sq 2>/dev/null | tail -1; }
ok "the sentinels know the master" wait_for_s 10 '[ "$(master_port)" = 6379 ]'
ok "host 1 reaches Redis over its link" inH "${H[0]}" redis-cli -h "$IP" -p 6379 ping
rc_m() { inR redis-cli -h "$IP" -p "$(master_port)" "$@"; }
SQF() { inR "$BIN/sandq" --redis "$SENT" "$@"; }

start_worker() { # HOSTINDEX QUEUE [args]
  local n=$1 q=$2; shift 2
  local h=${H[$((n - 1))]}
  # nsenter itself, not a shell function, in the background: it execs the
  # worker, so $! is the worker's pid and stop_workers can signal it.
  nsenter --net=/run/netns/"$h" "$BIN/sandq-worker" --redis "$SENT" --id "host$n" \
    --queue "$q" --uid-base $((810000 + n * 1000)) "$@" > "$D/host$n-$q.log" 2>&1 &
  WPIDS+=($!)
}
stop_workers() { for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
                 for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null; done; WPIDS=(); }
count_status() { rc_m hget "sandq:{$1}:stats" "status:$2"; }
submit_n() { # QUEUE N CMD...
  local q=$1 n=$2; shift 2
  for _ in $(seq "$n"); do SQF submit --queue "$q" -- "$@"; done
}

# --- Scaling: 1, 2, 3 hosts, one slot each. ----------------------------
N=120
for k in 1 2 3; do
  q=scale$k
  submit_n "$q" "$N" /bin/true > "$D/ids-$q"
  t0=$(date +%s%N)
  for i in $(seq "$k"); do start_worker "$i" "$q" --lease 3; done
  wait_for_s 60 '[ "$(count_status '"$q"' ok)" = '"$N"' ]'
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  stop_workers
  rate=$(awk -v n="$N" -v ms="$ms" 'BEGIN { printf "%.0f", n * 1000 / ms }')
  is "$k host(s): all $N jobs ok" "$(count_status "$q" ok)" "$N"
  echo "# fleet scaling: $k host(s) x 1 slot: $rate jobs/s ($N jobs in $ms ms, incl. worker start)"
  if [ "$k" = 3 ]; then
    hosts=$(for id in $(cat "$D/ids-$q"); do rc_m hget "sandq:{$q}:job:$id" worker; done | sort -u | wc -l)
    is "jobs spread across all 3 hosts" "$hosts" 3
  fi
done

# --- A host dies mid-run. -----------------------------------------------
q=death
submit_n "$q" 9 sh -c 'sleep 2' > "$D/ids-$q"
for i in 1 2 3; do start_worker "$i" "$q" --lease 3; done
running_on() { for id in $(cat "$D/ids-$q"); do
  [ "$(rc_m hget "sandq:{$q}:job:$id" state)" = running ] && [ "$(rc_m hget "sandq:{$q}:job:$id" worker)" = "$1" ] && echo "$id"; done; }
wait_for_s 20 '[ -n "$(running_on host2)" ]'
victims=$(running_on host2)
ok "host 2 was running a job when it died" test -n "$victims"
t0=$(date +%s%N)
for p in $(ip netns pids "${H[1]}"); do kill -KILL "$p"; done
victims_done() { for id in $victims; do [ "$(rc_m hget "sandq:{$q}:job:$id" status)" = ok ] || return 1; done; }
wait_for_s 30 victims_done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "host 2's jobs finished elsewhere" victims_done
for id in $victims; do
  like "job $id finished on another host" "$(rc_m hget "sandq:{$q}:job:$id" worker)" 'host[13]'
done
wait_for_s 30 '[ "$(count_status '"$q"' ok)" = 9 ]'
is "all 9 jobs ok, each exactly once" "$(count_status "$q" ok)" 9
ok "no sandbox of host 2 survived" test -z "$(ip netns pids "${H[1]}")"
echo "# host death to its jobs done elsewhere: $ms ms (lease 3 s, jobs 2 s)"
stop_workers

# --- Sentinel failover mid-run. -------------------------------------------
q=failover
submit_n "$q" 40 sh -c 'sleep 0.2' > "$D/ids-$q"
inR redis-cli -h "$IP" -p 6379 wait 1 2000 >/dev/null
for i in 1 2 3; do start_worker "$i" "$q" --lease 3; done
wait_for_s 30 '[ "$(count_status '"$q"' ok)" -ge 5 ]'
old=$(master_port)
t0=$(date +%s%N); t0ms=$(( t0 / 1000000 ))
inR redis-cli -h "$IP" -p 26379 sentinel failover sq >/dev/null
ok "the sentinels promote the replica" wait_for_s 20 '[ "$(master_port)" != "$old" ] && [ -n "$(master_port)" ]'
first_after() { for id in $(cat "$D/ids-$q"); do f=$(rc_m hget "sandq:{$q}:job:$id" finished_at)
  [ -n "$f" ] && [ "$f" -gt "$t0ms" ] && echo "$f"; done | sort -n | head -1; }
wait_for_s 30 '[ -n "$(first_after)" ]'
fa=$(first_after)
ok "a job completed on the new master" test -n "$fa"
all_ok() { [ "$(count_status "$q" ok)" -ge 40 ]; }
ok "all 40 jobs ok after the failover" wait_for_s 60 all_ok
finals=0; for id in $(cat "$D/ids-$q"); do [ "$(rc_m hget "sandq:{$q}:job:$id" status)" = ok ] && finals=$((finals + 1)); done
is "every job of the run is ok on the new master" "$finals" 40
ok "workers followed the failover" grep -qE 'READONLY|connection|connect' "$D"/host*-failover.log
echo "# failover to first completion on the new master: $(( fa - t0ms )) ms"
stop_workers

ok "no worker of this test is left running" test -z "$(pgrep -f "sandq-worker --redis $SENT")"
done_testing
