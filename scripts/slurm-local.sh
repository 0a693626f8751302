#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests/slurm.rs and for trying `probecast study
# slurm` locally. Installs nothing: it needs Debian's slurm-wlm and munge (`.ci/run` installs
# them) and root (the daemons run as root, munged as the munge user). No systemd: the daemons
# are started by hand.
#
#   scripts/slurm-local.sh start [DIR]   configure and start munged, slurmctld and slurmd; print
#                                        `export SLURM_CONF=...` for the client commands
#   scripts/slurm-local.sh stop [DIR]    stop exactly the daemons started there (by pid) and
#                                        remove DIR
#
# Everything lives in DIR (default $PROBECAST_SLURM_DIR or /tmp/probecast-slurm): a fresh munge
# key, munged's socket, slurm.conf, the spool and state directories, logs and pid files. Nothing
# is written to /etc, /run or /var. Ports: $PROBECAST_SLURM_PORT (slurmctld, default 6917) and
# the next one (slurmd). A daemon that does not start is an error with the daemon's own log.
set -euo pipefail

cmd=${1:-}
D=${2:-${PROBECAST_SLURM_DIR:-/tmp/probecast-slurm}}
PORT=${PROBECAST_SLURM_PORT:-6917}

die() { echo "slurm-local.sh: $*" >&2; exit 1; }

stop_pid() { # pidfile name
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

case "$cmd" in
start)
  [ "$(id -u)" = 0 ] || die "must run as root (the daemons run as root)"
  for b in munged slurmctld slurmd sbatch; do
    command -v "$b" >/dev/null || die "$b not found: apt-get install -y slurm-wlm munge"
  done
  id munge >/dev/null 2>&1 || die "no 'munge' user: apt-get install -y munge"
  [ -e "$D/slurm.conf" ] && die "$D already holds a cluster: run '$0 stop $D' first"
  mkdir -p "$D"
  chmod 755 "$D"
  mkdir -p "$D/munge" "$D/munge-key" "$D/spool/slurmd" "$D/state" "$D/log"
  dd if=/dev/urandom of="$D/munge-key/munge.key" bs=1024 count=1 status=none
  chown -R munge:munge "$D/munge" "$D/munge-key"
  chmod 755 "$D/munge"
  chmod 700 "$D/munge-key"
  chmod 600 "$D/munge-key/munge.key"
  SOCK="$D/munge/munge.sock"
  su -s /bin/sh munge -c "/usr/sbin/munged --socket=$SOCK --key-file=$D/munge-key/munge.key \
    --pid-file=$D/munge/munged.pid --log-file=$D/munge-key/munged.log \
    --seed-file=$D/munge-key/munged.seed" \
    || die "munged did not start: $(cat "$D/munge-key/munged.log" 2>/dev/null)"
  munge -S "$SOCK" -n | unmunge -S "$SOCK" >/dev/null \
    || die "munge -n | unmunge failed: $(tail -n 5 "$D/munge-key/munged.log")"
  HOST=$(hostname)
  MEM=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
  cat > "$D/slurm.conf" <<CONF
ClusterName=probecast
SlurmctldHost=$HOST
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
MpiDefault=none
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/slurmd
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SchedulerType=sched/backfill
MaxArraySize=10001
NodeName=$HOST CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$D/slurm.conf"
  slurmctld -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -n 20 "$D/log/slurmctld.log" 2>/dev/null)"
  slurmd -f "$SLURM_CONF" || die "slurmd did not start: $(tail -n 20 "$D/log/slurmd.log" 2>/dev/null)"
  for _ in $(seq 100); do
    if sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.2
  done
  die "the node did not become idle in 20 s: sinfo says '$(sinfo -h -o '%t %E' 2>&1)'; slurmctld: $(tail -n 5 "$D/log/slurmctld.log" 2>/dev/null); slurmd: $(tail -n 5 "$D/log/slurmd.log" 2>/dev/null)"
  ;;
stop)
  [ -d "$D" ] || exit 0
  stop_pid "$D/slurmd.pid"
  stop_pid "$D/slurmctld.pid"
  stop_pid "$D/munge/munged.pid"
  rm -rf "$D"
  ;;
*)
  echo "usage: $0 start|stop [DIR]" >&2
  exit 2
  ;;
esac
