#!/usr/bin/env bash
# Static analysis beyond go vet: staticcheck, pinned as a tool in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
go tool staticcheck ./...
