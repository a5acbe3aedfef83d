#!/usr/bin/env bash
# The HTTP API's contract, fuzzed: schemathesis generates requests from api/openapi.yaml (valid
# and invalid ones, a bounded number per operation, a fixed seed) against local mode's real
# listener, and fails on a 5xx, a status or body the document does not allow, a wrong content
# type, or a crash. Runs under tests/with-endpoint.sh (the local AWS endpoint); installs
# schemathesis into .venv-api from requirements-fuzz.txt when that file changes.
set -euo pipefail
claimcheck=${1:?usage: fuzz.sh PATH-TO-claimcheck}
examples=${CLAIMCHECK_FUZZ_EXAMPLES:-40}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$root/.venv-api
stamp=$venv/.installed
if [[ ! -f $stamp || $root/tests/api/requirements-fuzz.txt -nt $stamp ]]; then
  echo "installing schemathesis into $venv (tests/api/requirements-fuzz.txt)"
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/api/requirements-fuzz.txt"
  touch "$stamp"
fi

source "$root/scripts/lib/local-mode.sh"
# JWT authorization, with a token local mode's issuer printed: every generated request is an
# authenticated one, so it reaches the handlers (tests/api_auth.rs covers refused callers).
# One caller makes every upload, so its cap on unused upload URLs is raised.
local_mode_start "$claimcheck" "fuzz-$$" --api-authorization JWT --max-pending-uploads 10000
api=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["api_url"]["value"])' "$work/outputs.json")
token=$(sed -n 's/^CLAIMCHECK_TOKEN=//p' "$work/local.out")
[[ -n $token ]] || { echo "claimcheck local printed no token" >&2; exit 1; }

# Every check about responses, and the stateful phase (an upload, then its payload through the
# document's link); not the checks that need a DELETE route (use_after_free and the like) or
# that probe authentication itself (tests/api_auth.rs does).
status=0
# From the work directory: schemathesis keeps a cache beside where it runs.
cd "$work"
"$venv/bin/st" run "$root/api/openapi.yaml" --url "$api" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection \
  --max-examples "$examples" --seed 20261130 --phases examples,coverage,fuzzing,stateful \
  --generation-database none --no-color --request-timeout 10 --workers 1 \
  >"$work/st.log" 2>&1 || status=$?
tail -n 80 "$work/st.log"
if [[ $status -ne 0 ]]; then
  echo "schemathesis found problems (exit $status); local mode's log:" >&2
  tail -n 40 "$work/local.log" >&2
  exit 1
fi
if ! kill -0 "$local_pid" 2>/dev/null; then
  echo "claimcheck local died during the fuzz run; its log:" >&2
  tail -n 40 "$work/local.log" >&2
  exit 1
fi
echo "api fuzz: schemathesis against local mode's listener, $examples examples per operation: no 5xx, no response outside api/openapi.yaml, no crash"
