#!/usr/bin/env bash
# Multi-host fault test on one machine: four network namespaces on a bridge stand in for a head node
# and three worker hosts. Needs root (iproute2). Run from anywhere:
#
#   cluster/netns/test.sh            (or: make netns-test)
#
# 1. cluster/ssh/launch.sh starts the coordinator in `sq-head` (CURVE, keys from `spikeq keys
#    generate`) and one worker in each of sq-w1..3, reaching them through a wrapper around
#    `ip netns exec` instead of ssh. Workers run the null evaluator (a fixed 1.2 s per evaluation),
#    so the test exercises the distributed machinery, not training.
# 2. Faults: sq-w2's link is dropped for 6 s while it evaluates, then restored; later the whole head
#    node "crashes" (kill -9 of launch.sh and the coordinator) while workers are busy, and the
#    coordinator is restarted with --resume. The workers never restart: they reconnect by themselves.
# 3. Checks on the run database: every evaluation of the budget done exactly once, no configuration
#    dispatched as two candidates, the dropped worker counted lost and reconnected.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bin=$repo/.build/release/spikeq
[[ $(id -u) == 0 ]] || { echo "netns test: needs root" >&2; exit 1; }
[[ -x $bin ]] || { echo "netns test: build first (make build)" >&2; exit 1; }
command -v ip >/dev/null || { echo "netns test: needs iproute2 (ip)" >&2; exit 1; }

evaluations=30
port=5599
work=$(mktemp -d /tmp/spikeq-netns.XXXXXX)
namespaces=(sq-head sq-w1 sq-w2 sq-w3)
addresses=(10.201.0.10 10.201.0.11 10.201.0.12 10.201.0.13)

cleanup() {
    pkill -9 -f -- "--connect tcp://10.201.0.10:$port" 2>/dev/null || true
    pkill -9 -f -- "$work/" 2>/dev/null || true
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    ip link del sqbr0 2>/dev/null || true
}
trap cleanup EXIT
cleanup

# The network: a bridge in the root namespace, one veth pair per namespace.
ip link add sqbr0 type bridge
ip link set sqbr0 up
for i in "${!namespaces[@]}"; do
    ns=${namespaces[$i]}
    ip netns add "$ns"
    ip link add "v-$ns" type veth peer name eth0 netns "$ns"
    ip link set "v-$ns" master sqbr0 up
    ip -n "$ns" addr add "${addresses[$i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done

# `ssh HOST COMMAND…` semantics for a namespace: the command words form one shell command line.
cat > "$work/nsexec" <<'SH'
#!/bin/sh
ns=$1; shift
exec ip netns exec "$ns" sh -c "$*"
SH
chmod +x "$work/nsexec"

# Keys (Ironhouse): one coordinator pair, one worker pair shared by the three hosts.
"$bin" keys generate --out "$work/keys" --name coordinator >/dev/null
"$bin" keys generate --out "$work/keys" --name worker >/dev/null
mkdir -p "$work/keys/authorized" && cp "$work/keys/worker.key" "$work/keys/authorized/"

# A mini synthetic set and a search over it whose objective is the null evaluator's energy.
sed -e 's/train_per_class: 200/train_per_class: 3/' -e 's/validation_per_class: 40/validation_per_class: 2/' \
    -e 's/test_per_class: 60/test_per_class: 2/' configs/datasets/synthetic-gestures.yaml > "$work/data.yaml"
cat > "$work/search.yaml" <<YAML
name: netns
seed: 11
model: $repo/configs/models/spikformer-tiny.yaml
dataset: data.yaml
checkpoint:
  path: base.safetensors
  train: {epochs: 1, learning_rate: 1.0e-3, batch_size: 11}
energy:
  null-evaluator: $repo/configs/energy/spikformer-45nm.yaml
objectives:
  - accuracy: validation
  - energy: null-evaluator
budget:
  evaluations: $evaluations
search:
  population: 8
fine_tune: {epochs: 1, max_steps: 1}
lease:
  progress_timeout: 2m
  heartbeat_timeout: 2s   # with 300 ms heartbeats: a silent worker is lost after 7 missed
YAML
printf 'sq-w1\nsq-w2\nsq-w3\n' > "$work/hosts.txt"
export SPIKEQ_CACHE_DIR=$work/frames
run=$work/run

query() { python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True).execute(sys.argv[2]).fetchone()[0])' "$run/run.sqlite" "$1" 2>/dev/null || echo 0; }
wait_for() { # SQL, at-least value, seconds
    for _ in $(seq $(( $3 * 2 ))); do (( $(query "$1") >= $2 )) && return 0; sleep 0.5; done
    echo "netns test: timed out waiting for $1 >= $2" >&2; return 1
}

echo "== launch: coordinator in sq-head, workers in sq-w1..3 (CURVE)"
SPIKEQ_SSH="$work/nsexec" SPIKEQ_REMOTE_BIN="$bin" SPIKEQ_BIN="$bin" \
SPIKEQ_SEARCH_ARGS="--heartbeat-ms 300 --threads 1" \
SPIKEQ_WORKER_ARGS="--evaluator null --null-sleep-ms 1200 --heartbeat-ms 300 --cache-dir $work/cache" \
    ip netns exec sq-head "$repo/cluster/ssh/launch.sh" --hosts "$work/hosts.txt" --config "$work/search.yaml" --run "$run" \
    --port "$port" --keys "$work/keys" --advertise 10.201.0.10 > "$work/launch.log" 2>&1 &
launcher=$!
disown "$launcher"   # its kill -9 below is the fault, not news
wait_for "SELECT COUNT(*) FROM result" 4 240

echo "== fault 1: drop sq-w2's link for 6 s while it evaluates"
wait_for "SELECT COUNT(*) FROM attempt WHERE state = 'running' AND worker LIKE '%sq-w2%'" 1 30
ip link set v-sq-w2 down
sleep 6
ip link set v-sq-w2 up
wait_for "SELECT connects FROM worker WHERE name LIKE '%sq-w2%'" 2 60

echo "== fault 2: the head node crashes (kill -9) while workers are busy"
wait_for "SELECT COUNT(*) FROM result" 14 240
wait_for "SELECT COUNT(*) FROM attempt WHERE state = 'running'" 2 30
kill -9 "$launcher" 2>/dev/null || true
pkill -9 -f -- "search --bind tcp://\*:$port" || true
sleep 1
before=$(query "SELECT COUNT(*) FROM result")
echo "   results before the crash: $before of $evaluations"

echo "== resume: the coordinator restarts; the workers reconnect by themselves"
ip netns exec sq-head "$bin" search --resume "$run" --bind "tcp://*:$port" --heartbeat-ms 300 --threads 1 \
    --curve-secret "$work/keys/coordinator.key_secret" --authorized-keys "$work/keys/authorized" > "$work/resume.log" 2>&1 \
    || { cat "$work/resume.log" >&2; echo "netns test: the resumed coordinator failed" >&2; exit 1; }

results=$(query "SELECT COUNT(*) FROM result")
distinct=$(query "SELECT COUNT(DISTINCT candidate_id) FROM result")
candidates=$(query "SELECT COUNT(*) FROM candidate")
hashes=$(query "SELECT COUNT(DISTINCT config_hash) FROM candidate")
undone=$(query "SELECT COUNT(*) FROM candidate WHERE status != 'done'")
running=$(query "SELECT COUNT(*) FROM attempt WHERE state = 'running'")
w2_lost=$(query "SELECT lost FROM worker WHERE name LIKE '%sq-w2%'")
workers=$(query "SELECT COUNT(*) FROM worker")
reissued=$(query "SELECT COUNT(*) FROM attempt WHERE number > 1")
"$bin" status "$run" | sed -n '1,12p'

lost=$(( evaluations - distinct ))
repeated=$(( results - distinct + candidates - hashes ))
echo "faults injected: 1 dropped link, 1 head-node kill -9; evaluations lost $lost, repeated $repeated;" \
     "re-issued attempts $reissued; sq-w2 lost $w2_lost time(s); $workers workers"
fail=0
(( results == evaluations )) || { echo "FAIL: $results results, expected $evaluations" >&2; fail=1; }
(( lost == 0 && repeated == 0 && undone == 0 && running == 0 )) || { echo "FAIL: lost $lost, repeated $repeated, undone $undone, running $running" >&2; fail=1; }
(( w2_lost >= 1 )) || { echo "FAIL: the dropped link was not noticed" >&2; fail=1; }
(( workers == 3 )) || { echo "FAIL: $workers workers in the run, expected 3" >&2; fail=1; }
(( before < evaluations )) || { echo "FAIL: the crash came after the end" >&2; fail=1; }
if (( fail )); then
    for log in "$work"/*.log /tmp/spikeq-ssh-sq-w*-0.log; do echo "--- $log" >&2; tail -n 15 "$log" >&2 || true; done
else
    echo "netns test: passed"
fi
exit "$fail"
