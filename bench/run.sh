#!/usr/bin/env bash
# bench/run.sh: measure `tundra serve` against gVisor's netstack and the
# Linux kernel with /work/shared/bench/compare.sh, and record the result.
#
# Usage: sudo bench/run.sh [-n NOTE] [-o FILE] [COMPARE_OPTIONS...] [NAME=COMMAND...]
#
#   Builds cmd/tundra from this checkout into a temporary directory, then runs
#     compare.sh -t 5 COMPARE_OPTIONS tundra="<tmp>/tundra serve" gvisor= kernel=
#   (compare.sh appends "-tun tunb -addr 198.18.0.2 -mtu M" to each command and
#   runs it in a namespace of its own, with no route out). Extra NAME=COMMAND
#   arguments replace the default list; "tundra" at the start of a COMMAND is
#   the binary just built, so `tundra-water="tundra serve -water"` measures a
#   variant, and "serve" is bench/serve (tundra serve with -offloads=false
#   and -cpuprofile FILE switches): `plain="serve -offloads=false"`.
#   COMPARE_OPTIONS (-t, -m, -r, -w) pass through; -t defaults to 5.
#
#   The output is printed and appended, with the date, commit, kernel, CPU and
#   load average, as a fenced block to docs/performance.md (or FILE, from -o),
#   under the heading "Run <date>" and the NOTE given with -n.
#
# REPO overrides the checkout to build (default: the one holding this script).
# Needs root, Go, iproute2, iptables, ping and wrk (what compare.sh needs).
set -euo pipefail
repo="${REPO:-$(cd "$(dirname "$0")/.." && pwd)}"
compare="${COMPARE:-/work/shared/bench/compare.sh}"
out="$repo/docs/performance.md"
note=""
opts=() specs=() have_t=0
while (($#)); do
  case $1 in
    -n) note=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -t) have_t=1; opts+=("$1" "$2"); shift 2 ;;
    -m|-r|-w) opts+=("$1" "$2"); shift 2 ;;
    *=*) specs+=("$1"); shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
((have_t)) || opts=(-t 5 "${opts[@]}")
if [[ $(id -u) != 0 ]]; then
  echo "run.sh: compare.sh needs root (network namespaces and TUN devices)" >&2
  exit 2
fi
bin="$(mktemp -d)"
# compare.sh names its namespaces after its own PID (bench$PID, and
# bench${PID}s for the kernel's veth peer) and deletes them only when a
# workload finishes: interrupted, it would leave them behind. It runs in a
# process group of its own, so that on any exit of this script its
# servers and load generators go too, and then its namespaces.
compare_done=0
cleanup() {
  local pid
  if ((!compare_done)) && pid=$(cat "$bin/compare.pid" 2>/dev/null); then
    kill -- "-$pid" 2>/dev/null || true
    sleep 0.5 # let its servers exit before their namespaces go
    ip netns del "bench$pid" 2>/dev/null || true
    ip netns del "bench${pid}s" 2>/dev/null || true
  fi
  rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
(cd "$repo" && go build -o "$bin/tundra" ./cmd/tundra && go build -o "$bin/serve" ./bench/serve)
((${#specs[@]})) || specs=("tundra=tundra serve" gvisor= kernel=)
args=()
for s in "${specs[@]}"; do
  name=${s%%=*} cmd=${s#*=}
  # "tundra" or "serve" at the start of a command is a binary built above.
  [[ $cmd == tundra || $cmd == "tundra "* || $cmd == "serve "* ]] && cmd="$bin/$cmd"
  args+=("$name=$cmd")
done

started="$(date -u '+%Y-%m-%d %H:%M UTC')"
load="$(cut -d' ' -f1-3 /proc/loadavg)"
commit="$(cd "$repo" && git rev-parse --short HEAD)$(cd "$repo" && git diff --quiet HEAD -- link || echo ' + uncommitted changes in link/')"
result="$bin/result.txt"
# setsid: a process group of compare.sh's own; its PID, which names its
# namespaces, goes to a file for cleanup.
# In the background, with wait: bash runs the INT/TERM trap during a
# wait, but only after a foreground pipeline has ended.
setsid bash -c 'echo $$ > "$0"; exec "$@"' "$bin/compare.pid" "$compare" "${opts[@]}" "${args[@]}" | tee "$result" &
wait $!
compare_done=1

{
  echo
  echo "### Run $started${note:+: $note}"
  echo
  echo '```'
  echo "commit:  $commit"
  echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "load:    $load (1/5/15 min) before the run"
  echo "command: compare.sh ${opts[*]} ${specs[*]}"
  echo
  cat "$result"
  echo '```'
} >> "$out"
echo "run.sh: appended to $out" >&2
