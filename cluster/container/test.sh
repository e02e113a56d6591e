#!/usr/bin/env bash
# End-to-end test of the container deployment with podman and no image registry. Needs root. Run
# from anywhere:
#
#   cluster/container/test.sh                               (or: make container-test)
#   SPIKEQ_BIN=/path/to/spikeq cluster/container/test.sh    (another binary than .build/release/spikeq)
#
# 1. Installs podman (with netavark and aardvark-dns), debootstrap and sqlite3 if needed.
# 2. Base image: a minimal Debian 12 made by debootstrap (from SPIKEQ_DEBIAN_MIRROR, default
#    deb.debian.org) with the Containerfile's RUNTIME_PACKAGES, imported with `podman import`. The
#    root filesystem tarball is cached in /var/cache/spikeq-container (SPIKEQ_CONTAINER_CACHE),
#    keyed by suite, variant and package list; delete it to pick up Debian updates.
# 3. The SpikeQuant image, from cluster/container/Containerfile on that base, with the binary (copied
#    first) and the Swift runtime it links put in place of the Swift build stage by
#    cluster/container/bundle.sh. `spikeq --help` must run in it.
# 4. A cluster on a podman network: CURVE keys made with the image (a coordinator pair, one pair per
#    worker), a coordinator container binding tcp://*:5555 with CURVE and two worker containers that
#    reach it by its container name. Secret keys are podman secrets; public keys are read-only
#    volumes. The coordinator trains a base model for one epoch on a mini synthetic gesture set and
#    runs six real evaluations, then exits; the workers get SIGTERM. The run directory is a volume,
#    checked afterwards (Pareto front, evaluations done, both workers' share) with the image's
#    `spikeq status` / `spikeq pareto` and sqlite3.
# 5. Prints the time of each phase. Containers, network, secrets and images are removed on exit;
#    the work directory is kept when the test fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bin=${SPIKEQ_BIN:-$repo/.build/release/spikeq}
mirror=${SPIKEQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${SPIKEQ_CONTAINER_CACHE:-/var/cache/spikeq-container}
suite=bookworm
evaluations=6
spikeq_uid=10001          # the Containerfile's `spikeq` user
[[ $(id -u) == 0 ]] || { echo "container test: needs root" >&2; exit 1; }
[[ -x $bin ]] || { echo "container test: $bin missing: build first (make build) or set SPIKEQ_BIN" >&2; exit 1; }

# Phases and their wall times, printed at the end whatever happens.
now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }
started=$(now_us)
phase_name=
phase_start=0
timings=()
seconds_since() { local d=$(( $(now_us) - $1 )); printf '%d.%d' $(( d / 1000000 )) $(( d % 1000000 / 100000 )); }
end_phase() {
    [[ -n $phase_name ]] || return 0
    local took; took=$(seconds_since "$phase_start")
    timings+=("$(printf '  %-44s %7s s' "$phase_name" "$took")")
    echo "   ($took s)"
    phase_name=
}
phase() { end_phase; phase_name=$1; phase_start=$(now_us); echo "== $1"; }

# The binary may be rebuilt while this runs: everything below uses this copy.
work=$(mktemp -d /tmp/spikeq-container.XXXXXX)
chmod 755 "$work"
cp "$bin" "$work/spikeq"
id=ct$$
net=spikeq-$id
coordinator=spikeq-$id-coordinator
workers=("spikeq-$id-worker-1" "spikeq-$id-worker-2")
image=localhost/spikeq-$id:test
base_image=localhost/spikeq-$id-base:$suite
secrets=()
podman=(podman)
run_limits=()

cleanup() {
    local status=$?
    set +e
    end_phase
    if (( status != 0 )) && command -v podman >/dev/null; then
        for c in "$coordinator" "${workers[@]}"; do
            "${podman[@]}" container exists "$c" 2>/dev/null || continue
            echo "--- $c (last lines)" >&2
            "${podman[@]}" logs --tail 25 "$c" >&2 2>&1
        done
    fi
    phase "cleanup"
    if command -v podman >/dev/null; then
        "${podman[@]}" rm --force --volumes --time 0 "$coordinator" "${workers[@]}" >/dev/null 2>&1
        "${podman[@]}" network rm "$net" >/dev/null 2>&1
        ((${#secrets[@]})) && "${podman[@]}" secret rm "${secrets[@]}" >/dev/null 2>&1
        "${podman[@]}" rmi --force "$image" "$base_image" >/dev/null 2>&1
    fi
    end_phase
    echo "== wall time per phase"
    printf '%s\n' "${timings[@]}"
    printf '  %-44s %7s s\n' "total" "$(seconds_since "$started")"
    if (( status == 0 )); then
        rm -rf "$work"
        echo "container test: passed"
    else
        echo "container test: FAILED (work directory kept: $work)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # through cleanup too

phase "packages"
# netavark (with aardvark-dns) is the network stack whose containers resolve each other's names;
# iptables is what it programs. runc: see below.
packages=(podman netavark aardvark-dns iptables debootstrap sqlite3)
# crun (podman's default runtime) refuses to start containers on a "hybrid" cgroup host, where v1
# holds the controllers but the v2 hierarchy at /sys/fs/cgroup/unified has one enabled too ("cgroups
# in hybrid mode not supported"; seen in VM sandboxes); runc runs there.
hybrid_cgroups=0
if [[ -n $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]; then
    hybrid_cgroups=1
    packages+=(runc)
fi
bash cluster/install-missing.sh "${packages[@]}"

# Podman's settings for this test, as flags (nothing in /etc/containers is changed):
# - netavark explicitly: a machine that used CNI before keeps CNI by default, and Debian's CNI
#   plugins have no DNS, so workers could not find the coordinator by name.
podman+=(--network-backend netavark)
# - runc on hybrid cgroup hosts (above).
(( hybrid_cgroups )) && podman+=(--runtime runc)
# - without systemd as PID 1 (a container or sandbox), the systemd cgroup manager cannot work.
[[ -d /run/systemd/system ]] || podman+=(--cgroup-manager cgroupfs)
# - rlimits: podman gives a container more open files (1048576) and processes than this shell may
#   have, which the runtime can only set with CAP_SYS_RESOURCE. Where that capability is dropped
#   (some sandboxes), containers get this shell's own open-file limit and 4096 processes instead.
capabilities=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if (( (0x$capabilities >> 24 & 1) == 0 )); then
    nofile=$(ulimit -Hn)
    [[ $nofile == unlimited ]] && nofile=1048576
    nproc=$(ulimit -Hu)
    [[ $nproc == unlimited || $nproc -gt 4096 ]] && nproc=4096
    run_limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
fi
echo "podman $(podman version --format '{{.Client.Version}}'): ${podman[*]:1}${run_limits:+ ${run_limits[*]}}"

phase "base root filesystem (debootstrap)"
# The package list is the Containerfile's, so the runtime stage finds everything installed.
runtime_packages=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' cluster/container/Containerfile)
[[ -n $runtime_packages ]] || { echo "container test: no RUNTIME_PACKAGES in the Containerfile" >&2; exit 1; }
include=$(tr ' ' '\n' <<<"$runtime_packages" | sort -u | paste -sd, -)
key=$(printf '%s\n' "$suite" minbase "$include" trim-1 | sha256sum | cut -c1-16)
tarball=$cache/$suite-minbase-$key.tar
if [[ -s $tarball ]]; then
    echo "cached: $tarball"
else
    mkdir -p "$cache"
    rootfs=$work/rootfs
    debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; echo "container test: debootstrap failed" >&2; exit 1; }
    # What an image does not need: downloaded packages, package lists (the Containerfile's runtime
    # stage runs apt-get update itself if it must install anything), documentation.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/info
    tar --numeric-owner -C "$rootfs" -cf "$tarball.$$.partial" .
    mv "$tarball.$$.partial" "$tarball"
    rm -rf "$rootfs"
    echo "built: $tarball ($(du -h "$tarball" | cut -f1))"
fi

phase "base image (podman import)"
"${podman[@]}" import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$base_image" >/dev/null

phase "SpikeQuant image (podman build)"
cluster/container/bundle.sh "$work/spikeq" "$work/bundle"
# The bundle replaces the Containerfile's `spikeq` stage, so its Swift build stage is not built;
# --pull=never: nothing may come from a registry.
"${podman[@]}" build --quiet --pull=never -f cluster/container/Containerfile --build-context spikeq="$work/bundle" \
    --build-arg BASE="$base_image" -t "$image" . >/dev/null
help=$("${podman[@]}" run --rm "${run_limits[@]}" "$image" --help)
grep -q "USAGE: spikeq <subcommand>" <<<"$help" || { echo "$help" >&2; echo "container test: spikeq --help failed in the image" >&2; exit 1; }
echo "$image: $("${podman[@]}" image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'), spikeq --help runs"

phase "keys, network, configs"
# CURVE keys made by the image's own `spikeq keys` into a directory it owns.
mkdir -p "$work/keys" "$work/config" "$work/runs"
chown "$spikeq_uid:$spikeq_uid" "$work/keys" "$work/runs"
"${podman[@]}" run --rm "${run_limits[@]}" -v "$work/keys:/keys" --entrypoint /bin/sh "$image" -c \
    'for name in coordinator worker-1 worker-2; do spikeq keys generate --out /keys --name "$name" >/dev/null; done'
mkdir -p "$work/keys/authorized"
cp "$work"/keys/worker-*.key "$work/keys/authorized/"
for name in coordinator worker-1 worker-2; do
    "${podman[@]}" secret create "spikeq-$id-$name" "$work/keys/$name.key_secret" >/dev/null
    secrets+=("spikeq-$id-$name")
done
secret() { echo "spikeq-$id-$1,type=mount,target=/keys/$2,uid=$spikeq_uid,mode=0400"; }
"${podman[@]}" network create "$net" >/dev/null

# A small real search, as in cluster/slurm/test.sh, with the image's paths: configs under
# /opt/spikeq/configs, this test's two files in /config, the run and the base model in /runs.
sed -e 's/train_per_class: 200/train_per_class: 6/; s/validation_per_class: 40/validation_per_class: 2/; s/test_per_class: 60/test_per_class: 2/' \
    configs/datasets/synthetic-gestures.yaml > "$work/config/data.yaml"
cat > "$work/config/search.yaml" <<YAML
name: container-test
seed: 5
model: /opt/spikeq/configs/models/spikformer-tiny.yaml
dataset: /config/data.yaml
checkpoint:
  path: /runs/base.safetensors
  train: {epochs: 1, learning_rate: 1.0e-3, batch_size: 16}
energy:
  spikformer-45nm: /opt/spikeq/configs/energy/spikformer-45nm.yaml
  horowitz-45nm: /opt/spikeq/configs/energy/horowitz-45nm.yaml
budget: {evaluations: $evaluations}
search: {population: 4}
fine_tune: {epochs: 1, max_steps: 2, learning_rate: 1.0e-4, batch_size: 16}
YAML

phase "search: coordinator + 2 workers (CURVE)"
"${podman[@]}" run -d "${run_limits[@]}" --name "$coordinator" --network "$net" \
    -v "$work/config:/config:ro" -v "$work/runs:/runs" -v "$work/keys/authorized:/keys/authorized:ro" \
    --secret "$(secret coordinator coordinator.key_secret)" \
    "$image" search --config /config/search.yaml --run /runs/container-test --bind 'tcp://*:5555' \
    --curve-secret /keys/coordinator.key_secret --authorized-keys /keys/authorized >/dev/null
# Workers reach it by its container name, pinned in their /etc/hosts (--add-host) rather than
# looked up in the network's DNS: Debian 12's aardvark-dns (1.4) was seen here to leave such
# queries unanswered for seconds at a time, and libzmq resolves host names in its only I/O thread,
# so each lost query silenced a worker's heartbeats and checkpoint download for 5 s or more (the
# resolver's time-out); one worker missed a whole run that way, another took 30 s to stop.
address=$("${podman[@]}" inspect --format "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$coordinator")
[[ -n $address ]] || { echo "container test: no address for $coordinator on $net" >&2; exit 1; }
# They would wait for it by themselves (it trains the base model before it binds), reconnecting
# with back-off; starting them once it listens saves that time.
for _ in $(seq 600); do
    "${podman[@]}" logs "$coordinator" 2>&1 | grep -q "coordinator listening on" && break
    [[ $("${podman[@]}" inspect --format '{{.State.Running}}' "$coordinator") == true ]] \
        || { echo "container test: the coordinator stopped before listening" >&2; exit 1; }
    sleep 0.5
done
for i in 1 2; do
    "${podman[@]}" run -d "${run_limits[@]}" --name "${workers[$i-1]}" --network "$net" --add-host "$coordinator:$address" \
        -v "$work/keys/coordinator.key:/keys/coordinator.key:ro" --secret "$(secret "worker-$i" worker.key_secret)" \
        "$image" worker --connect "tcp://$coordinator:5555" --name "worker-$i" --threads 1 --cache-dir /home/spikeq/cache \
        --curve-server-key /keys/coordinator.key --curve-keys /keys/worker.key_secret >/dev/null
done
# The coordinator exits when the budget is done; then the workers get SIGTERM, as at a pod's end,
# and must stop cleanly (exit 0) before podman's SIGKILL 10 s later.
exit_code=$(timeout 600 "${podman[@]}" wait "$coordinator") \
    || { echo "container test: the search did not finish in 10 minutes" >&2; exit 1; }
[[ $exit_code == 0 ]] || { echo "container test: the coordinator exited with $exit_code" >&2; exit 1; }
"${podman[@]}" logs "$coordinator" 2>&1 | grep -E "CURVE enabled|listening on|Worker ready" | sed -n '1,5p'
for w in "${workers[@]}"; do
    [[ $("${podman[@]}" inspect --format '{{.State.Running}}' "$w") == true ]] \
        || { echo "container test: $w stopped during the search" >&2; exit 1; }
done
"${podman[@]}" stop --time 10 "${workers[@]}" >/dev/null 2>&1
for w in "${workers[@]}"; do
    code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$w")
    echo "$w: stopped by SIGTERM, exit $code"
    [[ $code == 0 ]] || { echo "container test: $w did not stop cleanly on SIGTERM" >&2; exit 1; }
done

phase "checks"
in_image=("${podman[@]}" run --rm "${run_limits[@]}" -v "$work/runs:/runs" "$image")
"${in_image[@]}" status /runs/container-test
"${in_image[@]}" pareto /runs/container-test
"${in_image[@]}" pareto /runs/container-test --json > "$work/front.json"
db=$work/runs/container-test/run.sqlite
query() { sqlite3 -readonly "$db" "$1"; }
members=$(sqlite3 :memory: "SELECT json_array_length(readfile('$work/front.json'))")
done_count=$(query "SELECT COUNT(*) FROM candidate WHERE status = 'done'")
per_worker=$(query "SELECT name || ':' || (SELECT COUNT(*) FROM attempt WHERE attempt.worker = worker.name AND state = 'done') FROM worker ORDER BY name" | paste -sd' ' -)
echo "Pareto front: $members member(s); evaluations done: $done_count of $evaluations; done per worker: $per_worker"
fail=0
(( members >= 1 )) || { echo "FAIL: empty Pareto front" >&2; fail=1; }
(( done_count == evaluations )) || { echo "FAIL: $done_count evaluations done, expected $evaluations" >&2; fail=1; }
[[ $per_worker =~ ^worker-1:[1-9][0-9]*\ worker-2:[1-9][0-9]*$ ]] \
    || { echo "FAIL: expected both worker containers (and only them) to finish evaluations: $per_worker" >&2; fail=1; }
exit "$fail"
