#!/usr/bin/env bash
# The hostile corpus: one folder per case, each with a `case` file
#
#   expect=STATUS      the verdict sandq-sandbox must give
#   args="..."         extra sandq-sandbox options (limits)
#   cmd="..."          run inside with /bin/sh -c (\n for newlines)
#
# and optionally input/ (copied into the job dir with lib/*), prepare (run
# on the host with JOB set, before the run: e.g. to compile a probe; exit
# 77 skips the case, with the reason it prints on stdout), and
# host-check (bash, run on the host afterwards; non-zero fails the case).
#
# Every case also gets the generic host-side checks: no process of a
# sandbox uid survives, no canary (file contents, the CLI's environment,
# the job dir's host path) appears in anything the job produced, nothing
# owned by a sandbox uid appears in host temp dirs, and no job cgroup is
# left behind.
. "$(dirname "$0")/../lib.sh"
HERE=$SANDQ_TOP/tests/hostile
need_root "hostile corpus"

work=$(mktemp -d /tmp/sandq-hostile.XXXXXX)
rand=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
canary_file="CANARY-FILE-$rand"
canary_env="CANARY-ENV-$rand"
canary_pw="CANARY-PW-$rand"
printf '%s\n' "$canary_file" > /root/.sandq-canary
chmod 0644 /root/.sandq-canary
mkdir -p "$work/canary" && printf '%s\n' "$canary_file" > "$work/canary/secret"
chmod -R a+rX "$work/canary"
marker=$work/listener-hits
listen_name="sandq-test-$rand"
"$PY" "$HERE/listen.py" "$marker" "$listen_name" > "$work/port" &
listener=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
# A host process that `kill -9 -1` inside must not reach.
sleep 1000 & bystander=$!

cleanup() {
  kill "$listener" "$bystander" 2>/dev/null
  rm -rf "$work" /root/.sandq-canary
}
trap cleanup EXIT

# Job cgroups (j<N>) of any sandq instance; instance directories of live
# workers elsewhere on the machine are not leftovers.
cgroup_leftovers() {
  find /sys/fs/cgroup -path '*/sandq/*/j*' -type d 2>/dev/null | wc -l
}

only=${HOSTILE_ONLY:-}
# Every case runs twice: with the root built in place (the CLI's one-shot
# way) and copied from a template mount namespace (the worker's way).
for mode in in-place template; do
mode_arg=
[ "$mode" = template ] && mode_arg=--template
for dir in "$HERE"/*/; do
  name=$(basename "$dir")
  [ "$name" = lib ] && continue
  [ -f "$dir/case" ] || continue
  [ -n "$only" ] && [ "$name" != "$only" ] && continue
  expect= args= cmd=
  . "$dir/case"
  job=$work/jobs/$name-$mode
  rm -rf "$job"; mkdir -p "$job"
  cp "$HERE"/lib/* "$job/"
  [ -d "$dir/input" ] && cp -r "$dir/input/." "$job/"
  if [ -x "$dir/prepare" ]; then
    why=$(JOB="$job" "$dir/prepare"); prc=$?
    if [ "$prc" -eq 77 ]; then
      skip "$name [$mode]" "$why"
      continue
    elif [ "$prc" -ne 0 ]; then
      skip "$name [$mode]" "its prepare step failed (no C compiler?)"
      continue
    fi
  fi
  before=$(date +%s.%N)
  # shellcheck disable=SC2086
  res=$(env SANDQ_CANARY="$canary_env" REDIS_PASSWORD="$canary_pw" \
    "$BIN/sandq-sandbox" run $mode_arg $args --dir "$job" \
      --env LISTEN_PORT="$port" --env LISTEN_NAME="$listen_name" \
      --env CANARY_DIR="$work/canary" \
      --stdout "$work/$name.stdout" --stderr "$work/$name.stderr" \
      -- /bin/sh -c "$(printf '%b' "$cmd")" 2>"$work/$name.cli-stderr")
  status=$(jget "$res" status)
  is "$name [$mode]: verdict is $expect" "$status" "$expect" || {
    echo "#   result: $res"
    sed 's/^/#   stdout: /' "$work/$name.stdout" | head -5
    sed 's/^/#   stderr: /' "$work/$name.stderr" "$work/$name.cli-stderr" | head -10
  }
  # Everything the job produced, in one place, for the leak checks.
  produced=$( { cat "$work/$name.stdout" "$work/$name.stderr"; printf '%s' "$res";
                [ -d "$job/out" ] && find "$job/out" -type f -exec cat {} + ; } 2>/dev/null | tr '\0' '\n')
  leaks=""
  for c in "$canary_file" "$canary_env" "$canary_pw" "$job" "$work/jobs"; do
    case "$produced" in *"$c"*) leaks="$leaks $c";; esac
  done
  is "$name [$mode]: no canary or host path in the output" "$leaks" ""
  sleep 0.05
  is "$name [$mode]: no process of the sandbox survives" "$(sandbox_procs)" "0"
  is "$name [$mode]: no job cgroup is left" "$(cgroup_leftovers)" "0"
  stray=$(find /tmp /var/tmp /dev/shm /root /run -xdev \( -uid +799999 -a -uid -804096 \) 2>/dev/null | head -3)
  is "$name [$mode]: nothing of a sandbox uid on the host" "$stray" ""
  if [ -x "$dir/host-check" ]; then
    ok "$name [$mode]: host-side check" env JOB="$job" MARKER="$marker" WORK="$work" "$dir/host-check"
  fi
done
done
ok "the host bystander process survived every case" kill -0 "$bystander"
is "no connection ever reached the host listener" "$(cat "$marker" 2>/dev/null)" ""
done_testing
