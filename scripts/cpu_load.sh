#!/usr/bin/env bash
# Run a command while busy processes load every core, to prove the tests do not need a quiet machine.
#   scripts/cpu_load.sh ./test.sh                    # two busy processes (CPU_LOAD_PROCS=2) for the run
#   for i in 1 2 3; do scripts/cpu_load.sh ./test.sh || break; done
# The busy processes are this script's own children and stop with the command (or Ctrl-C).
set -uo pipefail
if [ $# -eq 0 ]; then
  echo "usage: scripts/cpu_load.sh COMMAND [ARGS...]" >&2
  exit 2
fi
procs="${CPU_LOAD_PROCS:-2}"
pids=()
stop_load() {
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
  fi
  pids=()
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT
trap 'stop_load; exit 143' TERM
for _ in $(seq "$procs"); do
  ( trap - EXIT INT TERM; while :; do :; done ) &
  pids+=("$!")
done
echo "cpu_load: ${#pids[@]} busy processes (pids ${pids[*]}) while running: $*" >&2
"$@"
status=$?
stop_load
exit "$status"
