#!/usr/bin/env bash
# A single-node SLURM cluster on localhost, for CI and for trying profiles/slurm on a workstation.
#
#   scripts/ci/slurm.sh install   apt-get install Debian's slurmctld slurmd slurm-client munge (~10 s)
#   scripts/ci/slurm.sh start     write the config, start munged, slurmctld and slurmd (~1 s)
#   scripts/ci/slurm.sh stop      stop every daemon that `start` started (by PID), remove the config
#   scripts/ci/slurm.sh status    print the daemons' PIDs and `sinfo`
#
# Needs root (slurmd runs jobs as the submitting user; the daemons drop to users munge and slurm).
# Everything stays on the loopback interface: the controller and the node are 127.0.0.1 and the
# daemons bind to that address only (CommunicationParameters=NoCtldInAddrAny,NoInAddrAny).
# State, spool, logs and PID files live in $NANOTRAJ_SLURM_DIR (default /tmp/nanotraj-slurm).
# The config must be /etc/slurm/slurm.conf: the jobs' own `srun` calls (snakemake's slurm-jobstep
# executor) drop SLURM_CONF from their environment and read the default path. `start` refuses to
# overwrite a slurm.conf it did not write; `stop` removes only its own.
set -euo pipefail

DIR=${NANOTRAJ_SLURM_DIR:-/tmp/nanotraj-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# written by nanotraj scripts/ci/slurm.sh"
DIR_TAG="# NANOTRAJ_SLURM_DIR="
LOCK=/tmp/nanotraj-slurm.lock
MUNGE_SOCKET=/run/munge/munge.socket.2
PACKAGES=(slurmctld slurmd slurm-client munge)

die() { echo "slurm.sh: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root"; }

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The state directory named in an existing slurm.conf of ours ("" if none).
conf_dir() { [ -e "$CONF" ] && sed -n "s|^$DIR_TAG||p" "$CONF" | head -n 1 || true; }

# Something listening on the loopback's slurmctld (6817) or slurmd (6818) port?
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# One start or stop at a time on this machine (tests running in parallel).
take_lock() { exec 9>"$LOCK"; flock -w 120 9 || die "another slurm.sh holds $LOCK"; }

do_install() {
    need_root install
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        echo "slurm.sh: SLURM and munge are already installed"
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

write_config() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory below the machine's (slurmd drains a node that has less than configured):
    # 80 % of MemTotal, in MB.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    mkdir -p /etc/slurm
    cat >"$CONF" <<EOF
$MARKER
$DIR_TAG$DIR
# A single-node cluster on the loopback interface, for tests. Removed by \`slurm.sh stop\`.
ClusterName=nanotraj-ci
SlurmctldHost=$(hostname -s)(127.0.0.1)
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers: track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# Cores and memory are consumable, so concurrent jobs share the node as on a real cluster.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Schedule a submitted job at once (the defaults delay batch jobs by up to ~3 s).
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# No slurmdbd: \`sacct\` cannot work, so the workflow's status checks use \`squeue\`, which keeps a
# finished job visible for MinJobAge seconds (longer than the executor's polling interval).
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
# A second partition on the same node, for tests that choose the partition.
PartitionName=other Nodes=localhost Default=NO MaxTime=INFINITE State=UP
EOF
    chmod 644 "$CONF"
}

start() {
    need_root start
    for cmd in munged slurmctld slurmd sinfo sbatch squeue; do
        command -v "$cmd" >/dev/null || die "$cmd not found: run 'scripts/ci/slurm.sh install' first"
    done
    take_lock
    if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; not touching a real SLURM setup"
    fi
    local other
    other=$(conf_dir)
    for d in "$DIR" ${other:+"$other"}; do
        if pid_alive "$d/run/slurmctld.pid" || pid_alive "$d/run/slurmd.pid"; then
            die "already running with NANOTRAJ_SLURM_DIR=$d (slurm.sh stop with that directory first)"
        fi
    done
    for port in 6817 6818; do
        port_busy $port && die "already running: 127.0.0.1:$port is in use by another SLURM"
    done
    rm -rf "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/munge"
    chmod 755 "$DIR"
    chown slurm:slurm "$DIR/state" "$DIR/log" "$DIR/run"
    chown munge:munge "$DIR/munge"
    chmod 700 "$DIR/munge"
    write_config

    # munged as user munge, on its default socket (which sbatch/srun/slurmd use).
    if [ -S "$MUNGE_SOCKET" ] && munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        echo "slurm.sh: using the munged already running at $MUNGE_SOCKET"
    else
        install -d -o munge -g munge -m 755 /run/munge
        if [ ! -s /etc/munge/munge.key ]; then
            install -d -o munge -g munge -m 700 /etc/munge
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
            chown munge:munge /etc/munge/munge.key
            chmod 400 /etc/munge/munge.key
        fi
        runuser -u munge -- munged 9>&- --socket="$MUNGE_SOCKET" --pid-file="$DIR/munge/munged.pid" \
            --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
        for _ in $(seq 50); do pid_alive "$DIR/munge/munged.pid" && [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
        pid_alive "$DIR/munge/munged.pid" || die "munged did not start: $(cat "$DIR/munge/munged.log" 2>/dev/null)"
    fi

    # 9>&-: the daemons must not inherit (and so hold) the lock.
    slurmctld -f "$CONF" 9>&-
    slurmd -f "$CONF" -N localhost 9>&-
    # Ready when the node is idle in the partition.
    for _ in $(seq 100); do
        if sinfo -h -N -o '%t' 2>/dev/null | grep -qx idle; then
            echo "slurm.sh: SLURM is up (slurmctld $(cat "$DIR/run/slurmctld.pid"), slurmd $(cat "$DIR/run/slurmd.pid"))"
            return
        fi
        sleep 0.1
    done
    sinfo -N -l >&2 || true
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    do_stop
    die "the node did not become idle within 10 s"
}

stop_pid() {  # stop_pid NAME PIDFILE: TERM, wait up to 10 s, then KILL
    local name=$1 pidfile=$2 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm.sh: $name ($pid) ignored TERM, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop() {
    need_root stop
    take_lock
    do_stop
}

do_stop() {
    # Cancel what is left (a crashed test), then the node, the controller and munged.
    if pid_alive "$DIR/run/slurmctld.pid"; then scancel --full --quiet --user root 2>/dev/null || true; fi
    stop_pid slurmd "$DIR/run/slurmd.pid"
    stop_pid slurmctld "$DIR/run/slurmctld.pid"
    stop_pid munged "$DIR/munge/munged.pid"
    # Remove the config only if it is this instance's (another instance may have written it).
    if [ -e "$CONF" ] && grep -qF "$MARKER" "$CONF" && [ "$(conf_dir)" = "$DIR" ]; then rm -f "$CONF"; fi
    echo "slurm.sh: stopped"
}

status() {
    for f in "$DIR/munge/munged.pid" "$DIR/run/slurmctld.pid" "$DIR/run/slurmd.pid"; do
        if pid_alive "$f"; then echo "$(basename "$f" .pid): running ($(cat "$f"))"; else echo "$(basename "$f" .pid): not running"; fi
    done
    sinfo 2>/dev/null || true
}

case "${1:-}" in
    install) do_install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
