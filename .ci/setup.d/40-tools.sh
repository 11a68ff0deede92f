# shellcheck shell=bash
# strace, which the embedder check (.ci/embedder-check.sh) and the start-up
# check (.ci/startup-check.sh) use to see every process a program starts and
# every connection it makes (sourced by .ci/run; bash, set -euo pipefail, as
# root). Debian's package; installed here so neither check runs without it.
if ! command -v strace >/dev/null 2>&1; then
	marker=/var/tmp/credchain-ci-apt-updated
	if [ ! -e "$marker" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
		touch "$marker"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends strace >/dev/null
fi
strace -V | head -1
