#!/usr/bin/env bash
# Runs last: after every test, nothing of sandq may be left on the host.
# Each test stops what it started, and what a test killed outright is
# swept by the next sandq start in the same cgroup (tests/queue-lib.sh
# does that start); so a leftover here is a cleanup promise that does
# not hold: a process, a cgroup directory, a mount, a link, a test's
# redis-server, a /tmp/sandq-* directory made since tests/run began.
. "$(dirname "$0")/lib.sh"
need_root "nothing of sandq is left after the suite"

# Zombies are dead: they wait only for their reaper.
is "no sandq process is left" \
  "$(ps -e -o pid=,stat=,args= | awk '$2 !~ /^Z/ && $3 ~ /(^|\/)sandq-(worker|archiver|sandbox|net|init)$/ \
     || $3 ~ /(^|\/)sandq$/ && $4 == "mcp"' | head -5)" ""
is "no sandbox process is left (sandbox uids, job cgroups)" "$(sandbox_procs)" 0
is "no test redis-server is left" "$(pgrep -a -f 'redis-server .*sandq-qtest' | head -3)" ""

# The sandq directories of this process's own cgroups (where every test's
# sandq processes made theirs): no instance may be left in one, and on
# v1, where the last sandq process removes the directory itself, no
# directory either. On v2 the directory goes with the service's cgroup.
unified=/sys/fs/cgroup/unified
[ -f /sys/fs/cgroup/cgroup.controllers ] && unified=/sys/fs/cgroup
left=""
while IFS=: read -r _ ctrls path; do
  case "$ctrls" in
    "") dir=$unified${path%/}/sandq ;;
    *memory* | *pids* | *cpu*) dir=/sys/fs/cgroup/${ctrls}${path%/}/sandq ;;
    *) continue ;;
  esac
  [ -d "$dir" ] || continue
  inside=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | head -3)
  if [ -n "$inside" ]; then
    left="$left $inside"
  elif [ -n "$ctrls" ]; then
    left="$left $dir"
  fi
done < /proc/self/cgroup
is "no sandq cgroup directory is left in this cgroup" "${left# }" ""

# Mount points only (where the tree itself is mounted, as in the v2
# guest, is not one of sandq's).
is "no mount of sandq's is left" \
  "$(awk -v top="$SANDQ_TOP" '$5 ~ /sandq/ && $5 != top {print $5}' /proc/self/mountinfo | head -3)" ""
# The tests' temporary directories (mktemp -d); files such as a log that
# a CI run tees there while the suite runs are not the tests'.
if [ -n "${SANDQ_RUN_STAMP:-}" ] && [ -f "$SANDQ_RUN_STAMP" ]; then
  is "no temporary directory of the tests' is left in /tmp" \
    "$(find /tmp -maxdepth 1 -type d -name 'sandq-*' -newer "$SANDQ_RUN_STAMP" | head -3)" ""
else
  skip "no temporary directory of the tests' is left in /tmp" \
    "run by tests/run, which marks its start"
fi
is "no job network link is left" "$(ls /sys/class/net | grep '^sqn' | head -3)" ""

done_testing
