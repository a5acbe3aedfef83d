#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine. Runs under tests/with-endpoint.sh (which
# starts the local AWS endpoint and sets AWS_ENDPOINT_URL), starts `claimcheck local`, uploads
# sample files, follows each payload through the ledger, dead-letters a poison payload and
# redrives it once its fault is cleared, downloads one back, ends with `claimcheck stats`
# (payloads by ledger state and the functions' metrics), and stops what it started.
set -euo pipefail
claimcheck=${1:?usage: demo.sh PATH-TO-claimcheck}
source "$(dirname "${BASH_SOURCE[0]}")/lib/local-mode.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting local mode (the five handlers and their triggers)"
touch "$work/poison-on"
# Short timings so the poison payload dead-letters within seconds; everything else is
# Terraform's configuration.
local_mode_start "$claimcheck" "demo-$$" --poison-switch "$work/poison-on" \
  --visibility-timeout 2 --max-receive-count 3 --reconcile-every 30
export CLAIMCHECK_OUTPUTS=$work/outputs.json
cat "$work/local.out"

say "the API's authorization is Terraform's default, AWS_IAM: the claimcheck command signs"
api=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["api_url"]["value"])' "$work/outputs.json")
unsigned=$(curl -s -w ' (HTTP %{http_code})' -H 'content-type: application/json' \
  --data '{"content_type": "text/plain", "content_length": 5}' "$api/uploads")
echo "  an unsigned POST /uploads: $unsigned"
[[ $unsigned == *"(HTTP 403)" ]] || { echo "expected 403 for an unsigned request" >&2; exit 1; }

say "sample files"
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
with open(os.path.join(work, "orders.csv"), "w") as f:
    f.write("id,item,qty\n")
    for i in range(2000):
        f.write(f"{i},widget-{i % 17},{i % 5 + 1}\n")
with open(os.path.join(work, "events.jsonl"), "w") as f:
    for i in range(60000):
        f.write('{"event": %d, "kind": "click", "note": "ünïcode ✓"}\n' % i)
with open(os.path.join(work, "archive.bin"), "wb") as f:
    for _ in range(48):
        f.write(os.urandom(1 << 20))
with open(os.path.join(work, "poison.dat"), "w") as f:
    f.write("this payload fails until the fault switch is cleared\n")
PY
ls -l "$work"/orders.csv "$work"/events.jsonl "$work"/archive.bin "$work"/poison.dat

# Follows a payload through the ledger in the background, writing each new state to a file,
# until it reaches one of the given states.
journey() {
  local id=$1 until=$2 last= status
  for _ in $(seq 1 600); do
    status=$("$claimcheck" status "$id" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' || true)
    if [[ -n $status && $status != "$last" ]]; then
      printf '%s' "${last:+ -> }$status"
      last=$status
    fi
    [[ -n $status && " $until " == *" $status "* ]] && { echo; return 0; }
    sleep 0.1
  done
  echo " (still $status)"; return 1
}

say "uploading through the API (presigned PUT, SHA-256 pinned), following each in the ledger"
ids=() watchers=()
for file in orders.csv events.jsonl archive.bin; do
  id=$("$claimcheck" upload "$work/$file")
  ids+=("$id")
  journey "$id" done >"$work/journey-$id" &
  watchers+=($!)
done
poison=$("$claimcheck" upload "$work/poison.dat" --content-type application/x-claimcheck-poison)
journey "$poison" dead >"$work/journey-$poison" &
watchers+=($!)

say "each payload's journey through the ledger"
wait "${watchers[@]}"
for id in "${ids[@]}"; do
  echo "  $id: $(cat "$work/journey-$id")"
done

say "the poison payload failed on every attempt and dead-lettered"
echo "  $poison: $(cat "$work/journey-$poison")"
# The ledger records the last failure as it happens; SQS moves the message to the DLQ on the
# next receive after its visibility timeout. Wait for it there.
for _ in $(seq 1 100); do
  "$claimcheck" redrive --dry-run --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["stats"]["scanned"] else 1)' && break
  sleep 0.2
done
"$claimcheck" failed

say "clearing the fault, then redriving the DLQ (checked: payload present, not done)"
rm "$work/poison-on"
"$claimcheck" redrive
printf '  %s: ' "$poison"
journey "$poison" done

say "downloading one back (size and SHA-256 verified against the ledger)"
"$claimcheck" download "${ids[2]}" -o "$work/archive.copy"
cmp "$work/archive.bin" "$work/archive.copy" && echo "  identical"

say "local mode's log (one line per event; no URLs, no payload bytes)"
tail -n 12 "$work/local.log"

say "claimcheck stats: payloads by ledger state, and the functions' CloudWatch metrics (EMF)"
"$claimcheck" stats
say "done: stopping local mode and the endpoint"
