#!/usr/bin/env bash
# The infrastructure checks in `make test`: terraform fmt, checkov (zero failed checks; every
# skip is written next to its resource with a reason) and the tests that parse the HCL,
# including the IAM-versus-code comparison when the call log of the integration tests exists.
# checkov gets its own venv: its dependency pins clash with moto's.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$root/.venv-infra
if [[ ! -f $venv/.installed || $root/tests/infra/requirements.txt -nt $venv/.installed ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/infra/requirements.txt"
  touch "$venv/.installed"
fi
cd "$root"
TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive infra
echo "terraform fmt: ok"
"$venv/bin/checkov" --skip-download --quiet --compact -d infra --framework terraform
"$venv/bin/python" -m unittest discover -s tests/infra -p "test_*.py" -v 2>&1 | tail -n 25
