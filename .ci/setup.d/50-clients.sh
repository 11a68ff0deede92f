# The real clients the credential-helper protocol tests of cmd/credchain
# drive (sourced by .ci/run; bash, set -euo pipefail, as root): git, kubectl,
# the AWS CLI, the Docker CLI (no engine), and unshare/ip, which put each
# client test in a network namespace with only loopback.
#
# git, util-linux and iproute2 come from Debian. kubectl (Google's package,
# v1.32) and the pip AWS CLI 1.x come with the machine image and their
# repositories are not reachable: they are checked, not installed. The Docker
# CLI is only checked as well; a Docker engine is never installed.
clients_missing=()
for c in git unshare ip; do
	command -v "$c" >/dev/null 2>&1 || clients_missing+=("$c")
done
if [ ${#clients_missing[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq git util-linux iproute2 >/dev/null
fi
clients_fail=0
for c in git unshare ip kubectl aws docker; do
	if ! command -v "$c" >/dev/null 2>&1; then
		echo "50-clients.sh: $c is not on PATH; the cmd/credchain protocol tests need it." >&2
		case "$c" in
		kubectl) echo "  kubectl (>= 1.22, for ExecCredential v1) comes with the machine image (Google's kubectl package)." >&2 ;;
		aws) echo "  the AWS CLI comes with the machine image's pyenv Python (pip awscli 1.x); Debian's awscli (v2.9) also works." >&2 ;;
		docker) echo "  the Docker CLI (client only) comes with the machine image." >&2 ;;
		esac
		clients_fail=1
	fi
done
if [ "$clients_fail" -ne 0 ]; then
	exit 1
fi
# The namespace the tests rely on must work here (root, unshare allowed).
if ! unshare -n sh -c 'ip link set lo up && ip -o link show lo' >/dev/null; then
	echo "50-clients.sh: unshare -n does not work on this machine; the protocol tests run their clients in a loopback-only network namespace." >&2
	exit 1
fi
printf '50-clients.sh: %s; kubectl %s; %s; %s\n' "$(git --version)" \
	"$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p' | head -1)" \
	"$(aws --version 2>&1)" "$(docker --version)"
