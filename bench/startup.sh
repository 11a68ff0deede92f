#!/usr/bin/env bash
# Start-up benchmark of `credchain token` (issue 7): builds credchain and a
# bare Go program that only prints an environment variable, seeds a stored
# OAuth login in the plaintext and the file store under a temporary HOME,
# gives `gh` a token in its hosts.yml there, and times every command with
# hyperfine in one run. Prints a table of medians and ratios; the timings
# of every run (hyperfine's JSON, rounds merged) go to the file named by -o.
#
# Usage: bench/startup.sh [-r RUNS] [-n ROUNDS] [-w WARMUP] [-o results.json]
#   RUNS (default 30) timed runs per command, split into ROUNDS (default 3)
#   hyperfine passes over all commands, each with WARMUP (default 3) runs.
#
# Installs hyperfine and gh from Debian's packages if they are missing (needs
# root and apt-get). Builds two credchain binaries, both the one binary with
# every source (AWS and Google SDKs included): the default
# `go build -trimpath -ldflags='-s -w'` (cgo on when a C compiler is around,
# so the binary is dynamically linked; rows "credchain"), and the release
# build, the same with CGO_ENABLED=0 (as scripts/release.sh builds; rows
# "static").
#
# Every command runs under `env -i` with only PATH, HOME, the variables its
# case needs and, when set by the caller, DBUS_SESSION_BUS_ADDRESS and
# XDG_RUNTIME_DIR, so nothing from the caller's environment picks the
# credential. The machine's load average is printed: on a shared machine,
# compare the ratios measured in one run, not medians across runs.
set -euo pipefail

runs=30
warmup=3
rounds=3
out=
while getopts 'r:w:n:o:h' opt; do
	case $opt in
	r) runs=$OPTARG ;;
	w) warmup=$OPTARG ;;
	n) rounds=$OPTARG ;;
	o) out=$OPTARG ;;
	*)
		sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
		[ "$opt" = h ] && exit 0 || exit 2
		;;
	esac
done

cd "$(dirname "$0")/.."
repo=$(pwd)

need_pkgs=()
command -v hyperfine >/dev/null || need_pkgs+=(hyperfine)
command -v gh >/dev/null || need_pkgs+=(gh)
command -v python3 >/dev/null || need_pkgs+=(python3)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
	echo "startup.sh: installing ${need_pkgs[*]} (Debian packages)" >&2
	marker=/var/tmp/credchain-ci-apt-updated
	if [ ! -e "$marker" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
		touch "$marker"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends "${need_pkgs[@]}"
fi
for c in hyperfine gh python3 go; do
	command -v "$c" >/dev/null || {
		echo "startup.sh: $c is missing" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/credchain-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
home=$work/home
bin=$work/bin
mkdir -p "$home" "$bin"
chmod 700 "$home"

echo "startup.sh: building in $work" >&2
go build -trimpath -ldflags='-s -w' -o "$bin/credchain" ./cmd/credchain
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/credchain-static" ./cmd/credchain
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/bare" ./bench/bare
go build -trimpath -o "$bin/seed" ./bench/seed

# The environment of every timed command (and of the seeding).
base_env=(PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$home")
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && base_env+=(DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS")
[ -n "${XDG_RUNTIME_DIR:-}" ] && base_env+=(XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR")
# Throwaway values made up for this run; nothing real is stored or printed.
api_key="sk-ant-bench-$RANDOM$RANDOM-0123456789abcdef"
file_password="bench-$RANDOM$RANDOM"

# A stored OAuth login in each file-based store. The settings file keeps the
# default chain but renames the api-key variable, so the exported
# ANTHROPIC_API_KEY (which the bare program prints) does not win.
for be in plaintext file; do
	cat >"$work/$be.yaml" <<EOF
store:
  backend: $be
  dir: $work/store-$be
oauth:
  issuer: https://login.example.invalid
  client_id: credchain-bench
variables:
  api_key: CREDCHAIN_BENCH_UNSET
EOF
	printf 'oauth-bench-%s-%s\n' "$be" "$RANDOM" |
		env -i "${base_env[@]}" CREDCHAIN_FILE_PASSWORD="$file_password" CREDCHAIN_CONFIG="$work/$be.yaml" "$bin/seed"
done

# gh with a token in hosts.yml (Debian's gh reads it from there).
mkdir -p "$home/.config/gh"
cat >"$home/.config/gh/hosts.yml" <<EOF
github.com:
    oauth_token: gho_bench$RANDOM${RANDOM}000000000000000000000000000
    user: credchain-bench
    git_protocol: https
EOF
chmod 600 "$home/.config/gh/hosts.yml"

# Check every command prints a credential before timing it.
run_env=(env -i "${base_env[@]}" ANTHROPIC_API_KEY="$api_key" CREDCHAIN_FILE_PASSWORD="$file_password")
names=() cmds=()
add() {
	names+=("$1")
	cmds+=("$2")
	# shellcheck disable=SC2086 # the command is split on spaces, as hyperfine -N does
	if ! "${run_env[@]}" $2 >"$work/check.out" 2>"$work/check.err" || ! [ -s "$work/check.out" ]; then
		echo "startup.sh: '$1' ($2) printed no credential:" >&2
		cat "$work/check.err" >&2
		exit 1
	fi
}
add bare "$bin/bare"
add "credchain env" "$bin/credchain token"
add "credchain plaintext" "$bin/credchain --config $work/plaintext.yaml token"
add "credchain file" "$bin/credchain --config $work/file.yaml token"
add "static env" "$bin/credchain-static token"
add "static plaintext" "$bin/credchain-static --config $work/plaintext.yaml token"
add "static file" "$bin/credchain-static --config $work/file.yaml token"
add "gh auth token" "$(command -v gh) auth token"

# On a shared machine the load drifts while hyperfine works through one
# command after the other, so the runs are split into rounds, each timing
# every command, and the table merges the rounds.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
per_round=$(((runs + rounds - 1) / rounds))
for round in $(seq "$rounds"); do
	hf=(hyperfine -N --style basic --warmup "$warmup" --runs "$per_round" --export-json "$work/round$round.json")
	for i in "${!names[@]}"; do
		hf+=(-n "${names[$i]}" "${cmds[$i]}")
	done
	# hyperfine passes its own environment to the commands.
	"${run_env[@]}" "${hf[@]}" >"$work/hyperfine.log" 2>&1 || {
		cat "$work/hyperfine.log" >&2
		exit 1
	}
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$work" "$rounds" <<'EOF'
import json, sys

work, rounds = sys.argv[1], int(sys.argv[2])
merged = {}
for n in range(1, rounds + 1):
    for r in json.load(open(f"{work}/round{n}.json"))["results"]:
        m = merged.setdefault(r["command"], {"command": r["command"], "times": [], "user": [], "system": []})
        m["times"] += r["times"]
        m["user"].append(r["user"])
        m["system"].append(r["system"])
for m in merged.values():
    m["user"] = sum(m["user"]) / len(m["user"])
    m["system"] = sum(m["system"]) / len(m["system"])
json.dump({"results": list(merged.values())}, open(f"{work}/results.json", "w"), indent=1)
EOF
[ -n "$out" ] && cp "$work/results.json" "$out"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs ($cpu), $(uname -sr), $(go version | cut -d' ' -f3)"
echo "load:    $load_before before, $load_after after (1/5/15 min)"
echo "gh:      $(gh --version | head -1)"
echo "D-Bus:   DBUS_SESSION_BUS_ADDRESS=${DBUS_SESSION_BUS_ADDRESS:-<unset>}"
echo "runs:    $((per_round * rounds)) per command, in $rounds hyperfine passes over all commands ($warmup warm-up runs each)"
echo
python3 - "$work/results.json" <<'EOF'
import json, statistics, sys

res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
for r in res.values():
    t = r["times"]
    r["median"], r["mean"], r["min"] = statistics.median(t), statistics.mean(t), min(t)
    r["stddev"] = statistics.stdev(t) if len(t) > 1 else 0.0
bare = res["bare"]["median"]
gh = res["gh auth token"]["median"]
print("| command | median ms | mean ± σ ms | min ms | user+sys ms | × bare | × gh | goal (≤ 30 ms, ≤ 0.35× gh) |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for name, r in res.items():
    med = r["median"]
    goal = ""
    if name.startswith(("credchain", "static")):
        ok = [med <= 0.030, med <= 0.35 * gh]
        goal = "met" if all(ok) else "missed: " + ", ".join(
            w for w, o in zip(["30 ms", "0.35× gh"], ok) if not o)
    print(f"| {name} | {med*1e3:.1f} | {r['mean']*1e3:.1f} ± {r['stddev']*1e3:.1f} | {r['min']*1e3:.1f} "
          f"| {(r['user']+r['system'])*1e3:.1f} | {med/bare:.2f} | {med/gh:.2f} | {goal} |")
EOF
