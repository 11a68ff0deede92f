# Dex v2.45.1, the OpenID Connect provider the oauthpkce and login tests log
# in to (sourced by .ci/run; bash, set -euo pipefail, as root).
#
# `go install github.com/dexidp/dex/cmd/dex@v2.45.1` does not work (the module
# path has no /v2, and Dex's go.mod has a replace directive), so Dex is built
# as a tool of a scratch module outside the repository, pinned to the release
# commit by its pseudo-version, without cgo (memory storage only; ~2 min cold).
# The binary is cached; later runs only check it.
DEX_VERSION=v2.45.1
DEX_PSEUDO=v0.0.0-20260303133905-11d2eeb52b42
DEX_DIR=${CREDCHAIN_DEX_DIR:-/var/cache/credchain-dex}
CREDCHAIN_DEX_BIN="$DEX_DIR/bin/dex-$DEX_VERSION"

dex_have=""
if [ -x "$CREDCHAIN_DEX_BIN" ]; then
	dex_have=$("$CREDCHAIN_DEX_BIN" version 2>/dev/null || true)
fi
if [[ "$dex_have" != *"$DEX_VERSION"* ]]; then
	mkdir -p "$DEX_DIR/bin"
	(
		cd "$DEX_DIR"
		if ! [ -f go.mod ]; then
			printf 'module credchain-dex-build\n\ngo 1.25.0\n' > go.mod
		fi
		GOFLAGS="-mod=mod -buildvcs=false" go get -tool "github.com/dexidp/dex/cmd/dex@$DEX_PSEUDO"
		CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags "-X main.version=$DEX_VERSION" \
			-o "$CREDCHAIN_DEX_BIN.tmp" github.com/dexidp/dex/cmd/dex
		mv -f "$CREDCHAIN_DEX_BIN.tmp" "$CREDCHAIN_DEX_BIN"
	)
fi
ln -sf "$CREDCHAIN_DEX_BIN" "$DEX_DIR/bin/dex"
"$CREDCHAIN_DEX_BIN" version
export CREDCHAIN_DEX_BIN
