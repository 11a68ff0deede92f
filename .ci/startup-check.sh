#!/usr/bin/env bash
# Start-up check of `credchain token` (issue 7). Not a timing assertion: it
# fails when work that does not belong there creeps into the start-up path
# of a run that resolves an environment credential.
#
#  1. Import graph (go list -deps): the library packages of that path
#     (resolver, cache, source, config, apikey, fdsource, oauthpkce) link no
#     AWS or Google SDK, so an embedder that does not import providers/aws or
#     providers/gcp links none; in the credchain binary (one binary, every
#     source) only providers/aws and providers/gcp import those SDKs.
#     Modules that must never be linked into the binary at all (browser
#     automation, telemetry, TUI, gRPC, ...) are not.
#  2. Package init (GODEBUG=inittrace=1): 99designs/keyring's init does not
#     probe D-Bus (upstream's does; see cache/internal/keyring/PATCHES.md) and
#     no package of a forbidden module initialises.
#  3. System calls (strace), once with a live private D-Bus session bus and
#     once with no bus but a dbus-launch on PATH: no connect() at all (no
#     D-Bus, no nscd, no network), no process started, no file opened under
#     HOME but credchain's own settings file (so no store, no ~/.aws, no
#     gcloud files are read), and the key is printed.
#  4. With bedrock turned on (a Bedrock API key), the same binary serves it
#     itself: the bearer token is printed, no process is started, nothing
#     is connected to (no STS call, no metadata endpoint).
#
# Usage: .ci/startup-check.sh            (builds ./cmd/credchain)
#        CREDCHAIN_BIN=path .ci/startup-check.sh   (checks that binary)
# Installs strace and dbus (dbus-run-session) from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

failures=0
fail() {
	echo "startup-check: FAIL: $*" >&2
	failures=$((failures + 1))
}
step() { echo "startup-check: $*"; }

# Modules the env-credential path of the library must not link.
sdk_re='^(github\.com/aws/|cloud\.google\.com/|google\.golang\.org/|github\.com/googleapis/|github\.com/Azure/|github\.com/AzureAD/)'
# Modules that must not be in the credchain binary at all.
forbidden_re='^(github\.com/chromedp/|go\.opentelemetry\.io/|github\.com/anthropics/|github\.com/charmbracelet/|google\.golang\.org/grpc|google\.golang\.org/api|github\.com/stretchr/|go\.uber\.org/goleak)'
# The only files under HOME credchain token may open with an env key: its
# settings file (regular expression, relative to HOME).
allowed_home_files='\.config/credchain/config\.(yaml|yml|json)'
# The only credchain packages allowed to import a cloud SDK package: the
# provider sources (a new one under providers/ needs no change here).
sdk_importers_re='^github\.com/credchain/credchain/providers/'

# ---------------------------------------------------------------- 1. imports
step "import graph"
for pkg in ./resolver ./cache ./source ./config ./apikey ./fdsource ./oauthpkce; do
	bad=$(go list -deps "$pkg" | grep -E "$sdk_re" || true)
	if [ -n "$bad" ]; then
		fail "$pkg links cloud SDK packages, so every program resolving an environment credential pays their init: $(echo "$bad" | head -5 | tr '\n' ' ')"
	fi
done
deps=$(go list -deps -f '{{.ImportPath}} {{join .Imports " "}}' ./cmd/credchain)
importers=$(echo "$deps" | awk -v sdk="$sdk_re" '$1 ~ /^github\.com\/credchain\/credchain/ { for (i = 2; i <= NF; i++) if ($i ~ sdk) { print $1; break } }')
for p in $importers; do
	if ! [[ $p =~ $sdk_importers_re ]]; then
		fail "$p imports a cloud SDK directly; only the provider sources under providers/ may (keep SDK types out of config, resolver and the sources without a cloud)"
	fi
done
bad=$(echo "$deps" | awk '{print $1}' | grep -E "$forbidden_re" || true)
if [ -n "$bad" ]; then
	fail "the credchain binary links modules that must stay out of it: $(echo "$bad" | head -5 | tr '\n' ' ')"
fi

# ----------------------------------------------------------------- binaries
need=()
command -v strace >/dev/null || need+=(strace)
command -v dbus-run-session >/dev/null || need+=(dbus)
if [ "${#need[@]}" -gt 0 ]; then
	step "installing ${need[*]}"
	marker=/var/tmp/credchain-ci-apt-updated
	if [ ! -e "$marker" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
		touch "$marker"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
fi
for c in strace dbus-run-session; do
	command -v "$c" >/dev/null || {
		echo "startup-check: $c is missing (Debian packages strace, dbus)" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/credchain-startup-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin=${CREDCHAIN_BIN:-}
if [ -z "$bin" ]; then
	step "building credchain"
	go build -trimpath -o "$work/credchain" ./cmd/credchain
	bin=$work/credchain
fi

# A HOME where every cloud SDK and store would find something to read.
home=$work/home
mkdir -p "$home/.aws" "$home/.config/gcloud" "$home/.config/credchain" "$work/fakebin" "$work/run"
chmod 700 "$home" "$work/run"
printf '[default]\nregion = us-east-1\n' >"$home/.aws/config"
printf '[default]\naws_access_key_id = AKIDSTARTUPCHECK\naws_secret_access_key = startup-check\n' >"$home/.aws/credentials"
printf '{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}\n' >"$home/.config/gcloud/application_default_credentials.json"
# A dbus-launch that records being run (godbus autolaunches it when no bus
# address is set).
cat >"$work/fakebin/dbus-launch" <<EOF
#!/bin/sh
touch "$work/dbus-launch-ran"
exit 1
EOF
chmod +x "$work/fakebin/dbus-launch"
key="sk-ant-startup-check-$RANDOM$RANDOM"
run_env=(env -i PATH="$work/fakebin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	HOME="$home" XDG_RUNTIME_DIR="$work/run" ANTHROPIC_API_KEY="$key")

# ------------------------------------------------------------- 2. inittrace
step "package init (GODEBUG=inittrace=1)"
if ! "${run_env[@]}" GODEBUG=inittrace=1 "$bin" token >"$work/init.out" 2>"$work/init.err"; then
	fail "credchain token failed: $(grep -v '^init ' "$work/init.err" | head -5)"
fi
# "init <pkg> @T ms, C ms clock, B bytes, A allocs"
kr_allocs=$(awk '$1 == "init" && $2 == "github.com/credchain/credchain/cache/internal/keyring" { print $(NF-1) }' "$work/init.err")
if [ -n "$kr_allocs" ] && [ "$kr_allocs" -gt 16 ]; then
	fail "cache/internal/keyring's init made $kr_allocs allocations (the patched one makes ~5): it probes D-Bus again (see cache/internal/keyring/PATCHES.md)"
fi
bad=$(awk '$1 == "init" { print $2 }' "$work/init.err" | grep -E "$forbidden_re" || true)
if [ -n "$bad" ]; then
	fail "packages of forbidden modules initialise in credchain token: $(echo "$bad" | head -5 | tr '\n' ' ')"
fi
if [ -e "$work/dbus-launch-ran" ]; then
	fail "dbus-launch was run (a D-Bus session bus autolaunch at start-up)"
	rm -f "$work/dbus-launch-ran"
fi

# ---------------------------------------------------------------- 3. strace
check_trace() { # name, trace file, output file
	local name=$1 trace=$2 out=$3 bad
	if [ "$(cat "$out")" != "$key" ]; then
		fail "$name: credchain token did not print the environment key"
	fi
	bad=$(grep -E 'connect\(' "$trace" | grep -v -- '--- SIG' || true)
	if [ -n "$bad" ]; then
		fail "$name: credchain token connected somewhere (D-Bus? nscd? network?): $(echo "$bad" | head -3)"
	fi
	bad=$(grep -E 'execve\(' "$trace" | grep -v -F "execve(\"$bin\"" || true)
	if [ -n "$bad" ]; then
		fail "$name: credchain token started a process: $(echo "$bad" | head -3)"
	fi
	bad=$(grep -E 'open(at)?\(' "$trace" | grep -F "\"$home/" | grep -v -E "\"$home/$allowed_home_files\"" || true)
	if [ -n "$bad" ]; then
		fail "$name: credchain token opened files under HOME (a store, cloud SDK configuration?): $(echo "$bad" | head -3)"
	fi
	if [ -e "$work/dbus-launch-ran" ]; then
		fail "$name: dbus-launch was run (a D-Bus session bus autolaunch at start-up)"
		rm -f "$work/dbus-launch-ran"
	fi
}

step "system calls with a live session bus"
"${run_env[@]}" dbus-run-session -- strace -f -qq -o "$work/bus.trace" -e trace=connect,execve,open,openat \
	"$bin" token >"$work/bus.out" 2>"$work/bus.err" || fail "with a session bus: credchain token failed: $(head -5 "$work/bus.err")"
check_trace "with a session bus" "$work/bus.trace" "$work/bus.out"

step "system calls with no bus and dbus-launch on PATH"
"${run_env[@]}" strace -f -qq -o "$work/nobus.trace" -e trace=connect,execve,open,openat \
	"$bin" token >"$work/nobus.out" 2>"$work/nobus.err" || fail "without a bus: credchain token failed: $(head -5 "$work/nobus.err")"
check_trace "without a bus" "$work/nobus.trace" "$work/nobus.out"

# ------------------------------------------------------- 4. bedrock, same binary
step "bedrock turned on: served by the same binary"
bearer="bedrock-startup-check-$RANDOM$RANDOM"
bedrock_env=(env -i PATH="$work/fakebin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$home"
	XDG_RUNTIME_DIR="$work/run" CLAUDE_CODE_USE_BEDROCK=1 AWS_BEARER_TOKEN_BEDROCK="$bearer" AWS_REGION=us-east-1
	AWS_EC2_METADATA_DISABLED=true)
if ! "${bedrock_env[@]}" strace -f -qq -o "$work/bedrock.trace" -e trace=connect,execve "$bin" token >"$work/bedrock.out" 2>"$work/bedrock.err"; then
	fail "bedrock on: credchain token failed: $(head -5 "$work/bedrock.err")"
fi
[ "$(cat "$work/bedrock.out")" = "$bearer" ] || fail "bedrock on: credchain token did not print the Bedrock bearer token"
bad=$(grep -E 'execve\(' "$work/bedrock.trace" | grep -v -F "execve(\"$bin\"" || true)
[ -z "$bad" ] || fail "bedrock on: credchain token started a process: $(echo "$bad" | head -3)"
bad=$(grep -E 'connect\(' "$work/bedrock.trace" | grep -v -- '--- SIG' || true)
[ -z "$bad" ] || fail "bedrock on: credchain token connected somewhere (STS? metadata?): $(echo "$bad" | head -3)"

if [ "$failures" -gt 0 ]; then
	echo "startup-check: $failures check(s) failed; see docs/performance.md (Start-up)" >&2
	exit 1
fi
echo "startup-check: ok"
