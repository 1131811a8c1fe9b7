# Shared by setup.sh and teardown.sh (sourced, not run). Names, paths and the record of what was made.
#
# Everything setup makes is appended to "$STATE/created" as it is made ("KIND ARG..." per line), so
# teardown can undo exactly that, in reverse order, even after a setup that stopped half-way.

STATE=${VETHPEER_RUNTIMES_STATE:-/run/vethpeer-runtimes}
PREFIX=vprt-
# A static docker client (v28) may sit first on PATH at /usr/local/bin/docker; use Debian's own.
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
CONTAINERD_SOCK=/run/containerd/containerd.sock
COMPOSE_PROJECT=vprtc
CTR_NS=k8s.io
LXC_NAME=${PREFIX}lxc1
MACHINE=${PREFIX}m1
# Podman 4.3 asks for nofile=1048576 and fails ("error setting rlimit type 7") under a lower hard
# limit; without systemd it must also be told to use cgroupfs and a file event log.
export CONTAINERS_CONF="$STATE/containers.conf"
# Bridges a runtime (or this script) may create on the host; removed by teardown only when absent
# before setup.
RUNTIME_BRIDGES="docker0 podman0 cni-podman0 cni0 lxcbr0"
# Top-level cgroup directories the runtimes create: removed only when new and empty.
CGROUP_NAMES='^(docker|libpod_parent|lxc\.monitor\..*|lxc\.payload\..*|lxc\.pivot|payload|supervisor|kubepods|machine\.slice|machine)$'

# State the daemons write outside $STATE (dockerd even makes an identity key, /etc/docker/key.json).
# Teardown removes each one that did not exist before setup, belongs to no package and has nothing
# mounted under it.
RUNTIME_PATHS="/etc/docker/key.json /etc/docker /etc/containers/networks /var/lib/docker /var/lib/containerd
/var/lib/containers /var/lib/cni /run/docker /run/containerd /run/containers /run/libpod /run/lxc /run/docker.pid
/run/docker.sock /run/runc /run/systemd/nspawn /etc/cni/net.d/cni.lock"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() { log "ERROR: $*"; exit 1; }

record() { printf '%s\n' "$*" >> "$STATE/created"; }

# now_ms: a monotonic-enough wall clock in milliseconds for the timings printed at the end.
now_ms() { date +%s%3N; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
