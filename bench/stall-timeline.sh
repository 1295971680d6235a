#!/bin/bash
# A timeline of a long run (issue 23's 5-minute stall): runs the bench on the service alone, two 5-minute phases at
# 300/s (creates, then mixed), and samples every ~2 s into OUT_DIR/timeline.csv: the service's and PostgreSQL's CPU
# ticks, the age and count of the events not yet notified, checkpoints (pg_stat_bgwriter), the tables autovacuum is
# working on, and what active backends wait on. Prints the samples where events waited longer than 250 ms or a
# checkpoint began. Extra arguments go to the bench (e.g. --pg-setting wal_compression=on).
# Usage (as root, idle machine): bench/stall-timeline.sh OUT_DIR [bench options ...]
set -euo pipefail
out=$(realpath -m "${1:?OUT_DIR}"); shift
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out"; mkdir -p "$out"
cd "$repo"
dotnet run -c Release --project bench/OrderEvents.Bench -- --targets service --cold 0s --duration 300s --max-steps 0 --burst 1s \
  --out "$out/report.md" "$@" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
until grep -q "warm-up" "$out/bench.log"; do sleep 1; kill -0 $bench 2>/dev/null || { cat "$out/bench.log"; exit 1; }; done
port=$(grep -o "PostgreSQL cluster on 127.0.0.1:[0-9]*" "$out/bench.log" | head -1 | cut -d: -f2)
postmaster=$(pgrep -f "postgres -D .*orderevents-bench-pg" | head -1)
service=$(pgrep -f "artifacts/bench/service/OrderEvents.dll" | head -1)
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cursor=0
echo "t,service_ticks,postgres_ticks,oldest_pending_ms,pending,checkpoints,buffers_checkpoint,autovacuum,waits" > "$out/timeline.csv"
while kill -0 "$service" 2>/dev/null; do
  t=$(date +%s.%N)
  postgres=$(for p in $postmaster $(pgrep -P "$postmaster"); do ticks "$p"; done | paste -sd+ | bc)
  # The pending events from the last sample's oldest on (an index range, not the whole log).
  row=$(psql -h 127.0.0.1 -p "$port" -U postgres -d orderevents -AtF, -c "
    with pending as (select e.seq_id, e.timestamp from orderevents.mt_events e
      where e.seq_id >= $cursor and not exists (select from notifications.notifications n where n.id = e.id))
    select coalesce((select min(seq_id) from pending), (select coalesce(max(seq_id), 0) + 1 from orderevents.mt_events)),
           coalesce((extract(epoch from clock_timestamp() - (select min(timestamp) from pending)) * 1000)::int, 0),
           (select count(*) from pending),
           (select checkpoints_timed + checkpoints_req from pg_stat_bgwriter),
           (select buffers_checkpoint from pg_stat_bgwriter),
           (select string_agg(substring(query from 'VACUUM (?:ANALYZE )?([^ ]*)'), ' ') from pg_stat_activity
             where backend_type = 'autovacuum worker'),
           (select string_agg(w, ' ') from (select backend_type || '/' || wait_event || 'x' || count(*) as w from pg_stat_activity
             where state = 'active' and wait_event is not null and pid <> pg_backend_pid() group by backend_type, wait_event) x)" \
    2>> "$out/psql.err" || true)
  [ -n "$row" ] && cursor=${row%%,*}
  echo "$t,$(ticks "$service"),$postgres,${row#*,}" >> "$out/timeline.csv"
  sleep 0.9
done
wait $bench || true
trap - EXIT
grep -E "open loop|peak RSS" "$out/bench.log" || true
awk -F, 'NR == 2 { t0 = $1 } NR > 2 && $6 != "" && ($4 > 250 || $6 != last) { printf "%6.1f s  oldest pending %5d ms (%d events)  checkpoints %s  autovacuum: %s  waits: %s\n", $1 - t0, $4, $5, $6, $8, $9 }
         NR > 1 { last = $6 }' "$out/timeline.csv"
