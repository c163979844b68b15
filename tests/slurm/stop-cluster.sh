#!/usr/bin/env bash
# Stop the cluster that start-cluster.sh started under DIR: cancel its jobs, then end each
# daemon by the PID recorded in DIR/pids (TERM, then KILL after 10 s). Safe to run twice.
set -uo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath -m "$1")
export SLURM_CONF="$dir/etc/slurm.conf"
alive() { [[ -f $dir/pids/$1 ]] && kill -0 "$(cat "$dir/pids/$1")" 2>/dev/null; }

if alive slurmctld && alive slurmd; then
    scancel --full --quiet --states=PENDING,RUNNING,SUSPENDED,REQUEUED --user=root 2>/dev/null || true
    for _ in $(seq 20); do
        [[ -z $(squeue -h -t PENDING,RUNNING,COMPLETING,SUSPENDED -o %i 2>/dev/null) ]] && break
        sleep 0.5
    done
fi
status=0
for name in slurmd slurmctld munged; do
    alive "$name" || { rm -f "$dir/pids/$name"; continue; }
    pid=$(cat "$dir/pids/$name")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$0: $name ($pid) ignored TERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null
        sleep 0.2
    fi
    if kill -0 "$pid" 2>/dev/null; then echo "$0: $name ($pid) still running" >&2; status=1; fi
    rm -f "$dir/pids/$name"
done
exit $status
