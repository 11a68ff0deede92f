#!/usr/bin/env bash
# Mutation testing of credchain's core with gremlins
# (github.com/go-gremlins/gremlins): each mutant (a flipped comparison, a
# changed operator) is built and run against the package's own unit tests; a
# mutant the tests do not notice ("lived") is a behaviour no test pins down.
# See docs/testing.md for the figures, the equivalent mutants and how to read
# the output.
#
# Usage:
#   scripts/mutation.sh [--diff REF] [--gate] [PKG...]
#
#   PKG      package directories (default: resolver cache; the sources'
#            refresh code: oauthpkce providers/aws providers/gcp)
#   --diff   only mutants on lines changed since REF (CI: the previous main);
#            a package whose non-test Go files did not change is skipped
#   --gate   exit non-zero when a package's efficacy is below
#            MUTATION_EFFICACY (default 90)
#   --dry-run  list the mutants (and count the runnable ones) without
#            running them
#
# Environment: MUTATION_WORKERS (default 1: the machine is shared),
# MUTATION_TIMEOUT_COEFFICIENT (default 30: a mutant's build and test may
# take that many times the unmutated coverage run before it counts as timed
# out; a mutant rebuilds and relinks the test binary, the coverage run
# mostly does not),
# MUTATION_OUT (default .mutation: JSON results, one file per package),
# MUTATION_EXCLUDE (a file-path regexp of files not to mutate),
# CREDCHAIN_TOOLS (where gremlins is installed; default the user cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=${GOFLAGS:--buildvcs=false}

GREMLINS_VERSION=v0.6.0
tools=${CREDCHAIN_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/credchain-tools}
gremlins=$(mkdir -p "$tools" && cd "$tools" && pwd)/gremlins

diff_ref=""
gate=false
dry=false
pkgs=()
while [ $# -gt 0 ]; do
	case $1 in
	--diff) diff_ref=$2; shift 2 ;;
	--gate) gate=true; shift ;;
	--dry-run) dry=true; shift ;;
	-h | --help) sed -n '2,25p' "$0"; exit 0 ;;
	*) pkgs+=("${1#./}"); shift ;;
	esac
done
[ ${#pkgs[@]} -gt 0 ] || pkgs=(resolver cache)

# Installed into a tool directory, not the module's go.mod: gremlins'
# dependency tree (cobra, viper, ...) has nothing to do with credchain's.
if ! go version -m "$gremlins" 2>/dev/null | grep -q "mod.*github.com/go-gremlins/gremlins.*$GREMLINS_VERSION"; then
	echo "installing gremlins $GREMLINS_VERSION into $tools"
	GOBIN=$tools go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi

out=${MUTATION_OUT:-.mutation}
mkdir -p "$out"
out=$(cd "$out" && pwd) # gremlins runs in the package directory
workers=${MUTATION_WORKERS:-1}
coefficient=${MUTATION_TIMEOUT_COEFFICIENT:-30}
threshold=${MUTATION_EFFICACY:-90}
status=0
for pkg in "${pkgs[@]}"; do
	args=(unleash --workers "$workers" --timeout-coefficient "$coefficient" -o "$out/${pkg//\//_}.json")
	# NOTE: never pass --test-cpu: gremlins v0.6.0 passes it to go test as
	# one argument ("-cpu N"), the test command fails, and every mutant is
	# then counted as killed (an efficacy of 100% that means nothing).
	if [ -n "$diff_ref" ]; then
		changed=$(git diff --name-only "$diff_ref" -- "$pkg" | grep -E '\.go$' | grep -v '_test\.go$' || true)
		if [ -z "$changed" ]; then
			echo "==> $pkg: no Go source changed since $diff_ref; skipped"
			continue
		fi
		# An empty diff would make gremlins mutate the whole package: only
		# pass --diff when something in it changed (checked above).
		args+=(--diff "$diff_ref")
	fi
	# gremlins names a mutant's file relative to the directory it runs in,
	# but takes the diff's paths relative to the repository root, so with a
	# package path every mutant would be "skipped". It runs in the package
	# directory instead, and its `git diff` gets --relative through a
	# wrapper, so both sides name files the same way.
	gitwrap=$(mktemp -d)
	realgit=$(command -v git)
	printf '#!/bin/sh
if [ "$1" = diff ]; then shift; exec "%s" diff --relative "$@"; fi
exec "%s" "$@"
' "$realgit" "$realgit" >"$gitwrap/git"
	chmod +x "$gitwrap/git"
	if $gate; then
		args+=(--threshold-efficacy "$threshold")
	fi
	if [ -n "${MUTATION_EXCLUDE:-}" ]; then
		args+=(-E "$MUTATION_EXCLUDE")
	fi
	if $dry; then
		args+=(--dry-run)
	fi
	echo "==> mutation testing ./$pkg (gremlins $GREMLINS_VERSION, $workers worker(s), timeout x$coefficient${diff_ref:+, lines changed since $diff_ref})"
	start=$SECONDS
	log="$out/${pkg//\//_}.log"
	rc=0
	# go vet is no test: skipping it saves a third of each mutant's build.
	# -count=1: a cached coverage run would set the timeouts from ~0 s.
	(cd "$pkg" && PATH="$gitwrap:$PATH" GOFLAGS="$GOFLAGS -vet=off -count=1" "$gremlins" "${args[@]}" "$(pwd)") >"$log" 2>&1 || rc=$?
	rm -rf "$gitwrap"
	# The lived, timed-out and not-viable mutants, then the summary.
	grep -Ev '^ +(KILLED|RUNNABLE|SKIPPED)|^ NOT COVERED|^Starting|^Gathering' "$log" || true
	echo "==> ./$pkg done in $((SECONDS - start))s (every mutant: $log)"
	[ $rc -eq 0 ] || status=1
done
exit $status
