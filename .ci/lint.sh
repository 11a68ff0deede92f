#!/usr/bin/env bash
# Static analysis beyond go vet: staticcheck, pinned as a tool in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
# With the integration tests' build tag, so they are checked too (they build
# only with it); untagged files are the same in both builds.
go tool staticcheck -tags integration ./...
