#!/usr/bin/env bash
# Cross-builds credchain the way releases are built (CGO_ENABLED=0) for every
# released platform, and runs go vet with each GOOS/GOARCH so code behind
# build tags (Windows, macOS) is checked too. Every target is tried; the
# script exits non-zero if any build or vet failed, naming which.
# -trimpath as in scripts/release.sh, so the release test that runs after it
# in CI finds every package already compiled.
#
# Usage: .ci/crossbuild.sh [os/arch ...]   (default: the release targets)
set -uo pipefail

cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64)
fi

failed=()
for t in "${targets[@]}"; do
	goos=${t%/*}
	goarch=${t#*/}
	echo "crossbuild: ${goos}/${goarch}: go build ./..."
	if ! CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath ./...; then
		failed+=("${t} build")
	fi
	echo "crossbuild: ${goos}/${goarch}: go vet ./..."
	if ! CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go vet -trimpath ./...; then
		failed+=("${t} vet")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "crossbuild: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "crossbuild: ok: ${targets[*]}"
