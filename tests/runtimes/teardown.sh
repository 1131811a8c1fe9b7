#!/usr/bin/env bash
# Undo tests/runtimes/setup.sh: remove exactly what it recorded in $STATE/created (in reverse order),
# stop the daemons it started, and put back what the daemons changed on the host (iptables,
# sysctls, bridges, top-level cgroup directories, mounts under the runtimes' own directories).
#
# Safe to run twice and after a setup that failed half-way: every step tolerates "already gone",
# and nothing is touched that setup did not record or that was there before it ran.
# Exit status 1 when something of ours could not be removed (the reasons are printed).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root"
if [ ! -d "$STATE" ]; then
  log "nothing to tear down ($STATE does not exist)"
  exit 0
fi
T0=$(now_ms)
problems=0
problem() { warn "$*"; problems=$((problems + 1)); }

# try DESCRIPTION COMMAND...: run, report a failure without stopping.
try() {
  local what=$1; shift
  local out
  if ! out=$("$@" 2>&1); then
    problem "$what: $out"
  fi
}

docker_up() { [ -x "$DOCKER" ] && timeout 10 "$DOCKER" info >/dev/null 2>&1; }
ctr_up() { command -v ctr >/dev/null && timeout 10 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }

stop_pid() {  # stop_pid WHAT PID SECONDS: SIGTERM, then SIGKILL after SECONDS
  local what=$1 pid=$2 limit=$3
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  if ! wait_for "$limit" sh -c "! kill -0 $pid"; then
    warn "$what ($pid) ignored SIGTERM for ${limit}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $pid" || problem "$what ($pid) does not die"
  fi
}

undo() {  # undo KIND ARGS...: one line of $STATE/created
  local kind=$1; shift
  case $kind in
    nspawn)
      # SIGTERM makes systemd-nspawn kill its payload and remove its veth (ve-<machine>).
      [ -n "${2:-}" ] && stop_pid "systemd-nspawn $1" "$2" 15 ;;
    lxc)
      if command -v lxc-info >/dev/null && lxc-info -n "$1" >/dev/null 2>&1; then
        lxc-stop -n "$1" -k >/dev/null 2>&1 || true
        try "lxc-destroy $1" lxc-destroy -n "$1"
      fi ;;
    podman-container)
      if command -v podman >/dev/null && podman container exists "$1" 2>/dev/null; then
        try "podman rm $1" podman rm -f -t 0 "$1"
      fi ;;
    podman-pod)
      if command -v podman >/dev/null && podman pod exists "$1" 2>/dev/null; then
        try "podman pod rm $1" podman pod rm -f -t 0 "$1"
      fi
      # The pause image podman built for the pod's infra container, if it was not there before.
      if command -v podman >/dev/null && [ -f "$STATE/podman-images.before" ]; then
        local image
        for image in $(podman images -q --no-trunc --filter reference=localhost/podman-pause 2>/dev/null); do
          grep -qx "$image" "$STATE/podman-images.before" || try "podman rmi $image" podman rmi -f "$image"
        done
      fi ;;
    compose)
      if docker_up; then
        if command -v docker-compose >/dev/null && [ -f "$2" ]; then
          try "docker-compose down" docker-compose -p "$1" -f "$2" down -t 0
        fi
        # Whatever compose left (or all of it, when the compose file is gone).
        local ids
        ids=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$1")
        [ -z "$ids" ] || try "docker rm (compose $1)" "$DOCKER" rm -f $ids
        if "$DOCKER" network inspect "${1}_default" >/dev/null 2>&1; then
          try "docker network rm ${1}_default" "$DOCKER" network rm "${1}_default"
        fi
      fi ;;
    docker-container)
      if docker_up && "$DOCKER" container inspect "$1" >/dev/null 2>&1; then
        try "docker rm $1" "$DOCKER" rm -f -v "$1"
      fi ;;
    docker-network)
      if docker_up && "$DOCKER" network inspect "$1" >/dev/null 2>&1; then
        try "docker network rm $1" "$DOCKER" network rm "$1"
      fi ;;
    docker-image)
      if docker_up && "$DOCKER" image inspect "$1" >/dev/null 2>&1; then
        try "docker rmi $1" "$DOCKER" rmi -f "$1"
      fi ;;
    ctr-container)
      if ctr_up; then
        if ctr -n "$CTR_NS" task ls -q 2>/dev/null | grep -qx "$1"; then
          ctr -n "$CTR_NS" task kill -s SIGKILL "$1" >/dev/null 2>&1 || true
          wait_for 10 sh -c "ctr -n $CTR_NS task ls | awk -v id=$1 '\$1 == id && \$3 == \"RUNNING\" {f=1} END {exit f}'" || true
          try "ctr task rm $1" ctr -n "$CTR_NS" task rm -f "$1"
        fi
        if ctr -n "$CTR_NS" containers ls -q 2>/dev/null | grep -qx "$1"; then
          try "ctr container rm $1" ctr -n "$CTR_NS" containers rm "$1"
        fi
      fi ;;
    cni)
      # CNI DEL releases the address (host-local state under $STATE) and deletes the veth; it
      # leaves the bridge (cni0), which goes with the other bridges below.
      if [ -e "/run/netns/$1" ] && [ -f "$3" ]; then
        CNI_COMMAND=DEL CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
          /usr/lib/cni/bridge < "$3" >/dev/null 2>&1 || problem "CNI DEL in $1 failed"
      fi ;;
    netns)
      if [ -e "/run/netns/$1" ]; then try "ip netns del $1" ip netns del "$1"; fi ;;
    dir)
      # Only ever a directory setup made for its pod's logs; never anything else.
      case $1 in /var/log/pods/"$PREFIX"*) rm -rf -- "$1" ;; *) problem "refusing to remove $1" ;; esac
      grep -qx /var/log/pods "$STATE/dirs.before" 2>/dev/null || rmdir /var/log/pods 2>/dev/null || true ;;
    daemon)
      case $1 in
        dockerd) stop_pid dockerd "$2" 30 ;;
        containerd) stop_pid containerd "$2" 30 ;;
        *) problem "unknown daemon $1" ;;
      esac ;;
    policy-rc.d)
      if grep -q 'made by vethpeer tests/runtimes/setup.sh' /usr/sbin/policy-rc.d 2>/dev/null; then
        rm -f /usr/sbin/policy-rc.d
      fi ;;
    *) problem "unknown record: $kind $*" ;;
  esac
}

# Containers first, in reverse order of creation; daemons (recorded first) therefore stop last,
# once nothing of ours runs in them.
if [ -f "$STATE/created" ]; then
  # Process substitution, not a pipe: the loop must run in this shell to count problems.
  while read -r kind args; do
    # shellcheck disable=SC2086
    undo "$kind" $args
  done < <(tac "$STATE/created")
fi
T_OBJECTS=$(now_ms)

# --- put back what the runtimes changed on the host ----------------------------------------------
# Bridges: docker0 (dockerd never deletes it), podman0 (netavark may keep it), cni0 (CNI DEL keeps
# it), lxcbr0 (ours). Only those absent before setup, and only when nothing is enslaved to them.
if [ -f "$STATE/links.before" ]; then
  for bridge in $RUNTIME_BRIDGES; do
    [ -e "/sys/class/net/$bridge" ] || continue
    grep -qx "$bridge" "$STATE/links.before" && continue
    if [ -n "$(ls -A "/sys/class/net/$bridge/brif" 2>/dev/null)" ]; then
      problem "$bridge still has ports: $(ls "/sys/class/net/$bridge/brif" | tr '\n' ' ')"
    else
      try "ip link del $bridge" ip link del "$bridge"
    fi
  done
fi

# iptables: restore the saved tables; tables that did not exist before are flushed, and deleted
# through nft where the nf_tables backend made them (iptables itself cannot delete a table).
restore_tables() {  # restore_tables iptables|ip6tables FAMILY
  local tool=$1 family=$2 before="$STATE/$1.before" table
  [ -f "$before" ] && command -v "$tool-save" >/dev/null || return 0
  try "$tool-restore" "$tool-restore" "$before"
  for table in $("$tool-save" 2>/dev/null | sed -n 's/^\*//p'); do
    grep -qx "\*$table" "$before" && continue
    "$tool" -t "$table" -F 2>/dev/null; "$tool" -t "$table" -X 2>/dev/null
    if command -v nft >/dev/null && nft list table "$family" "$table" >/dev/null 2>&1; then
      try "nft delete table $family $table" nft delete table "$family" "$table"
    else
      # No nft (or the legacy backend): the table stays, empty; at least undo dockerd's FORWARD DROP.
      local chain
      for chain in $("$tool" -t "$table" -S 2>/dev/null | awk '$1 == "-P" { print $2 }'); do
        "$tool" -t "$table" -P "$chain" ACCEPT 2>/dev/null
      done
    fi
  done
}
restore_tables iptables ip
restore_tables ip6tables ip6
# netavark (and docker, when told to) may add nft tables of their own.
if [ -f "$STATE/nft-tables.before" ] && command -v nft >/dev/null; then
  while read -r _ family table; do
    [ -n "$table" ] || continue
    grep -qx "table $family $table" "$STATE/nft-tables.before" && continue
    case $table in filter|nat|mangle|raw|security) ;; *)
      try "nft delete table $family $table" nft delete table "$family" "$table" ;;
    esac
  done < <(nft list tables 2>/dev/null)
fi

if [ -f "$STATE/sysctl.before" ]; then
  while IFS='=' read -r key value; do
    [ "$(sysctl -n "$key" 2>/dev/null)" = "$value" ] || try "sysctl $key" sysctl -q -w "$key=$value"
  done < "$STATE/sysctl.before"
fi

# Mounts the runtimes left under their own directories (docker's netns bind mounts, overlays...).
if [ -f "$STATE/mounts.before" ]; then
  while read -r mnt; do
    case $mnt in
      /run/docker/*|/var/lib/docker/*|/run/containerd/*|/var/lib/containerd/*|/run/containers/*|\
      /var/lib/containers/*|/run/netns/netns-*|/run/netns/cni-*|/var/lib/lxc/"$PREFIX"*|"$STATE"/*) ;;
      *) continue ;;
    esac
    grep -qxF "$mnt" "$STATE/mounts.before" && continue
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || problem "cannot unmount $mnt"
  done < <(cut -d' ' -f2 /proc/mounts | tac)
fi

# Top-level cgroup directories the runtimes made (/docker, /libpod_parent, /lxc.payload.*, /payload,
# /supervisor, /kubepods...): only new ones with a known name, emptied depth-first with rmdir, which
# the kernel refuses while any process is inside.
if [ -f "$STATE/cgroups.before" ] && [ -f "$STATE/cgroup-mounts" ]; then
  while read -r mnt; do
    for dir in "$mnt"/*/; do
      dir=${dir%/}
      [ -d "$dir" ] || continue
      [[ $(basename "$dir") =~ $CGROUP_NAMES ]] || continue
      grep -qxF "$dir" "$STATE/cgroups.before" && continue
      find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
      [ ! -d "$dir" ] || problem "cgroup $dir is not empty: $(find "$dir" -name cgroup.procs -exec cat {} + | tr '\n' ' ')"
    done
  done < "$STATE/cgroup-mounts"
fi
# What the daemons wrote outside $STATE, when it was not there before (dirs.before is written before
# any daemon starts; without it nothing is removed) and no package owns it.
if [ -f "$STATE/dirs.before" ] && [ -f "$STATE/mounts.before" ]; then
  for path in $RUNTIME_PATHS; do
    [ -e "$path" ] || continue
    grep -qxF "$path" "$STATE/dirs.before" && continue
    dpkg-query -S "$path" >/dev/null 2>&1 && continue
    if cut -d' ' -f2 /proc/mounts | grep -q "^$path\(/\|$\)"; then
      problem "$path: something is still mounted there, not removed"
      continue
    fi
    rm -rf -- "$path"
  done
fi
T_END=$(now_ms)
printf 'teardown: objects_ms=%s host_ms=%s total_ms=%s problems=%s\n' \
  $((T_OBJECTS - T0)) $((T_END - T_OBJECTS)) $((T_END - T0)) "$problems"

if [ "$problems" -gt 0 ]; then
  warn "kept $STATE for a second try / inspection"
  exit 1
fi
rm -rf -- "$STATE"
log "torn down"
