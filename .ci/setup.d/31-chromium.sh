# Headless Chromium for the browser leg of the login tests (sourced by
# .ci/run; bash, set -euo pipefail, as root). Debian's chromium package.
if ! command -v chromium >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq chromium >/dev/null
fi
CREDCHAIN_CHROMIUM=$(command -v chromium)
# Debian's wrapper prints a harmless "[: unexpected operator" on --version.
chromium_version=$("$CREDCHAIN_CHROMIUM" --version 2>/dev/null || true)
echo "${chromium_version##*$'\n'}"
export CREDCHAIN_CHROMIUM
