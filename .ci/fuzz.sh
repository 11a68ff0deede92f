#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (after the seed corpora ran as
# ordinary tests in `go test ./...`). FUZZTIME per target, default 10s.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
mapfile -t dirs < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . | xargs -r -n1 dirname | sort -u)
for dir in "${dirs[@]}"; do
	mapfile -t targets < <(go test -list '^Fuzz' "$dir" | grep -E '^Fuzz' || true)
	for target in "${targets[@]}"; do
		echo "--- fuzz $dir $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir"
	done
done
