#!/usr/bin/env bash
# The README's producer examples, run as written against local mode's real listener: the curl
# and Python (botocore) ones SigV4-sign under AWS_IAM, the JavaScript one (Node's fetch) sends
# local mode's token under JWT. Each must get a 201 with a payload id. Each example is the
# fenced block after its `<!-- readme-example: NAME -->` marker. Runs under
# tests/with-endpoint.sh (the local AWS endpoint and its standard test credentials).
#
#   tests/api/readme_examples.sh PATH-TO-claimcheck AWS_IAM|JWT
set -euo pipefail
claimcheck=${1:?usage: readme_examples.sh PATH-TO-claimcheck AWS_IAM|JWT}
mode=${2:?usage: readme_examples.sh PATH-TO-claimcheck AWS_IAM|JWT}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${CLAIMCHECK_PYTHON:-$root/.venv/bin/python}

# The fenced block after the marker `<!-- readme-example: NAME -->` in README.md.
example() {
  "$python" - "$root/README.md" "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"<!-- readme-example: %s -->\n```[a-z]*\n(.*?)\n```" % re.escape(sys.argv[2]), text, re.S)
if not match:
    sys.exit(f"README.md has no example {sys.argv[2]!r}")
print(match.group(1))
PY
}

# A run's output must name a payload id (a UUID), on its own or as JSON's "id".
expect_id() {
  local name=$1 output=$2
  if ! grep -Eq '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' <<<"$output"; then
    echo "README example $name did not get a payload id; it printed:" >&2
    echo "$output" >&2
    exit 1
  fi
  echo "README example $name: 201, payload $(grep -Eo '[0-9a-f]{8}-[0-9a-f-]{27}' <<<"$output" | head -1)"
}

source "$root/scripts/lib/local-mode.sh"
local_mode_start "$claimcheck" "readme-$$" --api-authorization "$mode"
CLAIMCHECK_API_URL=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["api_url"]["value"])' "$work/outputs.json")
export CLAIMCHECK_API_URL

case $mode in
  AWS_IAM)
    expect_id curl "$(bash -euo pipefail -c "$(example curl)")"
    expect_id python "$("$python" -c "$(example python)")"
    # Unsigned, the same request is refused: the examples pass because they sign.
    status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      --data '{"content_type": "text/plain", "content_length": 5}' "$CLAIMCHECK_API_URL/uploads")
    [[ $status == 403 ]] || { echo "an unsigned request got $status, not 403" >&2; exit 1; }
    ;;
  JWT)
    CLAIMCHECK_TOKEN=$(sed -n 's/^CLAIMCHECK_TOKEN=//p' "$work/local.out")
    export CLAIMCHECK_TOKEN
    expect_id javascript "$(node --input-type=module -e "$(example javascript)")"
    ;;
  *)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
