#!/usr/bin/env bash
# The infrastructure checks in `make test`: terraform fmt, checkov (zero failed checks; every
# skip is written next to its resource with a reason) and the Python tests that parse the HCL.
# The IAM-versus-code comparison runs when CLAIMCHECK_CALL_LOG names the call log the
# integration tests wrote (the Makefile passes it); otherwise it is reported as skipped.
#
# checkov gets its own venv (.venv-infra): its dependency pins clash with moto's. python-hcl2
# goes beside it in .venv-infra/hcl2-lib, because checkov's bc-python-hcl2 installs a module of
# the same name. Both are reinstalled from scratch only when a requirements file changes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/tests/infra
venv=$root/.venv-infra
hcl2_lib=$venv/hcl2-lib
stamp=$venv/.installed
pip_flags=(--quiet --disable-pip-version-check)

if [[ ! -f $stamp || $here/requirements.txt -nt $stamp || $here/requirements-hcl2.txt -nt $stamp ]]; then
  echo "installing checkov and python-hcl2 into $venv (tests/infra/requirements*.txt)"
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install "${pip_flags[@]}" -r "$here/requirements.txt"
  "$venv/bin/pip" install "${pip_flags[@]}" --no-deps --target "$hcl2_lib" -r "$here/requirements-hcl2.txt"
  touch "$stamp"
fi

cd "$root"
if ! command -v terraform >/dev/null; then
  echo "terraform is not on PATH (1.5 or newer; only 'terraform fmt' is used here)" >&2
  exit 1
fi
TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive infra
echo "terraform fmt: ok"

"$venv/bin/checkov" --skip-download --quiet --compact -d infra --framework terraform

if [[ -n ${CLAIMCHECK_CALL_LOG:-} && -f ${CLAIMCHECK_CALL_LOG:-} ]]; then
  echo "IAM actions against the calls recorded in $CLAIMCHECK_CALL_LOG"
else
  echo "no call log (CLAIMCHECK_CALL_LOG): the IAM-versus-code test is skipped"
fi
PYTHONPATH="$hcl2_lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
  "$venv/bin/python" -m unittest discover -s tests/infra -p "test_*.py"
