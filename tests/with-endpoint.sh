#!/usr/bin/env bash
# Runs a command against a fresh local AWS endpoint: moto's server (S3, SQS, DynamoDB on one
# port, see tests/local_endpoint.py) from the project venv, on a free loopback port. The endpoint is selected only through
# the SDKs' standard AWS_ENDPOINT_URL, with dummy credentials and a region. The server is
# stopped when the command ends, whether it passed or failed. Its log (which holds presigned
# URLs) lives in the build directory (removed by `cargo clean` / `make clean`), and is deleted
# when the command succeeds; kept, with its path printed, when it fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CLAIMCHECK_VENV:-$root/.venv}
python=$venv/bin/python

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log_dir=${CARGO_TARGET_DIR:-$root/target}/endpoint-logs
mkdir -p "$log_dir"
log="$log_dir/claimcheck-endpoint-$port.log"
"$python" "$root/tests/local_endpoint.py" 127.0.0.1 "$port" >"$log" 2>&1 &
server=$!
stop() {
  local status=$?
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [[ $status == 0 ]]; then
    rm -f "$log"
  else
    echo "the local AWS endpoint's log: $log" >&2
  fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/moto-api/', timeout=1)" "$endpoint" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the local AWS endpoint did not start; its log ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done

export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export CLAIMCHECK_PYTHON="$python"
export CLAIMCHECK_INTEROP_SCRIPT="$root/tests/interop/python_client.py"
echo "local AWS endpoint: $endpoint (log: $log)"
"$@"
