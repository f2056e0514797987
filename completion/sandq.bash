# bash completion for sandq, sandq-worker and sandq-sandbox.
# Commands and options come from the programs' own --help, so that they
# never fall behind; job ids are not completed (they live in Redis).

_sandq_opts() { # PROGRAM [ARGS...]: the long options its --help names
  "$@" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

_sandq() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local cmds="submit status wait result logs cancel stats dead workers drain pause resume mcp acl keygen"
  case "$prev" in
    --config|--result-dir|--secrets|--key|--seal-to) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --priority) COMPREPLY=($(compgen -W "high normal low" -- "$cur")); return ;;
  esac
  local i cmd=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      --redis|--config) ((i++)) ;;
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "$cmds --help --version --redis --config" -- "$cur"))
  elif [ "$cmd" = dead ] && [ "$i" -eq $((COMP_CWORD - 1)) ]; then
    COMPREPLY=($(compgen -W "list show retry purge" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_sandq_opts "${COMP_WORDS[0]}" "$cmd")" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}

_sandq_single() { # sandq-worker, sandq-sandbox
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  case "$prev" in
    --config|--dir|--stdin|--stdout|--stderr) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --log-level) COMPREPLY=($(compgen -W "err warning notice info debug" -- "$cur")); return ;;
  esac
  if [ "${COMP_WORDS[0]##*/}" = sandq-sandbox ] && [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "run info --help --version" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_sandq_opts "${COMP_WORDS[0]}")" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}

complete -F _sandq sandq
complete -F _sandq_single sandq-worker sandq-sandbox
