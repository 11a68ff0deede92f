#!/usr/bin/env bash
# Checks of the nested modules, which `go vet ./...` and `go test ./...` at the
# root do not reach (each has its own go.mod): vet, staticcheck (the root
# module's pinned version) and the race-enabled tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/staticcheck" honnef.co/go/tools/cmd/staticcheck
for mod in integrations/anthropicsdk; do
	echo "--> $mod"
	go -C "$mod" mod download
	go -C "$mod" vet ./...
	(cd "$mod" && "$bin/staticcheck" ./...)
	go -C "$mod" test -race -count=1 -timeout 10m ./...
done
