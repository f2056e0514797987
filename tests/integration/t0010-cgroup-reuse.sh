#!/usr/bin/env bash
# A worker on cgroup v1 keeps each job's cgroups and hands them to later
# jobs (sandbox/cgroup.h, struct cg_set). A reused set must not leak
# anything from one job into the next: each job's CPU time, pids and
# memory verdicts and memory peak are its own, and so are its limits. A
# memory cgroup left with more than 1 MiB charged is made anew.
. "$(dirname "$0")/../lib.sh"
need_root "cgroup reuse"
. "$SANDQ_TOP/tests/queue-lib.sh"

if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
  skip "cgroup reuse" "pure cgroup v2: every job gets a fresh cgroup there"
  done_testing; exit 0
fi
redis_start || { t_result 1 "redis-server starts"; done_testing; exit 1; }
# One slot: with the sandbox made ahead of the next job, two or three sets
# take turns, so a run of four jobs reuses one.
worker_start w1 --concurrency 1 || { done_testing; exit 1; }
inst=$(find /sys/fs/cgroup/pids -maxdepth 8 -type d -name "$(wpid w1)-*" 2>/dev/null | head -1)
ok "the worker's pids cgroup instance exists" test -n "$inst"

run() { # run LABEL [submit args...] -- COMMAND: the job id in $id
  shift
  id=$(SQ submit "$@") && SQ wait "$id" >/dev/null
  return 0
}

# CPU time: a job that burns CPU, then jobs that burn none. Without a
# baseline the later ones would report the earlier one's time.
run spin --wall 1 -- sh -c 'while :; do :; done'
spin_ms=$(job_field "$id" cpu_ms)
ok "a spinning job uses CPU ($spin_ms ms)" test "${spin_ms:-0}" -ge 200
for i in 1 2 3 4; do
  run idle -- true
  ms=$(job_field "$id" cpu_ms)
  ok "job $i after it reports its own CPU time ($ms ms)" test "${ms:-999999}" -lt $((spin_ms / 2))
done

# pids: a job that hits its pids cap, then jobs that fail for another
# reason. pids.events counts for the cgroup's life, not the job's.
run bomb --pids 8 -- sh -c 'for i in $(seq 20); do sleep 5 & done; wait'
is "a job over its pids cap: pids_limit" "$(job_field "$id" status)" pids_limit
for i in 1 2 3 4; do
  run exit3 -- sh -c 'exit 3'
  is "job $i after it: nonzero_exit, not pids_limit" "$(job_field "$id" status)" nonzero_exit
done
# ... and a job allowed more processes gets them, whatever the set held.
for i in 1 2 3; do
  run many --pids 100 -- sh -c 'for i in $(seq 30); do sleep 0.2 & done; wait'
  is "job $i with --pids 100 starts 30 processes" "$(job_field "$id" status)" ok
done

# Memory: a job killed at its cap, then jobs that fail for another reason
# (the oom_kill count lives as long as the cgroup), then a job allowed
# more than the killed one had.
run oom --memory 64M -- python3 -c 'x = bytearray(200 << 20)'
is "a job over its memory cap: memory_limit" "$(job_field "$id" status)" memory_limit
for i in 1 2 3; do
  run exit3 -- sh -c 'exit 3'
  is "job $i after it: nonzero_exit, not memory_limit" "$(job_field "$id" status)" nonzero_exit
done
for i in 1 2 3; do
  run big --memory 256M -- python3 -c 'x = bytearray(100 << 20); x[::4096] = b"y" * len(x[::4096])'
  is "job $i with --memory 256M holds 100 MiB" "$(job_field "$id" status)" ok
  ok "... and its peak says so ($(job_field "$id" memory_peak_bytes))" \
    test "$(job_field "$id" memory_peak_bytes)" -ge $((100 << 20))
done
# A job that leaves 20 MiB or more charged: the page cache of a host file
# it read first (evicted here beforehand), which outlives the job. The
# next jobs' peaks do not include it.
big=$(find /usr/lib -xdev -type f -size +20M -size -300M 2>/dev/null | head -1)
if [ -n "$big" ]; then
  "$PY" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$big"
  run heavy -- sh -c 'cat "$0" > /dev/null' "$big"
  is "a job reads $big" "$(job_field "$id" status)" ok
  for i in 1 2 3; do
    run light -- true
    ok "job $i after one that left its page cache charged: a peak of its own ($(job_field "$id" memory_peak_bytes))" \
      test "$(job_field "$id" memory_peak_bytes)" -lt $((8 << 20))
  done
else
  skip "jobs after one that left its page cache charged" "no file of 20-300 MiB under /usr/lib"
fi

# CPU bandwidth: a job capped at 0.1 core, then uncapped jobs in the same
# sets. A stale quota would hold them to 0.1 core too.
run capped --cpus 0.1 --wall 1 -- sh -c 'while :; do :; done'
cap_ms=$(job_field "$id" cpu_ms)
ok "a job capped at 0.1 core gets little CPU in 1 s ($cap_ms ms)" test "${cap_ms:-999999}" -le 250
for i in 1 2 3; do
  run free --wall 1 -- sh -c 'while :; do :; done'
  ms=$(job_field "$id" cpu_ms)
  ok "job $i after it, at 1 core, is not held to 0.1 ($ms ms)" test "${ms:-0}" -ge 350
done

# Reuse happens: after these jobs the pids hierarchy holds a few sets,
# not a cgroup per job, and no job cgroup is left.
sets=$(find "$inst" -mindepth 1 -maxdepth 1 -type d -name 'p*' | wc -l)
ok "a few reusable sets serve every job ($sets)" test "$sets" -ge 1 -a "$sets" -le 4
is "no per-job cgroup under pids" "$(find "$inst" -mindepth 1 -maxdepth 1 -type d -name 'j*' | wc -l)" 0
mem=$(find /sys/fs/cgroup/memory -maxdepth 8 -type d -name "$(wpid w1)-*" 2>/dev/null | head -1)
# The memory hierarchy holds the same sets, and no per-job cgroup.
is "no per-job cgroup under memory" "$(find "$mem" -mindepth 1 -maxdepth 1 -type d -name 'j*' | wc -l)" 0
is "the same sets under memory" "$(cd "$mem" && ls -d p[0-9]* | sort | tr '\n' ' ')" \
  "$(cd "$inst" && ls -d p[0-9]* | sort | tr '\n' ' ')"
# Between jobs only the sandbox made ahead for the next job is there: one
# task (its init, waiting) in all the sets; the bomb's sleepers are gone.
is "one task in all the sets: the next sandbox's init" "$(cat "$inst"/p*/tasks | wc -l)" 1

# A stopped worker removes its sets and instance.
worker_stop w1
is "worker exits 0" "$WSTATUS" 0
ok "its cgroup instance is gone" test ! -e "$inst"
# It was the only sandq process in its cgroups: the subtree goes too.
ok "... and, the last to leave, the subtree" test ! -e "${inst%/*}"
ok "... in the memory hierarchy too" test ! -e "${mem%/*}"

# A worker killed outright leaves its sets behind, a sandbox's init
# perhaps still in one; the next start on the host sweeps them.
worker_start w2 --concurrency 2 || { done_testing; exit 1; }
id=$(SQ submit -- true); SQ wait "$id" >/dev/null
inst2=$(find /sys/fs/cgroup/pids -maxdepth 8 -type d -name "$(wpid w2)-*" 2>/dev/null | head -1)
mem2=$(find /sys/fs/cgroup/memory -maxdepth 8 -type d -name "$(wpid w2)-*" 2>/dev/null | head -1)
ok "the second worker has reusable sets" test -n "$(ls -d "$inst2"/p* 2>/dev/null)"
worker_stop w2 KILL
ok "killed, it leaves them behind" test -d "$inst2"
worker_start w3 --concurrency 1 || { done_testing; exit 1; }
ok "the next worker's start sweeps the dead one's sets" wait_for 10 "test ! -e '$inst2'"
ok "... and its memory cgroups" test ! -e "$mem2"
worker_stop w3
ok "the last worker leaves no subtree behind" test ! -e "${inst2%/*}"
ok "... in the memory hierarchy either" test ! -e "${mem2%/*}"
done_testing
