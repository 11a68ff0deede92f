#!/usr/bin/env bash
# What an embedder links (issue 10, item 2): for each minimal program under
# bench/deps, the number of packages it links (go list -deps, standard
# library included) and the size of its binary, built as
# `go build -trimpath` and as `go build -trimpath -ldflags='-s -w'`
# (stripped, as releases are), each with its ratio to bench/deps/xoauth2, a
# program that uses golang.org/x/oauth2 alone. Prints a Markdown table.
#
# Usage: bench/deps/measure.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d "${TMPDIR:-/tmp}/credchain-deps.XXXXXX")
trap 'rm -rf "$work"' EXIT

programs=(xoauth2 apikey oauth all apikey-noconfig oauth-noconfig)
declare -A what=(
	[xoauth2]="golang.org/x/oauth2 alone (the yardstick)"
	[apikey]="config + sources auth-token, api-key"
	[oauth]="config + source oauth (and the keychain store)"
	[all]="config + source/all (every source, AWS and Google SDKs)"
	[apikey-noconfig]="resolver + apikey, chain built by hand (no config, no viper)"
	[oauth-noconfig]="resolver + oauthpkce + cache, by hand (no config, no viper)"
)
declare -A pkgs size stripped
for p in "${programs[@]}"; do
	pkgs[$p]=$(go list -deps "./bench/deps/$p" | wc -l)
	go build -trimpath -o "$work/$p" "./bench/deps/$p"
	go build -trimpath -ldflags='-s -w' -o "$work/$p-stripped" "./bench/deps/$p"
	size[$p]=$(stat -c %s "$work/$p")
	stripped[$p]=$(stat -c %s "$work/$p-stripped")
done

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(go version | cut -d' ' -f3-), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "| program (bench/deps/…) | links | packages | × x/oauth2 | binary MB | × x/oauth2 | stripped MB | × x/oauth2 |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for p in "${programs[@]}"; do
	awk -v p="$p" -v w="${what[$p]}" -v n="${pkgs[$p]}" -v n0="${pkgs[xoauth2]}" \
		-v s="${size[$p]}" -v s0="${size[xoauth2]}" -v t="${stripped[$p]}" -v t0="${stripped[xoauth2]}" 'BEGIN {
		printf "| %s | %s | %d | %.2f | %.1f | %.2f | %.1f | %.2f |\n", p, w, n, n / n0, s / 1e6, s / s0, t / 1e6, t / t0
	}'
done
