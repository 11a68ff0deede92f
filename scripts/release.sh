#!/usr/bin/env bash
# Builds credchain's release archives: one cgo-free binary per platform,
# with the version, commit and build date stamped into `credchain --version`,
# packed as dist/credchain_<version>_<os>_<arch>.tar.gz (.zip for Windows),
# and dist/SHA256SUMS over every archive.
#
# Usage: scripts/release.sh            (or: make release)
# Environment (all optional):
#   VERSION   the version to stamp (default: git describe, else "dev")
#   COMMIT    the commit (default: git rev-parse HEAD, "-dirty" if the tree is)
#   SOURCE_DATE_EPOCH  build date as Unix time (default: the commit's time), so
#             the same commit gives the same archives
#   TARGETS   space-separated os/arch list (default: the five release targets)
#   DIST      output directory (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "release: $*" >&2; exit 1; }

TARGETS=${TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64"}
DIST=${DIST:-dist}

in_git=false
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then in_git=true; fi

if [ -z "${VERSION:-}" ]; then
	VERSION=dev
	if $in_git; then VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev); fi
fi
if [ -z "${COMMIT:-}" ]; then
	COMMIT=""
	if $in_git; then
		COMMIT=$(git rev-parse HEAD)
		if [ -n "$(git status --porcelain --untracked-files=no)" ]; then COMMIT="$COMMIT-dirty"; fi
	fi
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	if $in_git; then SOURCE_DATE_EPOCH=$(git log -1 --format=%ct); else SOURCE_DATE_EPOCH=$(date +%s); fi
fi
case $SOURCE_DATE_EPOCH in '' | *[!0-9]*) die "SOURCE_DATE_EPOCH must be a Unix time, got '$SOURCE_DATE_EPOCH'" ;; esac
case $VERSION in '' | *[!A-Za-z0-9._+-]*) die "VERSION must be letters, digits and . _ + - (got '$VERSION')" ;; esac
# GNU date, then BSD date (macOS).
DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

for tool in go tar gzip zip; do
	command -v "$tool" >/dev/null || die "$tool is required (apt-get install $tool / brew install $tool)"
done
if command -v sha256sum >/dev/null; then sha256=(sha256sum); else sha256=(shasum -a 256); fi
tar_flags=()
if tar --version 2>/dev/null | grep -q GNU; then
	tar_flags=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH")
fi

name_version=${VERSION#v}
ldflags="-s -w -X main.buildVersion=$VERSION -X main.buildCommit=$COMMIT -X main.buildDate=$DATE"

mkdir -p "$DIST"
work=$(mktemp -d "${TMPDIR:-/tmp}/credchain-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$DIST"/credchain_*.tar.gz "$DIST"/credchain_*.zip "$DIST/SHA256SUMS"
dist_abs=$(cd "$DIST" && pwd)

echo "release: credchain $VERSION (commit ${COMMIT:-unknown}, built $DATE)"
for t in $TARGETS; do
	goos=${t%/*}
	goarch=${t#*/}
	[ -n "$goos" ] && [ -n "$goarch" ] && [ "$goos/$goarch" = "$t" ] || die "bad target '$t' (want os/arch)"
	base="credchain_${name_version}_${goos}_${goarch}"
	dir="$work/$base"
	mkdir -p "$dir"
	exe=credchain
	if [ "$goos" = windows ]; then exe=credchain.exe; fi
	echo "release: building $t"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$dir/$exe" ./cmd/credchain
	for f in README.md LICENSE docs/install.md; do
		if [ -f "$f" ]; then cp "$f" "$dir/"; fi
	done
	find "$dir" -exec touch -d "$DATE" {} +
	if [ "$goos" = windows ]; then
		(cd "$work" && zip -q -X -r "$dist_abs/$base.zip" "$base")
	else
		(cd "$work" && tar ${tar_flags[@]+"${tar_flags[@]}"} -cf - "$base" | gzip -n -9 >"$dist_abs/$base.tar.gz")
	fi
done

shopt -s nullglob
archives=("$DIST"/credchain_*.tar.gz "$DIST"/credchain_*.zip)
shopt -u nullglob
[ ${#archives[@]} -gt 0 ] || die "no archives were built"
(cd "$DIST" && "${sha256[@]}" "${archives[@]#"$DIST"/}" >SHA256SUMS)
echo "release: archives and SHA256SUMS in $DIST:"
cat "$DIST/SHA256SUMS"
