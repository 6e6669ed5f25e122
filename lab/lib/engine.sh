# shellcheck shell=bash
# The lab's podman engine: its own containers.conf/storage.conf/registries.conf, its own
# storage, and the `halb` network (lab/addresses.yml's subnet) as podman's default network.
# Needs podman-env.sh sourced first.

halb_log() { printf '\033[1m[lab]\033[0m %s\n' "$*" >&2; }
halb_die() {
  halb_log "ERROR: $*"
  [ -z "${__halb_work:-}" ] || rm -rf "$__halb_work"  # a half-built image tree
  exit 1
}

# The engine's parts the config names (bootstrap installs them; halb_engine_check proves them).
HALB_NET_BACKEND=netavark
HALB_OCI_RUNTIME=runc

halb_write_engine_conf() {
  mkdir -p "$HALB_LAB_ROOT/storage" "$HALB_LAB_ROOT/networks" "$HALB_LAB_RUN"
  local tmp
  tmp=$(mktemp "$HALB_LAB_ROOT/.conf.XXXXXX")
  cat >"$tmp" <<CONF
# Written by scripts/lab engine: the lab's own podman engine (not the host's default).
[containers]
# podman's default ulimits fail with EPERM here (no CAP_SYS_RESOURCE).
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
# No IPv6 on the lab network; containers reach nothing but the lab's subnet (lab/addresses.yml).

[engine]
runtime = "$HALB_OCI_RUNTIME"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$HALB_LAB_RUN/libpod"
# Never pull: the image is built locally (scripts/lab image) and no registry is reachable.
pull_policy = "never"

[network]
network_backend = "$HALB_NET_BACKEND"
network_config_dir = "$HALB_LAB_ROOT/networks"
default_network = "$HALB_NET_NAME"
default_subnet = "$HALB_NET_SUBNET"
# Should podman ever have to pick a subnet itself, it can only pick the lab's.
default_subnet_pools = [{"base" = "$HALB_NET_SUBNET", "size" = 24}]
CONF
  mv "$tmp" "$CONTAINERS_CONF"
  cat >"$CONTAINERS_STORAGE_CONF" <<CONF
# Written by scripts/lab engine: storage of the lab's own podman engine.
[storage]
driver = "overlay"
graphroot = "$HALB_LAB_ROOT/storage"
runroot = "$HALB_LAB_RUN/storage"
CONF
  cat >"$CONTAINERS_REGISTRIES_CONF" <<'CONF'
# Written by scripts/lab engine: no registries, nothing is ever pulled.
unqualified-search-registries = []
CONF
}

# The network is written as a file (not left to podman's in-memory default) so that its
# bridge gets its own name (the plan's bridge, halb0) instead of podman0, which a stock podman on the same
# host would also use.
halb_write_network() {
  local f="$HALB_LAB_ROOT/networks/$HALB_NET_NAME.json"
  [ -s "$f" ] && return 0
  cat >"$f" <<JSON
{
  "name": "$HALB_NET_NAME",
  "id": "$(printf '%s' "halb-pair-lab-$HALB_NET_NAME" | sha256sum | cut -c1-64)",
  "driver": "bridge",
  "network_interface": "$HALB_NET_BRIDGE",
  "created": "$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)",
  "subnets": [{"subnet": "$HALB_NET_SUBNET", "gateway": "$HALB_NET_GATEWAY"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
JSON
}

# Egress guard: one mangle/FORWARD rule per owner (lab, each molecule scenario), so that
# parallel users do not remove each other's guard.  netavark never touches mangle.
halb_uplinks() {
  ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | sort -u
}
halb_guard_add() {
  local owner=${1:-lab} dev
  local devs
  devs=$(halb_uplinks)
  [ -n "$devs" ] || halb_log "no default route: no uplink to guard"
  for dev in $devs; do
    [ "$dev" = "$HALB_NET_BRIDGE" ] && continue
    if ! iptables -w -t mangle -C FORWARD -s "$HALB_NET_SUBNET" -o "$dev" \
         -m comment --comment "halb-pair-guard:$owner" -j DROP 2>/dev/null; then
      iptables -w -t mangle -I FORWARD -s "$HALB_NET_SUBNET" -o "$dev" \
        -m comment --comment "halb-pair-guard:$owner" -j DROP
      halb_log "egress guard ($owner): drop $HALB_NET_SUBNET -> $dev"
    fi
  done
}
halb_guard_del() {
  local owner=${1:-lab} rule
  # Delete by exact spec, whatever uplink it was added for.
  while read -r rule; do
    [ -n "$rule" ] || continue
    # shellcheck disable=SC2086
    eval "iptables -w -t mangle ${rule/-A /-D }" && halb_log "egress guard ($owner) removed"
  done < <(iptables -w -t mangle -S FORWARD | grep -F -- "\"halb-pair-guard:$owner\"" || true)
}
halb_guard_list() { iptables -w -t mangle -S FORWARD | grep -F 'halb-pair-guard:' || true; }

# Does the lab's engine really work? podman reads the lab's config, reports the network
# backend and the runtime that config names, and creates and removes a network (in a
# throw-away network config directory: the lab's own network is never touched).
# Every missing piece is named, with the package that brings it.
halb_engine_check() {
  local out backend runtime tmp rc=0
  command -v podman >/dev/null || { halb_log "ERROR: podman missing (package podman)"; return 1; }
  if ! out=$(podman info --format '{{.Host.NetworkBackend}} {{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}' 2>&1); then
    halb_log "ERROR: podman info failed with the lab's config $CONTAINERS_CONF:"
    printf '%s\n' "$out" >&2
    case $out in
      *netavark*) halb_log "ERROR: the network backend $HALB_NET_BACKEND is missing (packages netavark aardvark-dns)" ;;
      *runc*) halb_log "ERROR: the runtime $HALB_OCI_RUNTIME is missing (package runc)" ;;
    esac
    return 1
  fi
  read -r backend runtime _ <<<"$out"
  if [ "$backend" != "$HALB_NET_BACKEND" ]; then
    halb_log "ERROR: podman reports network backend '$backend', the lab's config names $HALB_NET_BACKEND (packages netavark aardvark-dns)"
    rc=1
  fi
  if [ "$runtime" != "$HALB_OCI_RUNTIME" ]; then
    halb_log "ERROR: podman reports runtime '$runtime', the lab's config names $HALB_OCI_RUNTIME (package runc)"
    rc=1
  fi
  [ "$rc" = 0 ] || return 1
  tmp=$(mktemp -d)
  if ! out=$(podman --network-config-dir "$tmp" network create --internal --ipam-driver none halb-engine-check 2>&1 &&
             podman --network-config-dir "$tmp" network rm halb-engine-check 2>&1); then
    halb_log "ERROR: podman cannot create and remove a network with $HALB_NET_BACKEND:"
    printf '%s\n' "$out" >&2
    rc=1
  fi
  rm -rf "$tmp"
  [ "$rc" = 0 ] && halb_log "engine ok: podman $(podman version --format '{{.Client.Version}}'), network backend $backend, runtime $runtime"
  return $rc
}

halb_engine() {
  command -v podman >/dev/null || halb_die "podman missing: run lab/bin/bootstrap"
  command -v "$HALB_OCI_RUNTIME" >/dev/null || halb_die "$HALB_OCI_RUNTIME missing: run lab/bin/bootstrap"
  halb_write_engine_conf
  halb_write_network
  podman network exists "$HALB_NET_NAME" || halb_die "podman does not see network $HALB_NET_NAME"
  local subnet
  subnet=$(podman network inspect "$HALB_NET_NAME" --format '{{range .Subnets}}{{.Subnet}}{{end}}')
  [ "$subnet" = "$HALB_NET_SUBNET" ] || halb_die "network $HALB_NET_NAME has subnet '$subnet', want $HALB_NET_SUBNET"
}

halb_print_env() {
  local v
  for v in HALB_LAB_ROOT HALB_LAB_RUN HALB_CACHE HALB_IMAGE HALB_APT_REPO CONTAINERS_CONF \
           CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF DOCKER_HOST; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

# netavark leaves its global chains (NETAVARK_FORWARD, NETAVARK-HOSTPORT-*) behind when the
# last network goes down. Remove them too, but only when no network of any podman on this
# host still has rules (no per-network NETAVARK-<id> chain and an empty NETAVARK_FORWARD).
halb_netavark_gc() {
  local globals='^(NETAVARK_FORWARD|NETAVARK-HOSTPORT-DNAT|NETAVARK-HOSTPORT-MASQ|NETAVARK-HOSTPORT-SETMARK)$'
  local t c rule
  for t in nat filter; do
    if iptables -w -t "$t" -S | awk '$1 == "-N" {print $2}' | grep '^NETAVARK' | grep -qvE "$globals"; then
      halb_log "netavark chains kept: another podman network is active"
      return 0
    fi
  done
  [ -z "$(iptables -w -t filter -S NETAVARK_FORWARD 2>/dev/null | grep -v '^-N')" ] || {
    halb_log "netavark chains kept: NETAVARK_FORWARD not empty"; return 0; }
  for t in nat filter; do
    while read -r rule; do
      [ -n "$rule" ] || continue
      eval "iptables -w -t $t ${rule/-A /-D }"
    done < <(iptables -w -t "$t" -S | grep -E '^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j NETAVARK' || true)
    for c in $(iptables -w -t "$t" -S | awk '$1 == "-N" {print $2}' | grep -E "$globals" || true); do
      iptables -w -t "$t" -F "$c" && iptables -w -t "$t" -X "$c"
    done
  done
  halb_log "netavark's global chains removed"
}

# One lab node as scripts/lab, scripts/bench (and lab/molecule/shared/create.yml) run it:
# systemd as PID 1, the cgroup bind, VRRP capabilities and SYS_NICE (keepalived_vrrp_nice;
# never --privileged), the offline apt repository read-only, ip_nonlocal_bind on load
# balancers.
#   halb_run_node CONTAINER HOSTNAME IP LABEL lb|rs|other
halb_run_node() {
  local name=$1 host=$2 ip=$3 label=$4 kind=$5 extra=()
  [ "$kind" = lb ] && extra+=(--sysctl net.ipv4.ip_nonlocal_bind=1)
  # An LVS direct-routing real server (the VM lab): podman mounts /proc/sys read-only, so
  # the ARP settings halb.pair.lvs_real_server writes on a real host are set here, and the
  # role finds them right.
  [ "$kind" = rs ] && extra+=(--sysctl net.ipv4.conf.all.arp_ignore=1 --sysctl net.ipv4.conf.all.arp_announce=2)
  podman run -d --name "$name" --hostname "$host" --label "$label=1" \
    --network "$HALB_NET_NAME" --ip "$ip" \
    --systemd=always -v /sys/fs/cgroup/unified:/sys/fs/cgroup/unified:rw \
    -v "$HALB_APT_REPO:/srv/halb-apt:ro" \
    --cap-add NET_ADMIN,NET_RAW,NET_BROADCAST,SYS_NICE "${extra[@]}" \
    "$HALB_IMAGE" >/dev/null
}

# Wait (60 s at most) until systemd runs in the container.
halb_wait_systemd() {
  local c=$1 deadline=$((SECONDS + 60))
  until podman exec "$c" systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'; do
    ((SECONDS < deadline)) || halb_die "$c: systemd not up after 60 s"
    sleep 0.5
  done
}
