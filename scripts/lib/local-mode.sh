# Sourced by scripts that run `claimcheck local` for a while (make demo, the API fuzz run):
# a work directory removed on exit, and local mode started in the background with its outputs
# file, stopped on exit. Needs the local AWS endpoint (tests/with-endpoint.sh).
#
#   source scripts/lib/local-mode.sh
#   local_mode_start PATH-TO-claimcheck NAME [claimcheck local flags...]
#   ... $work/outputs.json (terraform output -json form), $work/local.out, $work/local.log,
#   $work/metrics.jsonl (the handlers' EMF metrics, which `claimcheck stats` reads)
work=$(mktemp -d)
local_pid=
local_mode_stop() {
  if [[ -n $local_pid ]]; then
    kill -TERM "$local_pid" 2>/dev/null || true
    wait "$local_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap local_mode_stop EXIT INT TERM

local_mode_start() {
  local claimcheck=$1 name=$2
  shift 2
  "$claimcheck" local --name "$name" --write-outputs "$work/outputs.json" \
    --metrics-log "$work/metrics.jsonl" "$@" \
    >"$work/local.out" 2>"$work/local.log" &
  local_pid=$!
  for _ in $(seq 1 100); do [[ -s $work/outputs.json ]] && return 0; sleep 0.1; done
  echo "claimcheck local did not start; its log:" >&2
  cat "$work/local.log" >&2
  return 1
}
