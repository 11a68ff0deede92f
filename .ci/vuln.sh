#!/usr/bin/env bash
# govulncheck over the module: fails when our code calls a vulnerable
# function of a module we require; a vulnerable standard library (the Go
# toolchain of the machine, not go.mod's to choose) is reported loudly with
# the Go release that fixes it, and fails only with CREDCHAIN_VULN_STRICT=1.
#
# The vulnerability database is vuln.go.dev when it can be reached; else it
# is built offline from the golang.org/x/vulndb module (the same OSV
# records), which the Go module proxy serves: pinned below, bump it to
# refresh.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=${GOFLAGS:--buildvcs=false}
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB=golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018

db=https://vuln.go.dev
if ! curl -fsS --max-time 10 -o /dev/null "$db/index/db.json" 2>/dev/null; then
	echo "vuln.go.dev cannot be reached; building the database from $VULNDB"
	src=$(GOFLAGS=-mod=mod go mod download -json "$VULNDB" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	go run "golang.org/x/vulndb/cmd/indexdb@${VULNDB#*@}" -vulns "$src/data/osv" -out "$out/db"
	db="file://$out/db"
	echo "database: $VULNDB ($(ls "$out/db/ID" | grep -c "\.json$") entries)"
fi

report=$(mktemp)
trap 'rm -f "$report"; [ -n "${out:-}" ] && rm -rf "$out"' EXIT
go run "$GOVULNCHECK" -db "$db" -format json ./... >"$report"
python3 - "$report" <<'PY'
import json, os, sys
# The JSON stream is a sequence of objects; findings with a trace into a
# function (not only a module or package) are the ones our code reaches.
dec, text, pos = json.JSONDecoder(), open(sys.argv[1]).read(), 0
called = {}
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    obj, pos = dec.raw_decode(text, pos)
    f = obj.get("finding")
    if not f or not f.get("trace") or not f["trace"][0].get("function"):
        continue
    mod = f["trace"][0].get("module", "")
    called.setdefault((f["osv"], mod), f.get("fixed_version", "none"))
mods = {k: v for k, v in called.items() if k[1] != "stdlib"}
std = {k: v for k, v in called.items() if k[1] == "stdlib"}
for (osv, mod), fix in sorted(mods.items()):
    print(f"VULNERABLE: {osv} in {mod}, called by our code; fixed in {fix}")
for (osv, mod), fix in sorted(std.items()):
    print(f"standard library: {osv}, called by our code; fixed in Go {fix.lstrip('v')}")
if std:
    print(f"{len(std)} standard-library vulnerabilities: build with the Go release that fixes them")
if mods or (std and os.environ.get("CREDCHAIN_VULN_STRICT") == "1"):
    sys.exit(1)
print(f"govulncheck: no called vulnerability in a required module ({len(std)} in the standard library)")
PY
