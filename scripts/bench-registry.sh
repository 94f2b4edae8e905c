#!/usr/bin/env bash
# Site registry writes, Ward against etcd (issue #5), in one run on this machine:
#
#   1. installs etcd 3.4, etcdctl, protoc and its well-known types from Debian when missing;
#   2. builds tests/registry-load (a workspace of its own: etcd-client needs protoc);
#   3. starts a three-member etcd cluster on 127.0.0.1, with its default fsync of every
#      write-ahead-log append, in a temporary directory;
#   4. for each client count, runs the same closed-loop write load against a three-node Ward
#      site over the mesh (loopback TCP, as in `ward run`), against the same site with its
#      replicas talking in-process, and against etcd;
#   5. stops etcd, then kills the leader of a Ward site KILLS times;
#   6. prints a markdown table of the results.
#
# Knobs, from the environment: CLIENT_COUNTS (default "1 16 64"), RUN_SECONDS (10),
# WARMUP_SECONDS (1), VALUE_BYTES (256), KILLS (20). The raw result lines are kept in
# $RESULTS when it is set.
set -euo pipefail

client_counts=${CLIENT_COUNTS:-"1 16 64"}
run_seconds=${RUN_SECONDS:-10}
warmup_seconds=${WARMUP_SECONDS:-1}
value_bytes=${VALUE_BYTES:-256}
kills=${KILLS:-20}

repo=$(cd "$(dirname "$0")/.." && pwd)
load_dir="$repo/tests/registry-load"

# --- 1. What the run needs from Debian. ---
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/*.proto), which etcd's protos import; a
# recommendation of protobuf-compiler, so --no-install-recommends leaves them out.
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
if ((${#missing[@]} > 0)); then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
  echo "installing ${missing[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- 2. The load generator. ---
cargo build --release --quiet --manifest-path "$load_dir/Cargo.toml"
load="$load_dir/target/release/registry-load"

# --- 3. The etcd cluster. ---
# Ward's databases go under the same directory (TMPDIR), so both systems fsync to one disk.
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-registry.XXXXXX")
export TMPDIR="$work"
results=${RESULTS:-"$work/results.txt"}
: >"$results"
etcd_pids=()

stop_etcd() {
  local pid
  for pid in "${etcd_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${etcd_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  etcd_pids=()
}
cleanup() {
  stop_etcd
  rm -rf "$work"
}
trap cleanup EXIT

# Ports away from etcd's defaults (2379/2380), in case a system etcd is running.
members=(e1 e2 e3)
client_port() { echo $((32379 + 10 * $1)); }
peer_port() { echo $((32380 + 10 * $1)); }
cluster=""
endpoints=""
for i in 0 1 2; do
  cluster+="${cluster:+,}${members[$i]}=http://127.0.0.1:$(peer_port "$i")"
  endpoints+="${endpoints:+,}http://127.0.0.1:$(client_port "$i")"
done
for i in 0 1 2; do
  etcd --name "${members[$i]}" \
    --data-dir "$work/etcd-${members[$i]}" \
    --listen-client-urls "http://127.0.0.1:$(client_port "$i")" \
    --advertise-client-urls "http://127.0.0.1:$(client_port "$i")" \
    --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
    --initial-cluster "$cluster" \
    --initial-cluster-token ward-bench \
    --initial-cluster-state new \
    --logger zap --log-outputs stderr >"$work/etcd-${members[$i]}.log" 2>&1 &
  etcd_pids+=($!)
done

healthy=""
for _ in $(seq 1 60); do
  if ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1; then
    healthy=yes
    break
  fi
  sleep 0.5
done
if [ -z "$healthy" ]; then
  echo "etcd did not become healthy; its logs:" >&2
  tail -n 20 "$work"/etcd-*.log >&2
  exit 1
fi

# --- 4. The write load, each count against both systems back to back. ---
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r)" >&2
echo "load before: $(uptime)" >&2
# Both systems wait on fsync; its cost at the time of the run says much of what they can do.
probe_writes=200
probe=$( {
  TIMEFORMAT=%R
  time dd if=/dev/zero of="$work/fsync-probe" bs=4k count=$probe_writes oflag=dsync status=none
} 2>&1)
rm -f "$work/fsync-probe"
echo "disk: $(awk -v s="$probe" -v n=$probe_writes 'BEGIN { printf "%.2f", 1000 * s / n }') ms per" \
  "synchronous 4 KiB write (dd oflag=dsync, $probe_writes writes)" >&2
for clients in $client_counts; do
  for system in ward-mesh ward etcd; do
    args=(--clients "$clients" --seconds "$run_seconds" --warmup-seconds "$warmup_seconds"
      --value-bytes "$value_bytes")
    if [ "$system" = etcd ]; then args+=(--endpoints "$endpoints"); fi
    "$load" "$system" "${args[@]}" | tee -a "$results"
  done
done

# --- 5. Failover, with etcd stopped so that it takes no CPU. ---
stop_etcd
"$load" failover --kills "$kills" | tee -a "$results"
echo "load after: $(uptime)" >&2

# --- 6. The table. ---
field() { # field NAME LINE: the value of NAME=... in LINE
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}
result() { # result SYSTEM CLIENTS
  grep -E "system=$1 clients=$2 " "$results" | tail -n 1
}
echo
echo "| clients | Ward (mesh) ops/s | p50 ms | p99 ms | Ward (in-process) ops/s | p50 ms | p99 ms | etcd ops/s | p50 ms | p99 ms |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for clients in $client_counts; do
  row="| $clients |"
  for system in ward-mesh ward etcd; do
    line=$(result "$system" "$clients")
    row+=" $(field ops_per_s "$line") | $(field p50_ms "$line") | $(field p99_ms "$line") |"
  done
  echo "$row"
done
failover=$(grep 'system=ward-failover' "$results" | tail -n 1)
echo
echo "| Ward leader failover, kill to first committed write | kills | p50 ms | max ms |"
echo "| --- | ---: | ---: | ---: |"
printf '| 3 replicas, default timing | %s | %s | %s |\n' \
  "$(field kills "$failover")" "$(field p50_ms "$failover")" "$(field max_ms "$failover")"
