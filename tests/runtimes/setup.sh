#!/usr/bin/env bash
# Start real container runtimes on this host for tests/test_live_runtimes.py, as root.
#
# Installs Docker, Podman, LXC, systemd-nspawn and containerd + CNI plugins from Debian, builds
# local images without any network (busybox-static), starts the daemons by hand (no systemd as
# PID 1 here) and one or more containers per kind of namespace the owners code must name. Writes
# $STATE/manifest.json: what was started and, per namespace, its owners as each runtime's own tool
# reports them. teardown.sh removes exactly what this made and undoes the daemons' changes.
#
# Idempotent: when everything in the manifest still runs, does nothing; otherwise it tears down
# what is left of an earlier run and starts again.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root"

if [ -f "$STATE/manifest.json" ] && python3 "$HERE/manifest.py" --check "$STATE/manifest.json"; then
  log "already set up: $STATE/manifest.json (every recorded process still runs)"
  exit 0
fi
if [ -d "$STATE" ]; then
  log "an earlier, incomplete run left $STATE: tearing it down first"
  "$HERE/teardown.sh"
fi

mkdir -p "$STATE"
: > "$STATE/created"
T0=$(now_ms)

# --- packages ------------------------------------------------------------------------------------
PKGS="docker.io podman catatonit netavark lxc systemd-container containerd containernetworking-plugins
busybox-static iptables nftables"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
compose_missing=""
dpkg-query -W -f='${Status}' docker-compose 2>/dev/null | grep -q "ok installed" || compose_missing=docker-compose
if [ -n "$missing$compose_missing" ]; then
  # Installing daemons would start their services; a policy-rc.d that exits 101 forbids that.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    record policy-rc.d
    printf '#!/bin/sh\n# made by vethpeer tests/runtimes/setup.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "installing:$missing $compose_missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  [ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing >"$STATE/apt.log"
  # Compose is optional: the project is skipped when it cannot be installed.
  [ -z "$compose_missing" ] || apt-get install -y -qq --no-install-recommends docker-compose \
    >>"$STATE/apt.log" 2>&1 || warn "docker-compose not installable: no compose project"
fi
T_APT=$(now_ms)

# --- what must be put back -----------------------------------------------------------------------
# Taken before any daemon starts: dockerd sets the FORWARD policy to DROP, adds chains and a
# MASQUERADE rule and sets ip_forward; netavark and the CNI bridge plugin set ip_forward too.
iptables-save > "$STATE/iptables.before"
ip6tables-save > "$STATE/ip6tables.before"
nft list tables > "$STATE/nft-tables.before" 2>/dev/null || true
: > "$STATE/sysctl.before"
for key in net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.default.forwarding \
           net.ipv6.conf.all.forwarding net.ipv6.conf.default.forwarding \
           net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables \
           net.bridge.bridge-nf-call-ip6tables net.bridge.bridge-nf-call-arptables; do
  value=$(sysctl -n "$key" 2>/dev/null) && printf '%s=%s\n' "$key" "$value" >> "$STATE/sysctl.before"
done
: > "$STATE/cgroups.before"
while read -r _ mnt fstype _; do
  case $fstype in cgroup|cgroup2) ;; *) continue ;; esac
  for dir in "$mnt"/*/; do [ -d "$dir" ] && printf '%s\n' "${dir%/}" >> "$STATE/cgroups.before"; done
  printf '%s\n' "$mnt" >> "$STATE/cgroup-mounts"
done < /proc/mounts
# Not `ip link show`: printing a veth's link-netnsid makes ip open every /run/netns entry to name
# it, and one that is a FIFO (other people's tests make such entries) blocks it forever (met here).
ls -1 /sys/class/net > "$STATE/links.before"
ls -1 /run/netns > "$STATE/netns.before" 2>/dev/null || true
cut -d' ' -f2 /proc/mounts > "$STATE/mounts.before"
for path in $RUNTIME_PATHS /var/log/pods; do
  [ -e "$path" ] && printf '%s\n' "$path" >> "$STATE/dirs.before"
done
touch "$STATE/dirs.before"

# --- root filesystems (no network: busybox-static) -----------------------------------------------
make_rootfs() {
  local dir=$1
  mkdir -p "$dir"/{bin,dev,etc,proc,sys,tmp,run,var,usr/lib}
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $("$dir/bin/busybox" --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
  done
  # systemd-nspawn refuses a directory without /usr or os-release ("doesn't look like it has an OS tree").
  printf 'ID=vethpeer-test\nNAME="vethpeer test rootfs"\n' > "$dir/usr/lib/os-release"
  ln -s ../usr/lib/os-release "$dir/etc/os-release"
  printf 'root:x:0:0:root:/:/bin/sh\n' > "$dir/etc/passwd"
  printf 'root:x:0:\n' > "$dir/etc/group"
  : > "$dir/etc/hostname"; : > "$dir/etc/hosts"; : > "$dir/etc/resolv.conf"
}
make_rootfs "$STATE/rootfs"
cp -a "$STATE/rootfs" "$STATE/rootfs-podman"
cp -a "$STATE/rootfs" "$STATE/rootfs-nspawn"
cp -a "$STATE/rootfs" "$STATE/rootfs-ctr"

# --- containerd ----------------------------------------------------------------------------------
if ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; then
  log "containerd already runs: using it, not stopping it"
else
  # setsid from a non-leader execs in place: $! is the daemon itself.
  setsid containerd >"$STATE/containerd.log" 2>&1 </dev/null &
  record daemon containerd $!
  wait_for 30 ctr --address "$CONTAINERD_SOCK" version || die "containerd did not start: $STATE/containerd.log"
fi

# --- dockerd -------------------------------------------------------------------------------------
if $DOCKER info >/dev/null 2>&1; then
  log "dockerd already runs: using it, not stopping it"
else
  setsid "$DOCKERD" --containerd="$CONTAINERD_SOCK" >"$STATE/dockerd.log" 2>&1 </dev/null &
  record daemon dockerd $!
  wait_for 60 $DOCKER info || die "dockerd did not start: $STATE/dockerd.log"
fi
T_DAEMONS=$(now_ms)

IMAGE=${PREFIX}busybox:1
record docker-image "$IMAGE"
tar -C "$STATE/rootfs" -c . | $DOCKER import -c 'CMD ["/bin/sleep", "1000000"]' - "$IMAGE" >/dev/null

docker_run() {
  local name=$1; shift
  record docker-container "$name"
  $DOCKER run -d --name "$name" "$@" "$IMAGE" /bin/sleep 1000000 >/dev/null
}
record docker-network ${PREFIX}net
$DOCKER network create ${PREFIX}net >/dev/null
docker_run ${PREFIX}web1
docker_run ${PREFIX}web2
docker_run ${PREFIX}usernet --network ${PREFIX}net
docker_run ${PREFIX}side --network container:${PREFIX}web1
docker_run ${PREFIX}none --network none
docker_run ${PREFIX}host --network host

if command -v docker-compose >/dev/null; then
  cat > "$STATE/compose.yml" <<EOF
version: "2.4"
services:
  web:
    image: $IMAGE
    command: ["/bin/sleep", "1000000"]
  db:
    image: $IMAGE
    command: ["/bin/sleep", "1000000"]
EOF
  record compose "$COMPOSE_PROJECT" "$STATE/compose.yml"
  docker-compose -p "$COMPOSE_PROJECT" -f "$STATE/compose.yml" up -d >"$STATE/compose.log" 2>&1 \
    || die "docker-compose up failed: $STATE/compose.log"
fi

# --- podman --------------------------------------------------------------------------------------
# Podman as root asks for nofile=1048576 and nproc=4194304, and runc fails ("error setting rlimit
# type 7" / "type 6": EPERM) where the hard limits are lower. Even this shell's own hard limits
# failed for nproc (measured: 96365 refused, 4096 accepted), so ask for modest fixed ones.
ulimits=""
for limit in "nofile n" "nproc u"; do
  set -- $limit
  hard=$(ulimit -H"$2")
  [ "$hard" = unlimited ] || [ "$hard" -gt 4096 ] && hard=4096
  ulimits="$ulimits${ulimits:+, }\"$1=$(( hard < 1024 ? hard : 1024 )):$hard\""
done
cat > "$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = [$ulimits]
[network]
network_backend = "netavark"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
podman images -q --no-trunc > "$STATE/podman-images.before" 2>/dev/null || : > "$STATE/podman-images.before"
record podman-container ${PREFIX}podman1
podman run -d --name ${PREFIX}podman1 --rootfs "$STATE/rootfs-podman" /bin/sleep 1000000 >/dev/null
# A pod: its infra container runs catatonit from a pause image podman builds locally.
record podman-pod ${PREFIX}ppod
if podman pod create --name ${PREFIX}ppod >"$STATE/podman-pod.log" 2>&1; then
  record podman-container ${PREFIX}pc1
  podman run -d --pod ${PREFIX}ppod --name ${PREFIX}pc1 --rootfs "$STATE/rootfs-podman" /bin/sleep 1000000 >/dev/null
else
  warn "podman pod create failed (see $STATE/podman-pod.log): no pod"
fi

# --- LXC -----------------------------------------------------------------------------------------
# lxc-net (which would make lxcbr0 with dnsmasq and NAT rules) is a service we do not start: a bare
# bridge is enough for the veth.
if [ ! -e /sys/class/net/lxcbr0 ]; then
  ip link add lxcbr0 type bridge
  ip link set lxcbr0 up
fi
cat > "$STATE/lxc.conf" <<'EOF'
lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.flags = up
lxc.apparmor.profile = unconfined
EOF
record lxc "$LXC_NAME"
lxc-create -q -n "$LXC_NAME" -t busybox -f "$STATE/lxc.conf" >"$STATE/lxc.log" 2>&1 || die "lxc-create: $STATE/lxc.log"
lxc-start -n "$LXC_NAME" -d -o "$STATE/lxc-start.log" || die "lxc-start: $STATE/lxc-start.log"
wait_for 20 sh -c "lxc-info -n $LXC_NAME -s | grep -q RUNNING" || die "LXC container did not start"

# --- systemd-nspawn ------------------------------------------------------------------------------
# No system bus here: --register=no --keep-unit. -n gives a veth: ve-<machine> on the host, host0 inside.
setsid systemd-nspawn -q -D "$STATE/rootfs-nspawn" -M "$MACHINE" --register=no --keep-unit -n \
  --console=pipe /bin/sleep 1000000 </dev/null >"$STATE/nspawn.log" 2>&1 &
record nspawn "$MACHINE" $!
NSPAWN_PID=$!
wait_for 20 sh -c "test -e /sys/class/net/ve-$MACHINE || ! kill -0 $NSPAWN_PID"
[ -e "/sys/class/net/ve-$MACHINE" ] || die "nspawn did not start: $(cat "$STATE/nspawn.log")"

# --- containerd + CNI: a pod as the kubelet would make it ----------------------------------------
POD_UID=$(cat /proc/sys/kernel/random/uuid)
NETNS=cni-$(cat /proc/sys/kernel/random/uuid)
SANDBOX_ID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
APP_ID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
POD_NS=${PREFIX}ns
POD_NAME=${PREFIX}pod1
printf 'POD_UID=%s\nNETNS=%s\nSANDBOX_ID=%s\nAPP_ID=%s\nPOD_NS=%s\nPOD_NAME=%s\n' \
  "$POD_UID" "$NETNS" "$SANDBOX_ID" "$APP_ID" "$POD_NS" "$POD_NAME" > "$STATE/pod.env"
cat > "$STATE/cni.conf" <<EOF
{"cniVersion": "0.4.0", "name": "${PREFIX}pods", "type": "bridge", "bridge": "cni0",
 "isGateway": true, "ipMasq": false, "hairpinMode": true,
 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.77.0/24"}]], "dataDir": "$STATE/cni-ipam"}}
EOF
record netns "$NETNS"
ip netns add "$NETNS"
record cni "$NETNS" "$SANDBOX_ID" "$STATE/cni.conf"
CNI_COMMAND=ADD CNI_CONTAINERID=$SANDBOX_ID CNI_NETNS=/run/netns/$NETNS CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
  /usr/lib/cni/bridge < "$STATE/cni.conf" > "$STATE/cni-result.json" || die "CNI ADD failed: $(cat "$STATE/cni-result.json")"
LOGDIR=/var/log/pods/${POD_NS}_${POD_NAME}_${POD_UID}
record dir "$LOGDIR"
mkdir -p "$LOGDIR/app"
common_annotations=(
  --annotation io.kubernetes.cri.sandbox-id="$SANDBOX_ID"
  --annotation io.kubernetes.cri.sandbox-name="$POD_NAME"
  --annotation io.kubernetes.cri.sandbox-namespace="$POD_NS"
  --annotation io.kubernetes.cri.sandbox-uid="$POD_UID"
)
record ctr-container "$SANDBOX_ID"
ctr -n "$CTR_NS" run -d --null-io --rootfs --cgroup "/kubepods/besteffort/pod$POD_UID/$SANDBOX_ID" \
  --with-ns network:/run/netns/"$NETNS" "${common_annotations[@]}" \
  --annotation io.kubernetes.cri.container-type=sandbox \
  --annotation io.kubernetes.cri.sandbox-log-directory="$LOGDIR" \
  --label io.cri-containerd.kind=sandbox --label io.kubernetes.pod.name="$POD_NAME" \
  --label io.kubernetes.pod.namespace="$POD_NS" --label io.kubernetes.pod.uid="$POD_UID" \
  "$STATE/rootfs-ctr" "$SANDBOX_ID" /bin/sleep 1000000 >/dev/null </dev/null
ctr_pid() { ctr -n "$CTR_NS" task ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" { print $2 }'; }
wait_for 20 test -n "$(ctr_pid "$SANDBOX_ID")" || die "the sandbox task did not start"
SANDBOX_PID=$(ctr_pid "$SANDBOX_ID")
# App containers join the sandbox's namespace through its pid, as containerd's CRI plugin does.
record ctr-container "$APP_ID"
ctr -n "$CTR_NS" run -d --null-io --rootfs --cgroup "/kubepods/besteffort/pod$POD_UID/$APP_ID" \
  --with-ns network:/proc/"$SANDBOX_PID"/ns/net "${common_annotations[@]}" \
  --annotation io.kubernetes.cri.container-type=container \
  --annotation io.kubernetes.cri.container-name=app \
  --annotation io.kubernetes.cri.image-name="$IMAGE" \
  --label io.cri-containerd.kind=container --label io.kubernetes.container.name=app \
  --label io.kubernetes.pod.name="$POD_NAME" --label io.kubernetes.pod.namespace="$POD_NS" \
  --label io.kubernetes.pod.uid="$POD_UID" \
  "$STATE/rootfs-ctr" "$APP_ID" /bin/sleep 1000000 >/dev/null </dev/null
wait_for 20 test -n "$(ctr_pid "$APP_ID")" || die "the app task did not start"
T_STARTED=$(now_ms)

python3 "$HERE/manifest.py" --write "$STATE/manifest.json"
T_END=$(now_ms)
printf 'apt_ms=%s daemons_ms=%s containers_ms=%s manifest_ms=%s total_ms=%s\n' \
  $((T_APT - T0)) $((T_DAEMONS - T_APT)) $((T_STARTED - T_DAEMONS)) $((T_END - T_STARTED)) $((T_END - T0)) \
  | tee "$STATE/timings"
log "set up: $STATE/manifest.json"
