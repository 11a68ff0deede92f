# moto, the real STS and SigV4 verifier the providers/aws tests run against
# (sourced by .ci/run; bash, set -euo pipefail, as root).
#
# moto (with its server extras) comes only from the machine image's pyenv
# Python: Debian has no python3-moto and PyPI is not reachable, so nothing
# can be installed here. Fail loudly when it is missing, and hand the tests
# the interpreter that has it (itest.StartMoto reads MOTO_PYTHON).
if ! MOTO_PYTHON=$(python3 -c 'import moto, sys; print(sys.executable)' 2>/dev/null); then
	echo "20-cloud.sh: python3 cannot import moto; the providers/aws tests need moto's server." >&2
	echo "It ships with the machine image's Python (pyenv 3.11.7, moto 5.2.1); check PATH/PYENV_ROOT." >&2
	python3 -c 'import moto' || true
	exit 1
fi
"$MOTO_PYTHON" -c 'import moto.server, flask; import moto; print("moto", moto.__version__, "at", moto.__file__)'
export MOTO_PYTHON

# The AWS CLI (pip awscli from the same image Python) is the real client
# cmd/credchain's TestBedrockCLI runs under `credchain exec`.
if ! command -v aws >/dev/null; then
	echo "20-cloud.sh: the aws CLI is missing; it ships with the machine image's Python (pip awscli)." >&2
	exit 1
fi
aws --version
