# shellcheck shell=bash
# The project's own docker engine, for Molecule's docker driver (HALB_MOLECULE_DRIVER=docker):
# a dockerd of its own (data, socket and state under HALB_LAB_ROOT / HALB_LAB_RUN, never the
# host's default /var/lib/docker or /run/docker.sock), the lab image imported from the same
# debootstrap rootfs as podman's, and the `halb` network (lab/addresses.yml's network: its subnet, bridge halbd0).
# dockerd runs with --iptables=false: it never changes the host's FORWARD policy, NAT or
# anything netavark or the egress guard rely on (the containers need no NAT: their apt
# repository is bind-mounted, and the guard drops anything bound for the uplink).
# Needs podman-env.sh, engine.sh and image.sh sourced first.

HALB_DOCKER_NET_BRIDGE=${HALB_DOCKER_NET_BRIDGE:?podman-env.sh sets it (lab/addresses.yml)}
HALB_DOCKER_RUN="$HALB_LAB_RUN/docker"
# The CLI of the docker.io package, matching its dockerd, whatever `docker` comes first on
# PATH (a machine may have another docker client in /usr/local/bin). Molecule, its docker
# connection, testinfra and the cases call plain `docker`: scripts/lab puts
# HALB_DOCKER_BIN (a link to this CLI) first on their PATH.
HALB_DOCKER_CLI=/usr/bin/docker
HALB_DOCKER_BIN="$HALB_DOCKER_RUN/bin"

halb_docker_bin() {
  mkdir -p "$HALB_DOCKER_BIN"
  ln -sfn "$HALB_DOCKER_CLI" "$HALB_DOCKER_BIN/docker"
}

halb_docker_up() {
  { command -v dockerd >/dev/null && [ -x "$HALB_DOCKER_CLI" ]; } || halb_die "dockerd or $HALB_DOCKER_CLI missing (package docker.io): run lab/bin/bootstrap"
  halb_docker_bin
  if "$HALB_DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$HALB_LAB_ROOT/docker" "$HALB_DOCKER_RUN"
  halb_log "starting the lab's dockerd ($DOCKER_HOST)"
  # setsid: the engine outlives the command that started it (like podman's state does);
  # without the caller's descriptors above 2: an inherited one (e.g. the lock of
  # `flock /work/.lab.lock ...`) would stay held for as long as dockerd runs.
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec setsid dockerd \
    --data-root "$HALB_LAB_ROOT/docker" \
    --exec-root "$HALB_DOCKER_RUN/exec" \
    --pidfile "$HALB_DOCKER_RUN/dockerd.pid" \
    --host "$DOCKER_HOST" \
    --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
    --bridge=none --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs \
    --log-level warn </dev/null >"$HALB_DOCKER_RUN/dockerd.log" 2>&1
  ) &
  local deadline=$((SECONDS + 60))
  until "$HALB_DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$HALB_DOCKER_RUN/dockerd.log" >&2
      halb_die "dockerd did not answer on $DOCKER_HOST within 60 s"
    fi
    sleep 0.5
  done
  halb_log "dockerd $("$HALB_DOCKER_CLI" version --format '{{.Server.Version}}') up"
}

halb_docker_down() {
  local pid
  pid=$(cat "$HALB_DOCKER_RUN/dockerd.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  halb_log "the lab's dockerd stopped"
}

halb_docker_image_exists() {
  [ "$("$HALB_DOCKER_CLI" image inspect "$HALB_IMAGE" --format '{{index .Config.Labels "halb.image-key"}}' 2>/dev/null)" = "$HALB_IMAGE_KEY" ]
}

# The rootfs tarball and repository (halb_image builds them when missing), imported into
# docker as the same image name. docker import knows no STOPSIGNAL: the containers get
# --stop-signal SIGRTMIN+3 (systemd's) when they are created.
halb_docker_image() {
  halb_image
  halb_docker_image_exists && return 0
  halb_log "importing $HALB_IMAGE into docker"
  "$HALB_DOCKER_CLI" import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL halb.image-key=$HALB_IMAGE_KEY" \
    --change 'ENV container=docker' \
    "$HALB_ROOTFS_TAR" "$HALB_IMAGE" >/dev/null || halb_die "docker import failed"
}

halb_docker_network() {
  local subnet
  if ! "$HALB_DOCKER_CLI" network inspect "$HALB_NET_NAME" >/dev/null 2>&1; then
    "$HALB_DOCKER_CLI" network create --driver bridge --subnet "$HALB_NET_SUBNET" --gateway "$HALB_NET_GATEWAY" \
      -o "com.docker.network.bridge.name=$HALB_DOCKER_NET_BRIDGE" \
      -o com.docker.network.bridge.enable_ip_masquerade=false \
      "$HALB_NET_NAME" >/dev/null || halb_die "docker cannot create the $HALB_NET_NAME network"
  fi
  subnet=$("$HALB_DOCKER_CLI" network inspect "$HALB_NET_NAME" --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}')
  [ "$subnet" = "$HALB_NET_SUBNET" ] || halb_die "docker network $HALB_NET_NAME has subnet '$subnet', want $HALB_NET_SUBNET"
}

# The network goes when no container is attached to it (the next run creates it again).
halb_docker_net_gc() {
  "$HALB_DOCKER_CLI" network inspect "$HALB_NET_NAME" >/dev/null 2>&1 || return 0
  if [ -z "$("$HALB_DOCKER_CLI" network inspect "$HALB_NET_NAME" --format '{{range .Containers}}{{.Name}} {{end}}')" ]; then
    "$HALB_DOCKER_CLI" network rm "$HALB_NET_NAME" >/dev/null && halb_log "docker network $HALB_NET_NAME removed"
  fi
}
