#!/usr/bin/env bash
# A one-node SLURM cluster (with accounting, so `sacct` works) that lives entirely in one folder.
#
#   tests/cluster/slurm_up.sh up DIR     install slurm-wlm/munge/slurmdbd/mariadb with apt when missing (root
#                                        only), write DIR/etc/slurm.conf, start munged, mariadbd, slurmdbd,
#                                        slurmctld and slurmd, record their PIDs in DIR/pids, wait until the
#                                        node is idle; then `export SLURM_CONF=DIR/etc/slurm.conf` and sbatch.
#   tests/cluster/slurm_up.sh down DIR   cancel the cluster's jobs, stop exactly the recorded PIDs, and fail
#                                        if a slurmstepd or a process of one of the cluster's jobs is left.
#
# Exit code 3 with one line on stdout: this machine cannot run the cluster (not root, no apt); callers skip.
set -euo pipefail

action=${1:?usage: slurm_up.sh up|down DIR}
DIR=$(realpath -m "${2:?usage: slurm_up.sh up|down DIR}")
CLUSTER=vsrtest
NODE=$(hostname -s)
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)

cannot() { echo "cannot start SLURM: $*"; exit 3; }
log() { echo "slurm_up: $*" >&2; }

install_missing() {
  local missing=()
  for cmd in slurmctld:slurm-wlm munged:munge slurmdbd:slurmdbd mariadbd:mariadb-server; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd##*:}")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  [[ $(id -u) -eq 0 ]] || cannot "${missing[*]} missing and not root (apt-get install ${PACKAGES[*]})"
  command -v apt-get >/dev/null 2>&1 || cannot "${missing[*]} missing and no apt-get"
  log "installing ${missing[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$DIR/log/apt.log" 2>&1 \
    || { apt-get update -qq >>"$DIR/log/apt.log" 2>&1 \
         && apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$DIR/log/apt.log" 2>&1; } \
    || cannot "apt-get install ${missing[*]} failed (see $DIR/log/apt.log)"
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_ports() {  # four consecutive free TCP ports: slurmctld, slurmd, slurmdbd, mariadb
  local base
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 30000))
    if port_is_free "$base" && port_is_free $((base + 1)) && port_is_free $((base + 2)) \
        && port_is_free $((base + 3)); then
      echo "$base"; return
    fi
  done
  cannot "no free TCP ports"
}

# Start a daemon in the foreground of its own session, detached from this script; record its PID.
start() {
  local name=$1; shift
  setsid "$@" >"$DIR/log/$name.out" 2>&1 < /dev/null &
  echo "$name $!" >>"$DIR/pids"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 5))); do
    timeout 10 "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "timed out waiting for $what; logs in $DIR/log"
  tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.out >&2 || true
  return 1
}

write_configs() {
  local base=$1 mem
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  mkdir -p "$DIR"/{etc,run,log,state,spool,db}
  chmod 700 "$DIR/etc"
  chmod 755 "$DIR" "$DIR/run"  # munged wants its socket's folders searchable by all
  head -c 1024 /dev/urandom >"$DIR/etc/munge.key"
  chmod 400 "$DIR/etc/munge.key"
  cat >"$DIR/etc/slurm.conf" <<EOF
# one-node test cluster written by tests/cluster/slurm_up.sh
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
# cred_expire: a requeued job waits this long (+1 s) before it may start again (SLURM's default: 120 s);
# 10 s lets requeued test jobs start again without scontrol update StartTime=now, and is still ample for a
# step credential to travel from slurmctld to slurmd on one machine
AuthInfo=socket=$DIR/run/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
PlugStackConfig=$DIR/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# a job whose hold ends (a requeued one, see cred_expire) starts at the next scheduling pass: every 5 s
# here instead of SLURM's 60 s (main loop) and 30 s (backfill)
SchedulerParameters=sched_interval=5,bf_interval=5
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((base + 2))
AccountingStoragePass=$DIR/run/munge.socket
JobCompType=jobcomp/none
MailProg=/bin/true
InactiveLimit=0
KillWait=30
MinJobAge=600
SlurmdTimeout=60
SlurmctldTimeout=60
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$DIR/etc/plugstack.conf"
  cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$DIR/run/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((base + 2))
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((base + 3))
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$DIR/etc/slurmdbd.conf"
}

up() {
  mkdir -p "$DIR/log"
  [[ -e "$DIR/pids" ]] && { log "$DIR already holds a cluster"; exit 1; }
  install_missing
  local base
  base=$(pick_ports)
  write_configs "$base"
  export SLURM_CONF="$DIR/etc/slurm.conf"
  : >"$DIR/pids"

  start munged munged -F --force --key-file="$DIR/etc/munge.key" --socket="$DIR/run/munge.socket" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/run/munged.seed"
  wait_for 20 munged test -S "$DIR/run/munge.socket"

  mariadb-install-db --user=root --datadir="$DIR/db" --auth-root-authentication-method=socket \
    --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1 || { log "mariadb-install-db failed"; exit 1; }
  start mariadbd mariadbd --no-defaults --user=root --datadir="$DIR/db" --socket="$DIR/run/mysql.sock" \
    --port=$((base + 3)) --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$DIR/run/mariadbd.pid" \
    --log-error="$DIR/log/mariadbd.log" --innodb-buffer-pool-size=32M --innodb-log-file-size=8M
  wait_for 60 mariadbd mariadb --no-defaults --socket="$DIR/run/mysql.sock" -u root -e "select 1"
  mariadb --no-defaults --socket="$DIR/run/mysql.sock" -u root -e \
    "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

  start slurmdbd slurmdbd -D -s
  export SLURM_CONF  # slurmdbd finds its configuration next to slurm.conf
  wait_for 60 slurmdbd sacctmgr -n list cluster
  sacctmgr -i add cluster "$CLUSTER" >/dev/null

  start slurmctld slurmctld -D -i -f "$SLURM_CONF"
  wait_for 30 slurmctld scontrol ping
  start slurmd slurmd -D -f "$SLURM_CONF" -N "$NODE"
  wait_for 60 "node $NODE idle" bash -c "sinfo -h -n '$NODE' -o %t | grep -qx idle"
  log "cluster $CLUSTER up in $DIR (SLURM_CONF=$SLURM_CONF)"
}

# PIDs of processes that belong to this cluster's jobs (their environment names this SLURM_CONF).
job_processes() {
  local pid vars
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    vars=$( { tr '\0' '\n' <"$env"; } 2>/dev/null) || continue
    if grep -qx "SLURM_CONF=$DIR/etc/slurm.conf" <<<"$vars" && grep -q '^SLURM_JOB_ID=' <<<"$vars"; then
      echo "$pid"
    fi
  done
}

slurmstepds() { for c in /proc/[0-9]*/comm; do [[ $(cat "$c" 2>/dev/null) == slurmstepd ]] && echo "${c//[^0-9]/}"; done; true; }

stop_pid() {  # TERM, wait up to 20 s, then KILL
  local name=$1 pid=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  log "$name ($pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

down() {
  [[ -f "$DIR/pids" ]] || { log "no cluster recorded in $DIR"; return 0; }
  export SLURM_CONF="$DIR/etc/slurm.conf"
  if scontrol ping >/dev/null 2>&1; then
    scancel -u "$(id -un)" 2>/dev/null || true
    wait_for 60 "jobs to end" bash -c '[[ -z $(squeue -h -o %i) ]]' || true
  fi
  local -a names pids
  while read -r name pid; do names+=("$name"); pids+=("$pid"); done <"$DIR/pids"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${names[i]}" "${pids[i]}"; done
  rm -f "$DIR/pids"
  local left_steps left_jobs
  left_steps=$(slurmstepds)
  left_jobs=$(job_processes)
  if [[ -n $left_steps || -n $left_jobs ]]; then
    log "left behind: slurmstepd [${left_steps//$'\n'/ }] job processes [${left_jobs//$'\n'/ }]"
    exit 1
  fi
  log "cluster in $DIR stopped; no process left"
}

case $action in
  up) up ;;
  down) down ;;
  *) echo "usage: slurm_up.sh up|down DIR" >&2; exit 2 ;;
esac
