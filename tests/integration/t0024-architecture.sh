#!/usr/bin/env bash
# The layering docs/architecture.md describes holds in the code: who may
# include whom, and one owner of the Redis protocol.
. "$(dirname "$0")/../lib.sh"
cd "$SANDQ_TOP" || exit 1
FREE="err log util status tree joblimits fdpass cleanup version"
QUEUE="redis proto fleet jobread spec archive config"

# includes FILE...: the project headers the files include, as dir/name.
includes() {
  for f in "$@"; do
    d=$(dirname "$f")
    sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r h; do
      case $h in
        ../*) echo "${h#../}" ;;
        *) echo "$d/$h" ;;
      esac
    done
  done | sed 's/\.h$//' | sort -u
}
in_list() { [[ " $2 " == *" $1 "* ]]; }

bad=""
for f in common/*.[ch]; do
  b=$(basename "${f%.*}")
  in_list "$b" "$FREE" || continue
  for h in $(includes "$f"); do
    case $h in
      common/*) in_list "${h#common/}" "$FREE" || bad="$bad $f:$h" ;;
      *) bad="$bad $f:$h" ;;
    esac
  done
  grep -lE '#include <(hiredis|jansson|archive)' "$f" >/dev/null && bad="$bad $f:<queue library>"
done
is "dependency-free common/ includes only itself" "$bad" ""

bad=""
for h in $(includes common/*.[ch]); do
  case $h in sandbox/*|worker/*|submitter/*) bad="$bad $h" ;; esac
done
is "common/ includes nothing of sandbox/, worker/ or submitter/" "$bad" ""

bad=""
for h in $(includes sandbox/*.[ch]); do
  case $h in
    sandbox/*) ;;
    common/*) in_list "${h#common/}" "$FREE" || bad="$bad $h" ;;
    *) bad="$bad $h" ;;
  esac
done
is "sandbox/ includes only itself and dependency-free common/" "$bad" ""
is "sandbox/ uses no Redis, JSON or libarchive" \
  "$(grep -lE '#include <(hiredis|jansson|archive)' sandbox/*.[ch] | tr '\n' ' ')" ""

bad=""
for h in $(includes submitter/*.[ch]); do
  case $h in sandbox/*|worker/*) bad="$bad $h" ;; esac
done
is "submitter/ includes nothing of sandbox/ or worker/" "$bad" ""

# One owner of the protocol: no other product file sends a command or
# names a key.
is "only common/ sends Redis commands" \
  "$(grep -lE 'sq_redis_(cmdf?|eval) \(' worker/*.c submitter/*.c sandbox/*.c | tr '\n' ' ')" ""
is "only common/ names a sandq key" \
  "$(grep -lE '"sandq:[^ /]' worker/*.c submitter/*.c sandbox/*.c | tr '\n' ' ')" ""
owners=$(grep -lE 'sq_redis_(cmdf?|eval) \(' common/*.c | grep -v -e '^common/redis.c$' -e '^common/redis_script.c$' | sort | tr '\n' ' ')
is "... and there, proto.c, fleet.c and jobread.c" "$owners" \
  "common/fleet.c common/jobread.c common/proto.c "
is "every script in common/lua is in the protocol's appendix" \
  "$(for f in common/lua/*.lua; do grep -q "^### $(basename "$f")\$" docs/protocol.md || echo "$f"; done)" ""
done_testing
