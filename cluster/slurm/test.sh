#!/usr/bin/env bash
# End-to-end test of cluster/slurm/spikeq.sbatch against a real Slurm (Debian's slurmctld, slurmd and
# munge) configured as a one-node cluster on this machine. Needs root. Run from anywhere:
#
#   cluster/slurm/test.sh            (or: make slurm-test)
#
# It installs the packages if needed, writes a minimal slurm.conf, starts munged, slurmctld and
# slurmd, submits a small real search (a mini synthetic gesture set, a base model trained for one
# epoch, four evaluations by two worker tasks), waits for the job, and checks the run's Pareto front.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bin=$repo/.build/release/spikeq
[[ $(id -u) == 0 ]] || { echo "slurm test: needs root" >&2; exit 1; }
[[ -x $bin ]] || { echo "slurm test: build first (make build)" >&2; exit 1; }

packages=(slurmctld slurmd slurm-client munge sqlite3)
bash cluster/install-missing.sh "${packages[@]}"

work=$(mktemp -d /tmp/spikeq-slurm.XXXXXX)
chmod 755 "$work"
cleanup() {
    scancel --quiet --user=root 2>/dev/null || true
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    pkill -x munged 2>/dev/null || true
}
trap cleanup EXIT

# munge: a key, the daemon as its user, a round trip.
if [[ ! -s /etc/munge/munge.key ]]; then mungekey -c -f >/dev/null 2>&1 || mungekey -c; fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

# A one-node cluster on this host.
host=$(hostname)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
chown slurm:slurm /var/spool/slurmctld /var/log/slurm 2>/dev/null || true
rm -f /etc/slurm/cgroup.conf   # Slurm 22.05 runs batch jobs without one (CgroupPlugin=disabled is unknown to it)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=spikeq-test
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pkill -x slurmctld 2>/dev/null || true
pkill -x slurmd 2>/dev/null || true
sleep 1
slurmctld -c
slurmd -c
for _ in $(seq 60); do
    state=$(sinfo -h -o %t 2>/dev/null | head -n1 || true)
    [[ "$state" == idle* ]] && break
    sleep 1
done
sinfo
[[ "$(sinfo -h -o %t | head -n1)" == idle* ]] || { echo "slurm test: node did not become idle" >&2; exit 1; }

# A small real search.
sed -e 's/train_per_class: 200/train_per_class: 6/; s/validation_per_class: 40/validation_per_class: 2/; s/test_per_class: 60/test_per_class: 2/' \
    -e "s|^# cache_dir:.*|cache_dir: $work/frames|" configs/datasets/synthetic-gestures.yaml > "$work/data.yaml"
cat > "$work/search.yaml" <<YAML
name: slurm-test
seed: 5
model: $repo/configs/models/spikformer-tiny.yaml
dataset: $work/data.yaml
checkpoint:
  path: $work/base.safetensors
  train: {epochs: 1, learning_rate: 1.0e-3, batch_size: 16}
energy:
  spikformer-45nm: $repo/configs/energy/spikformer-45nm.yaml
  horowitz-45nm: $repo/configs/energy/horowitz-45nm.yaml
budget: {evaluations: 4}
search: {population: 4}
fine_tune: {epochs: 1, max_steps: 2, learning_rate: 1.0e-4, batch_size: 16}
YAML

port=$(( 20000 + RANDOM % 20000 ))
# CURVE with one key pair per node, made by the batch script from the coordinator's key alone.
"$bin" keys generate --out "$work/keys" --name coordinator >/dev/null
job=$(cd "$work" && SPIKEQ_BIN=$bin SPIKEQ_CONFIG=$work/search.yaml SPIKEQ_RUN=$work/run SPIKEQ_PORT=$port SPIKEQ_CACHE=$work/cache \
    SPIKEQ_KEYS=$work/keys \
    sbatch --parsable --nodes=1 --ntasks=2 --cpus-per-task=1 --time=20 --output="$work/job-%j.out" "$repo/cluster/slurm/spikeq.sbatch")
echo "submitted job $job"
for _ in $(seq 900); do
    squeue -h -j "$job" 2>/dev/null | grep -q . || break
    sleep 1
done
if squeue -h -j "$job" 2>/dev/null | grep -q .; then
    echo "slurm test: job $job did not finish in 15 minutes" >&2
    cat "$work"/job-*.out >&2
    exit 1
fi
state=$(sacct -n -X -j "$job" -o State 2>/dev/null | head -n1 | tr -d ' ' || true)
tail -n 30 "$work"/job-*.out

front=$("$bin" pareto "$work/run" --json)
done_count=$(sqlite3 "$work/run/run.sqlite" "select count(*) from candidate where status='done'" 2>/dev/null || echo "?")
workers=$(sqlite3 "$work/run/run.sqlite" "select count(*) from worker" 2>/dev/null || echo "?")
echo "job state: ${state:-unknown}; candidates done: $done_count; workers seen: $workers"
python3 - "$front" <<'PY'
import json, sys
front = json.loads(sys.argv[1])
members = front if isinstance(front, list) else front.get("members", front)
assert len(members) >= 1, f"empty Pareto front: {front}"
print(f"Pareto front: {len(members)} member(s)")
PY
[[ "$done_count" == 4 ]] || { echo "slurm test: expected 4 finished evaluations, got $done_count" >&2; exit 1; }
[[ "$workers" -ge 2 ]] || { echo "slurm test: expected both worker tasks to take part" >&2; exit 1; }
node_keys=$(ls "$work/keys/authorized"/worker-*.key 2>/dev/null | wc -l)
[[ "$node_keys" -ge 1 ]] || { echo "slurm test: no per-node worker key was authorized" >&2; exit 1; }
echo "slurm test: passed"
rm -rf "$work"
