#!/usr/bin/env bash
# Embedder check (issue 10, item 4): a program that depends on credchain the
# way a user's `go get` resolves it (a module outside this repository, with
# a replace to the checkout standing in for the proxy) gets credchain's
# patched keyring, not upstream 99designs/keyring: a replace in our go.mod
# would not apply to it. Upstream's package init connects to the D-Bus
# session bus and, with no bus and dbus-launch on PATH, runs dbus-launch
# (twice) before main.
#
# The program imports resolver, cache and every source package, and runs
# with a dbus-launch stand-in on PATH that records being executed, and no
# session bus. It fails when anything is executed before main, or during
# resolver.New and a Resolve with a store that is not a keyring (memory,
# plaintext). Under strace (when installed) it also checks that no process
# at all is started and nothing connects anywhere.
#
# Usage: .ci/embedder-check.sh [checkout]   (default: this repository)
# Against main before the move (upstream keyring through a replace) it
# fails; that is what it is for.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
checkout=$(cd "${1:-$here}" && pwd)
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

failures=0
fail() {
	echo "embedder-check: FAIL: $*" >&2
	failures=$((failures + 1))
}
step() { echo "embedder-check: $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/credchain-embedder.XXXXXX")
trap 'rm -rf "$work"' EXIT
mod=$work/module
mkdir -p "$mod" "$work/fakebin" "$work/home" "$work/run" "$work/store"
chmod 700 "$work/home" "$work/run" "$work/store"

# The source packages of the checkout: every package that implements a
# source (apikey, fdsource, oauthpkce, providers/*) and source/... (the
# descriptor API and source/all), found rather than listed, so a new source
# is checked without editing this script.
patterns=()
for d in source apikey fdsource oauthpkce providers; do
	[ -d "$checkout/$d" ] && patterns+=("./$d/...")
done
mapfile -t sources < <(cd "$checkout" && go list -f '{{if ne .Name "main"}}{{.ImportPath}}{{end}}' \
	"${patterns[@]}" | grep -v '/internal' | grep .)
if [ "${#sources[@]}" -eq 0 ]; then
	echo "embedder-check: found no source packages in $checkout" >&2
	exit 1
fi
step "sources: ${sources[*]}"

cat >"$mod/go.mod" <<EOF
module example.com/embedder

go 1.26.0

require github.com/credchain/credchain v0.0.0

replace github.com/credchain/credchain => $checkout
EOF
# credchain's own sums cover its dependencies (the module cache has them).
cp "$checkout/go.sum" "$mod/go.sum"
{
	echo 'package main'
	echo
	echo 'import ('
	echo '	"context"'
	echo '	"fmt"'
	echo '	"os"'
	echo
	echo '	"github.com/credchain/credchain/apikey"'
	echo '	"github.com/credchain/credchain/cache"'
	echo '	"github.com/credchain/credchain/resolver"'
	for p in "${sources[@]}"; do
		[ "$p" = github.com/credchain/credchain/apikey ] || echo "	_ \"$p\""
	done
	echo ')'
	cat <<'EOF'

// ran reports whether the dbus-launch stand-in has been executed.
func ran() bool {
	_, err := os.Stat(os.Getenv("EMBEDDER_MARKER"))
	return err == nil
}

func main() {
	if ran() {
		fmt.Println("FAIL before-main: dbus-launch was executed before main")
		os.Exit(1)
	}
	fmt.Println("ok before-main")
	ctx := context.Background()
	for _, backend := range []string{"memory", "plaintext"} {
		st, err := cache.Open(ctx, cache.Options{Backend: backend, Dir: os.Getenv("EMBEDDER_STORE")})
		if err != nil {
			fmt.Println("FAIL", backend, "cache.Open:", err)
			os.Exit(1)
		}
		r, err := resolver.New(ctx, resolver.Config{
			Sources: []resolver.Source{apikey.NewEnv("api-key", "ANTHROPIC_API_KEY", resolver.KindAPIKey, os.Getenv)},
			Store:   st,
		})
		if err != nil {
			fmt.Println("FAIL", backend, "resolver.New:", err)
			os.Exit(1)
		}
		cred, err := r.Resolve(ctx)
		_ = r.Close()
		if err != nil || cred.Token.Reveal() != os.Getenv("ANTHROPIC_API_KEY") {
			fmt.Println("FAIL", backend, "Resolve:", err)
			os.Exit(1)
		}
		if ran() {
			fmt.Println("FAIL", backend, "dbus-launch was executed during resolver.New or Resolve")
			os.Exit(1)
		}
		fmt.Println("ok", backend)
	}
}
EOF
} >"$mod/main.go"

step "building the embedder (a module depending on credchain at $checkout)"
(cd "$mod" && GOFLAGS=-mod=mod go build -trimpath -o "$work/embedder" . ) || {
	echo "embedder-check: the embedder does not build" >&2
	exit 1
}
keyrings=$(cd "$mod" && go list -deps . | grep -E 'keyring$' || true)
step "keyring packages linked: $(echo $keyrings)"
if echo "$keyrings" | grep -qx 'github.com/99designs/keyring'; then
	fail "the embedder links upstream github.com/99designs/keyring (its init probes D-Bus); credchain must use cache/internal/keyring"
fi

cat >"$work/fakebin/dbus-launch" <<EOF
#!/bin/sh
echo "\$0 \$*" >>"$work/dbus-launch-ran"
exit 1
EOF
chmod +x "$work/fakebin/dbus-launch"
run_env=(env -i PATH="$work/fakebin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	HOME="$work/home" XDG_RUNTIME_DIR="$work/run" EMBEDDER_MARKER="$work/dbus-launch-ran"
	EMBEDDER_STORE="$work/store" ANTHROPIC_API_KEY="sk-ant-embedder-check-$RANDOM$RANDOM")

step "running it with no session bus and a dbus-launch on PATH"
if ! "${run_env[@]}" "$work/embedder" >"$work/out" 2>&1; then
	fail "the embedder failed: $(cat "$work/out")"
fi
cat "$work/out"
if [ -e "$work/dbus-launch-ran" ]; then
	fail "dbus-launch was executed ($(wc -l <"$work/dbus-launch-ran") times): a D-Bus session bus autolaunch by a program that only imports credchain"
	rm -f "$work/dbus-launch-ran"
fi

if command -v strace >/dev/null; then
	step "system calls (strace): no process started, no connect()"
	"${run_env[@]}" strace -f -qq -o "$work/trace" -e trace=execve,connect "$work/embedder" >/dev/null 2>&1 ||
		fail "the embedder failed under strace"
	bad=$(grep -E 'execve\(' "$work/trace" | grep -v -F "execve(\"$work/embedder\"" || true)
	[ -z "$bad" ] || fail "the embedder started a process: $(echo "$bad" | head -3)"
	bad=$(grep -E 'connect\(' "$work/trace" || true)
	[ -z "$bad" ] || fail "the embedder connected somewhere (D-Bus?): $(echo "$bad" | head -3)"
else
	fail "strace is not installed (Debian package strace; .ci/setup.d/40-tools.sh installs it): the system-call check cannot run"
fi

if [ "$failures" -gt 0 ]; then
	echo "embedder-check: $failures check(s) failed; see cache/internal/keyring/PATCHES.md" >&2
	exit 1
fi
echo "embedder-check: ok"
