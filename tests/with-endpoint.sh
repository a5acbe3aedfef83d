#!/usr/bin/env bash
# Runs a command against a fresh local AWS endpoint: moto's server (S3, SQS, DynamoDB on one
# port, see tests/local_endpoint.py) from the project venv, on a free loopback port. The endpoint is selected only through
# the SDKs' standard AWS_ENDPOINT_URL, with dummy credentials and a region. The server is
# stopped when the command ends, whether it passed or failed. Its log (which holds presigned
# URLs) lives in the build directory (removed by `cargo clean` / `make clean`), and is deleted
# when the command succeeds; kept, with its path printed, when it fails.
#
# CLAIMCHECK_ENDPOINT_TLS=1 serves the endpoint over HTTPS instead, as AWS is (for benchmarks
# that must pay for TLS as production does), with kept-alive connections. A throwaway CA and a
# server certificate it issued (127.0.0.1 and localhost; tests/tls_certificate.py) are made
# beside the log and removed when the command ends, whatever its outcome. The command is told
# to trust that CA, and only it, through the variables each client reads:
#   AWS_ENDPOINT_URL=https://127.0.0.1:PORT
#   SSL_CERT_FILE           rustls-native-certs, which the Rust SDK and reqwest load their
#                           trust roots with, and OpenSSL's defaults (Python's ssl): it replaces
#                           the system store, so no other HTTPS host is trusted by the command
#   AWS_CA_BUNDLE           boto3/botocore
#   REQUESTS_CA_BUNDLE      requests
#   CLAIMCHECK_ENDPOINT_CA  for code that opens TLS connections itself
# Unset or 0, plain HTTP, exactly as without the variable.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CLAIMCHECK_VENV:-$root/.venv}
python=$venv/bin/python

tls=${CLAIMCHECK_ENDPOINT_TLS:-}
case $tls in
  1) ;;
  0 | "") tls= ;;
  *)
    echo "CLAIMCHECK_ENDPOINT_TLS must be 1 (HTTPS) or 0 or unset (HTTP), not '$tls'" >&2
    exit 2
    ;;
esac

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log_dir=${CARGO_TARGET_DIR:-$root/target}/endpoint-logs
mkdir -p "$log_dir"
log="$log_dir/claimcheck-endpoint-$port.log"
server_args=(127.0.0.1 "$port")
tls_dir=
if [[ -n $tls ]]; then
  tls_dir="$log_dir/claimcheck-endpoint-$port-tls"
  # The server's private key is in there: never left behind, not even by a failed generation.
  if ! "$python" "$root/tests/tls_certificate.py" "$tls_dir"; then
    rm -rf "$tls_dir"
    exit 1
  fi
  ca="$tls_dir/ca.pem"
  # SSL_CERT_DIR would add a directory of trusted roots beside SSL_CERT_FILE (rustls-native-certs
  # and OpenSSL read both): unset, the throwaway CA is the only one trusted.
  unset SSL_CERT_DIR
  server_args+=("$tls_dir/server.pem" "$tls_dir/server.key")
fi
"$python" "$root/tests/local_endpoint.py" "${server_args[@]}" >"$log" 2>&1 &
server=$!
stop() {
  local status=$?
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [[ -n $tls_dir ]]; then
    rm -rf "$tls_dir"
  fi
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
ready=(-c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/moto-api/', timeout=1)" "$endpoint")
if [[ -n $tls ]]; then
  endpoint="https://127.0.0.1:$port"
  # Ready means a verified handshake: the certificate checked against the CA (and nothing
  # else), for the address clients connect to.
  ready=(-c "import ssl, sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/moto-api/', timeout=1, context=ssl.create_default_context(cafile=sys.argv[2]))" "$endpoint" "$ca")
fi
for _ in $(seq 1 100); do
  if "$python" "${ready[@]}" 2>/dev/null; then
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
if [[ -n $tls ]]; then
  export SSL_CERT_FILE="$ca" AWS_CA_BUNDLE="$ca" REQUESTS_CA_BUNDLE="$ca" CLAIMCHECK_ENDPOINT_CA="$ca"
  echo "local AWS endpoint: $endpoint (log: $log; CA: $ca)"
else
  echo "local AWS endpoint: $endpoint (log: $log)"
fi
"$@"
