# shellcheck shell=bash
# Source this file to talk to the lab's own podman engine (config, storage, network),
# never the host's default one, and to run the lab's Python by name. Used by scripts/lab, the Molecule scenarios and the tests.
#   . lab/lib/podman-env.sh
# Everything lives under HALB_LAB_ROOT (config, storage, network definitions) and
# HALB_LAB_RUN (runtime state); the image tarball and the apt repository are cached
# under HALB_CACHE and survive `scripts/lab down`.
# The lab's Python (halb_lab, lab/halb_lab) and the collection (ansible_collections.halb.pair,
# linked into .cache/collections by the bootstrap) importable by name: `python -m halb_lab.X`.
HALB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export HALB_REPO
export PYTHONPATH="$HALB_REPO/lab:$HALB_REPO/.cache/collections${PYTHONPATH:+:$PYTHONPATH}"
export HALB_LAB_ROOT="${HALB_LAB_ROOT:-/var/lib/halb-pair-lab}"
export HALB_LAB_RUN="${HALB_LAB_RUN:-/run/halb-pair-lab}"
export HALB_CACHE="${HALB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/halb-pair}"
# The image follows the host's Debian release (release.sh): localhost/halb-debian:12 on
# Debian 12, :13 on Debian 13; its apt repository is cached per suite.
# shellcheck source=release.sh
. "$(dirname "${BASH_SOURCE[0]}")/release.sh"
# Both follow HALB_SUITE, always (never inherited from a parent that had another suite: a
# scenario whose image is localhost/halb-debian:13 gets the trixie repository with it).
export HALB_IMAGE="localhost/halb-debian:${HALB_IMAGE_RELEASE:-unsupported}"
export HALB_APT_REPO="$HALB_CACHE/apt-$HALB_SUITE"
# The network (HALB_NET_NAME, _SUBNET, _GATEWAY, _BRIDGE, HALB_DOCKER_NET_BRIDGE): the address
# plan's, lab/addresses.yml (stdlib python3: this runs before the venv exists).
_halb_net=$(python3 -m halb_lab.addresses --shell network) || { echo "podman-env.sh: cannot read the network of lab/addresses.yml" >&2; return 1; }
eval "$_halb_net"
unset _halb_net
export CONTAINERS_CONF="$HALB_LAB_ROOT/containers.conf"
export CONTAINERS_STORAGE_CONF="$HALB_LAB_ROOT/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$HALB_LAB_ROOT/registries.conf"
# The lab's own dockerd (lab/lib/docker-engine.sh), for Molecule's docker driver.
export DOCKER_HOST="unix://$HALB_LAB_RUN/docker.sock"
