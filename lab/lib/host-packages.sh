# shellcheck shell=bash
# The host packages the lab needs that a new machine lacks, by name: lab/bin/bootstrap (root)
# installs them with apt-get. lab/tests/test_host_packages.py resolves each command the lab's
# scripts and tests call to its package and fails when one is missing from this line; the
# quick tier's tools (keepalived, nginx, nft, promtool, shellcheck) are scripts/bootstrap's
# tool_pkgs, fetched without installing.
# shellcheck disable=SC2034  # read by lab/bin/bootstrap, which sources this file
host_pkgs=(podman netavark aardvark-dns runc conmon docker.io debootstrap nftables iptables curl qemu-system-x86 qemu-utils)
