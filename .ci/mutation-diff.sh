#!/usr/bin/env bash
# CI: mutation testing (scripts/mutation.sh) of the core lines the change
# touched since the first parent of HEAD (the previous main): resolver/,
# cache/ and the packages of the sources' refresh and transport code; when
# the estimate stays under the budget (default 10 minutes).
# Report only, unless MUTATION_GATE=1: a lived mutant may be equivalent
# (docs/testing.md lists the known ones) and is for a person to judge.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${MUTATION_BASE:-HEAD^1}
budget=${MUTATION_BUDGET_SECONDS:-600}
# Measured on a shared 2-core machine: 10-50 s a mutant (one build and link
# of the package's test binary, then its tests).
per_mutant=${MUTATION_SECONDS_PER_MUTANT:-20}
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
	echo "mutation: no $base to compare with (shallow clone?); skipped"
	exit 0
fi
pkgs=(resolver cache oauthpkce providers/aws providers/gcp)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
MUTATION_OUT=$out scripts/mutation.sh --diff "$base" --dry-run "${pkgs[@]}" | tee "$out/dry.txt"
runnable=$( (grep -Eo '^Runnable: [0-9]+' "$out/dry.txt" || true) | awk '{n += $2} END {print n + 0}')
if [ "$runnable" -eq 0 ]; then
	echo "mutation: no mutant on the changed lines; nothing to run"
	exit 0
fi
if [ $((runnable * per_mutant)) -gt "$budget" ]; then
	echo "mutation: $runnable mutants on the changed lines, about $((runnable * per_mutant))s > ${budget}s; skipped (run scripts/mutation.sh --diff $base by hand)"
	exit 0
fi
gate=()
[ "${MUTATION_GATE:-0}" = 1 ] && gate=(--gate)
if ! MUTATION_OUT=$out timeout "$budget" scripts/mutation.sh --diff "$base" "${gate[@]}" "${pkgs[@]}"; then
	if [ "${MUTATION_GATE:-0}" = 1 ]; then exit 1; fi
	echo "mutation: see the lived mutants above (report only)"
fi
