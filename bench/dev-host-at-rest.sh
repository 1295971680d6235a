#!/bin/bash
# The default development run at rest (issue 23): publishes the development host (Release, linux-x64), starts it with a
# fresh data directory (Development: embedded PostgreSQL and broker), measures its CPU from /proc 40-60 s after start,
# then records 15 s of perf samples (perf.data, perf-script.txt.gz) and stops everything with SIGINT.
# Usage (as root, idle machine): bench/dev-host-at-rest.sh OUT_DIR [NAME=VALUE ...]   (extra environment for the host)
set -euo pipefail
out=$(realpath -m "${1:?OUT_DIR}"); shift
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out"; mkdir -p "$out/data"; chown -R postgres "$out/data" 2>/dev/null || true
dotnet publish "$repo/src/OrderEvents.DevHost" -c Release -r linux-x64 --self-contained false -o "$out/devhost" -v q --nologo
cd "$out/devhost"
setsid env --default-signal=INT ASPNETCORE_ENVIRONMENT=Development ASPNETCORE_URLS=http://127.0.0.1:5099 \
  EmbeddedPostgres__DataDirectory="$out/data" DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 "$@" \
  dotnet OrderEvents.DevHost.dll > "$out/host.log" 2>&1 &
pid=$!; started=$(date +%s)
trap 'kill -INT -- -$pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:5099/health/ready > /dev/null; do sleep 0.5; (( $(date +%s) - started < 60 )) || { echo "not ready"; exit 1; }; done
wait_for=$(( 40 - ($(date +%s) - started) )); (( wait_for > 0 )) && sleep $wait_for
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
postmaster=$(pgrep -f "postgres -D $out/data" | head -1)
# PostgreSQL: the postmaster and its live processes (clock ticks are 1/100 s: ticks over 20 s / 20 = % of a core).
postgres_ticks() { for p in $postmaster $(pgrep -P "$postmaster"); do ticks "$p" 2> /dev/null || true; done | paste -sd+ | bc; }
a=$(ticks $pid); pa=$(postgres_ticks)
sleep 20
b=$(ticks $pid); pb=$(postgres_ticks)
echo "40-60 s after start: host $(echo "scale=2; ($b-$a)/20" | bc) % of a core, PostgreSQL $(echo "scale=2; ($pb-$pa)/20" | bc) %"
if command -v perf > /dev/null; then
  perf record -e cpu-clock -F 999 -g -p $pid -o "$out/perf.data" -- sleep 15 > /dev/null 2>&1
  perf script -i "$out/perf.data" 2> /dev/null | gzip > "$out/perf-script.txt.gz"
fi
