#!/usr/bin/env bash
# Start a SpikeQuant coordinator on this machine and workers on other machines over SSH.
#
#   cluster/ssh/launch.sh --hosts hosts.txt --config configs/search/dvs128-gesture.yaml \
#       [--run runs/NAME | --resume runs/NAME] [--port 5555] [--threads 8] [--keys DIR] [--advertise HOST]
#
# hosts.txt: one host per line (`user@host` works; `host:N` starts N workers there; # comments).
# Each host needs the spikeq binary (SPIKEQ_REMOTE_BIN, default `spikeq` on its PATH) and the
# dataset at the path the dataset config names. With --keys DIR (holding coordinator.key(_secret)
# from `spikeq keys generate --name coordinator`), the link is CURVE-encrypted and authenticated:
# each host gets its own key pair (DIR/workers/worker-HOST.key(_secret), generated on first use,
# its public key added to DIR/authorized/), copied to the host (~/.spikeq-keys) first. To revoke a
# machine, delete DIR/authorized/worker-HOST.key: its next connection is refused.
#
# Workers run detached (nohup) and reconnect on their own if the coordinator restarts; Ctrl-C here
# stops the coordinator and then the workers. SSH defaults to `ssh -o BatchMode=yes`; override it
# with SPIKEQ_SSH (cluster/netns/test.sh uses a wrapper around `ip netns exec`). Extra arguments:
# SPIKEQ_SEARCH_ARGS for the coordinator, SPIKEQ_WORKER_ARGS for every worker (e.g. --heartbeat-ms).
set -euo pipefail

hosts_file= config= run= resume= port=5555 threads=1 keys= advertise=$(hostname -f 2>/dev/null || hostname)
while (($#)); do
    case $1 in
        --hosts) hosts_file=$2; shift 2 ;;
        --config) config=$2; shift 2 ;;
        --run) run=$2; shift 2 ;;
        --resume) resume=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --advertise) advertise=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "launch.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
[[ -n $hosts_file && -r $hosts_file ]] || { echo "launch.sh: --hosts FILE is required" >&2; exit 64; }
[[ -n $config || -n $resume ]] || { echo "launch.sh: --config or --resume is required" >&2; exit 64; }

bin=${SPIKEQ_BIN:-$(command -v spikeq || echo .build/release/spikeq)}
remote_bin=${SPIKEQ_REMOTE_BIN:-spikeq}
read -r -a ssh <<< "${SPIKEQ_SSH:-ssh -o BatchMode=yes}"
endpoint="tcp://${advertise}:${port}"

read -r -a search_extra <<< "${SPIKEQ_SEARCH_ARGS:-}"
worker_extra=${SPIKEQ_WORKER_ARGS:-}
search=("$bin" search --bind "tcp://*:${port}" "${search_extra[@]}")
if [[ -n $resume ]]; then search+=(--resume "$resume"); else search+=(--config "$config"); [[ -n $run ]] && search+=(--run "$run"); fi
worker_keys=()
if [[ -z $keys ]]; then
    echo "launch.sh: no --keys: plain TCP on port $port (--insecure); use --keys on networks you do not trust" >&2
    search+=(--insecure)
else
    search+=(--curve-secret "$keys/coordinator.key_secret" --authorized-keys "$keys/authorized")
    mkdir -p "$keys/authorized" "$keys/workers"
fi

# One key pair per host, so one machine can be revoked without re-keying the others.
host_key() { # HOST -> key name, generating the pair and authorizing it on first use
    local name="worker-${1##*@}"
    name=${name//[^A-Za-z0-9._-]/_}
    if [[ ! -f "$keys/workers/$name.key_secret" ]]; then
        "$bin" keys generate --out "$keys/workers" --name "$name" >/dev/null
        cp "$keys/workers/$name.key" "$keys/authorized/$name.key"
    fi
    echo "$name"
}

"${search[@]}" &
coordinator=$!
started=()
stop_workers() {
    for entry in "${started[@]}"; do
        "${ssh[@]}" "${entry%%|*}" "pkill -f -- '--name ${entry#*|}' || true" </dev/null || true
    done
}
trap 'kill -TERM $coordinator 2>/dev/null || true; wait $coordinator || true; stop_workers' INT TERM

while read -r line; do
    line=${line%%#*}; line=${line//[[:space:]]/}
    [[ -z $line ]] && continue
    host=${line%%:*}; count=1
    [[ $line == *:* ]] && count=${line##*:}
    if [[ -n $keys ]]; then
        key=$(host_key "$host")
        "${ssh[@]}" "$host" 'mkdir -p ~/.spikeq-keys && chmod 700 ~/.spikeq-keys' </dev/null
        for source in "$keys/coordinator.key" "$keys/workers/$key.key_secret"; do
            file=${source##*/}
            # Written aside and renamed: hosts may share a home directory, and a worker started on
            # an earlier host may be reading the file right now.
            "${ssh[@]}" "$host" "umask 077 && cat > ~/.spikeq-keys/$file.tmp.\$\$ && mv -f ~/.spikeq-keys/$file.tmp.\$\$ ~/.spikeq-keys/$file" < "$source"
        done
        worker_keys=(--curve-server-key '~/.spikeq-keys/coordinator.key' --curve-keys "~/.spikeq-keys/$key.key_secret")
    fi
    for ((i = 0; i < count; i++)); do
        name="ssh-${host##*@}-$i"
        "${ssh[@]}" "$host" "nohup $remote_bin worker --connect $endpoint --threads $threads --name $name ${worker_keys[*]} $worker_extra > /tmp/spikeq-$name.log 2>&1 &" </dev/null
        started+=("$host|$name")
        echo "launch.sh: worker $name on $host -> $endpoint"
    done
done < "$hosts_file"

status=0
wait "$coordinator" || status=$?
stop_workers
exit "$status"
