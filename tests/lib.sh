# TAP helpers for sandq's shell tests, in the spirit of git's test-lib.
#
#   . "$(dirname "$0")/../lib.sh"
#   ok "name" test -f x          run a command; pass if it exits 0
#   is "name" "$got" "$want"     compare strings
#   like "name" "$got" 'regex'   grep -E
#   skip "name" "reason"
#   done_testing                 prints the plan; exits 1 if anything failed
set -u
T_N=0
T_FAILED=0
SANDQ_TOP=${SANDQ_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-build}
BIN=$SANDQ_TOP/$BUILD
PY=/usr/bin/python3

t_result() {
  T_N=$((T_N + 1))
  if [ "$1" -eq 0 ]; then echo "ok $T_N - $2"; else echo "not ok $T_N - $2"; T_FAILED=$((T_FAILED + 1)); fi
}

ok() {
  local name=$1; shift
  local out
  out=$("$@" 2>&1); local rc=$?
  t_result $rc "$name"
  [ $rc -eq 0 ] || printf '#   %s\n' "command failed ($rc): $*" "${out:0:2000}"
  return $rc
}

not_ok() {
  local name=$1; shift
  "$@" >/dev/null 2>&1; local rc=$?
  [ $rc -ne 0 ]; t_result $? "$name"
}

is() {
  [ "$2" = "$3" ]; local rc=$?
  t_result $rc "$1"
  [ $rc -eq 0 ] || printf '#   got:  %s\n#   want: %s\n' "${2:0:2000}" "$3"
  return $rc
}

like() {
  printf '%s' "$2" | grep -qE -- "$3"; local rc=$?
  t_result $rc "$1"
  [ $rc -eq 0 ] || printf '#   got:  %s\n#   want match: %s\n' "${2:0:2000}" "$3"
  return $rc
}

unlike() {
  ! printf '%s' "$2" | grep -qE -- "$3"; local rc=$?
  t_result $rc "$1"
  [ $rc -eq 0 ] || printf '#   got:  %s\n#   must not match: %s\n' "${2:0:2000}" "$3"
  return $rc
}

skip() {
  T_N=$((T_N + 1))
  echo "ok $T_N - $1 # SKIP $2"
}

# Skips the whole file (with one reported skip) unless running as root.
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    skip "${1:-this file}" "needs root"
    echo "1..$T_N"
    exit 0
  fi
}

# JSON field from a one-line object, via Debian's python.
jget() { "$PY" -c 'import json,sys; v=json.loads(sys.argv[1]); 
for k in sys.argv[2].split("."): v=v[k] if isinstance(v,dict) else v[int(k)]
print("null" if v is None else v)' "$1" "$2" 2>/dev/null; }

# Processes of sandboxes still alive: those of the sandbox uids (800000 and
# up, as every test uses) plus any process, such as a sandbox's init,
# still inside one of sandq's job cgroups.
# The processes in sandq's job cgroups, wherever the subtree is: per-job
# directories (j*) and, on v1, the reusable sets (p*) of a worker.
job_cgroup_procs() {
  find /sys/fs/cgroup -maxdepth 10 -path '*/sandq/*/[jp][0-9]*' -name cgroup.procs \
    -exec cat {} + 2>/dev/null | sort -u
}

sandbox_procs() {
  # Zombies are dead: they wait only for init to reap them.
  { ps -e -o pid=,uid=,stat= | awk '$2 >= 800000 && $2 < 900000 && $3 !~ /^Z/ {print $1}'
    job_cgroup_procs; } | sort -u | grep -c .
}

done_testing() {
  echo "1..$T_N"
  [ "$T_FAILED" -eq 0 ]
}
