#!/usr/bin/env bash
# Start a one-node SLURM cluster on 127.0.0.1 (munged, slurmctld, slurmd), everything under DIR:
# its own munge key and socket, slurm.conf/gres.conf, state, logs and free ports, so it touches
# nothing in /etc and can run beside another SLURM. Needs root and Debian's packages
# `slurmctld slurmd slurm-client munge`; no systemd, cgroups or accounting database.
#
#   tests/slurm/start-cluster.sh DIR      # prints "ready" once the node is idle (partition gpu)
#   . DIR/env                              # SLURM_CONF for sbatch/squeue/scancel/snakemake
#   tests/slurm/stop-cluster.sh DIR        # cancels jobs, stops the daemons by PID
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(realpath -m "$1")
for tool in munged slurmctld slurmd sinfo unshare; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 3; }
done
[[ $(id -u) -eq 0 ]] || { echo "$0: must run as root (SlurmUser=root)" >&2; exit 3; }
[[ -d /etc/slurm ]] || mkdir -p /etc/slurm  # the mount point of the bind mount below
unshare --mount true 2>/dev/null || { echo "$0: cannot create a mount namespace (unshare --mount)" >&2; exit 3; }

mkdir -p "$dir"/{etc,state,spool,log,run,pids,munge}
chmod 700 "$dir/munge"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done
host=$(hostname -s)
node=dmrnode
# CPUS=8 claims more CPUs than the machine has, e.g. to schedule profiles/slurm's 8 CPUs per GPU.
cpus=${CPUS:-$(nproc)}
# RealMemory must not exceed what slurmd detects, or the node is drained: use 80 % of it.
memory_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)

sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@NODE@|$node|g" \
    -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
    -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY_MB@|$memory_mb|g" \
    "$here/slurm.conf.in" > "$dir/etc/slurm.conf"
cp "$here/gres.conf" "$dir/etc/gres.conf"
export SLURM_CONF="$dir/etc/slurm.conf"
echo "export SLURM_CONF=$SLURM_CONF" > "$dir/env"

# Each daemon runs in the foreground (-F / -D) as a child of this script, so $! is its PID;
# stdin/stdout/stderr are detached so that a caller reading our output is not held open.
start() {
    local name=$1; shift
    "$@" </dev/null >"$dir/log/$name.out" 2>&1 &
    echo $! > "$dir/pids/$name"
}
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
start munged munged --foreground --force --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
for _ in $(seq 50); do [[ -S $dir/munge/munge.socket ]] && break; sleep 0.1; done
# -i: ignore state a previous cluster may have left in the state folder.
start slurmctld slurmctld -D -i -f "$SLURM_CONF"
# The executor plugin's job step (snakemake-executor-plugin-slurm-jobstep 0.6.1) removes SLURM_CONF
# from the environment of the `srun` it runs inside each job, so srun looks for
# /etc/slurm/slurm.conf. slurmd (and so every job) therefore runs in a private mount namespace in
# which this cluster's etc/ is bind-mounted over /etc/slurm; the machine's /etc stays untouched.
start slurmd unshare --mount --propagation private \
    sh -c 'mount --bind "$1" /etc/slurm && exec slurmd -D -N "$2" -f "$3"' sh \
    "$dir/etc" "$node" "$SLURM_CONF"

deadline=$((SECONDS + 60))
until [[ $(sinfo -h -n "$node" -o %T 2>/dev/null) == idle ]]; do
    for name in munged slurmctld slurmd; do
        if ! kill -0 "$(cat "$dir/pids/$name")" 2>/dev/null; then
            echo "$0: $name exited; its log:" >&2
            tail -n 30 "$dir/log/$name.log" "$dir/log/$name.out" 2>/dev/null >&2 || true
            "$here/stop-cluster.sh" "$dir" >&2 || true
            exit 1
        fi
    done
    if (( SECONDS > deadline )); then
        echo "$0: node $node not idle after 60 s: $(sinfo -h -N -o '%T %E' 2>&1)" >&2
        tail -n 30 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
        "$here/stop-cluster.sh" "$dir" >&2 || true
        exit 1
    fi
    sleep 0.5
done
echo "ready: SLURM_CONF=$SLURM_CONF, node $node ($cpus CPUs, $memory_mb MB, gpu:fake:2)"
