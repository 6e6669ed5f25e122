# shellcheck shell=bash
# The lab's virtual machines: QEMU guests (TCG: an emulator, no KVM) with Debian's own
# kernel, for what containers cannot do because they share the host's kernel (LVS: the host
# kernel has no ip_vs). Their disk is the lab's debootstrap rootfs plus linux-image-amd64
# and the lab's apt repository; each guest boots from a copy-on-write overlay, joins the
# lab bridge through a tap device (behind the same egress guard as the containers) and is
# reached over SSH with the lab's own key. Needs podman-env.sh, engine.sh and image.sh.

HALB_VM_DIR="$HALB_CACHE/vm"
HALB_VM_RUN="$HALB_LAB_RUN/vm"
# The build recipe's version: bump it when the guest's disk is built differently.
HALB_VM_RECIPE=1
HALB_VM_KERNEL_PKGS="linux-image-amd64 initramfs-tools"
HALB_VM_MEM=${HALB_VM_MEM:-768}

halb_vm_key() {
  printf '%s %s %s %s' "$HALB_IMAGE_KEY" "$HALB_VM_RECIPE" "$HALB_VM_KERNEL_PKGS" "$(cat "$HALB_APT_REPO/.packages" 2>/dev/null)" |
    sha256sum | cut -c1-12
}

halb_vm_ssh_key() {
  mkdir -p "$HALB_VM_DIR"
  [ -s "$HALB_VM_DIR/id_ed25519" ] ||
    ssh-keygen -q -t ed25519 -N '' -C halb-pair-lab-vm -f "$HALB_VM_DIR/id_ed25519"
}

# The guest's disk (raw ext4, read-only base of every overlay), its kernel and initrd, in
# $HALB_VM_DIR/<key>/; built once per rootfs, repository and recipe.
halb_vm_base() {
  halb_image
  halb_vm_ssh_key
  local key out
  key=$(halb_vm_key)
  out="$HALB_VM_DIR/$key"
  HALB_VM_BASE="$out"
  if [ -s "$out/disk.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
    halb_log "VM disk $out present"
    return 0
  fi
  local work root
  work=$(mktemp -d /var/tmp/halb-vm.XXXXXX)
  root="$work/root"
  mkdir -p "$root"
  halb_log "building the VM disk ($HALB_VM_KERNEL_PKGS on the lab rootfs)"
  tar --numeric-owner -xzf "$HALB_ROOTFS_TAR" -C "$root"
  halb_chroot_mirror_sources "$root"
  # the kernel's postinst (depmod, update-initramfs) wants /proc and /dev
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  local rc=0
  # shellcheck disable=SC2086
  { chroot "$root" apt-get -qq update &&
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $HALB_VM_KERNEL_PKGS; } >"$work/install.log" 2>&1 || rc=$?
  umount -R "$root/dev" || true
  umount "$root/proc" || true
  [ "$rc" = 0 ] || { tail -n 20 "$work/install.log" >&2; halb_die "installing $HALB_VM_KERNEL_PKGS in the VM disk failed"; }
  __halb_vm_configure "$root"
  halb_chroot_clean "$root"
  halb_chroot_lab_sources "$root"
  cp -a "$HALB_APT_REPO/." "$root/srv/halb-apt/"
  local tmp="$work/out"
  mkdir -p "$tmp"
  cp "$(ls "$root"/boot/vmlinuz-* | tail -n 1)" "$tmp/vmlinuz"
  cp "$(ls "$root"/boot/initrd.img-* | tail -n 1)" "$tmp/initrd.img"
  basename "$(ls "$root"/boot/vmlinuz-* | tail -n 1)" | sed 's/^vmlinuz-//' >"$tmp/kernel-release"
  mkfs.ext4 -q -L halb-vm -d "$root" -F "$tmp/disk.img" 4G || halb_die "mkfs.ext4 -d failed"
  rm -rf "$out" && mkdir -p "$HALB_VM_DIR" && mv "$tmp" "$out"
  rm -rf "$work"
  halb_log "VM disk $out: kernel $(cat "$out/kernel-release")"
}

# What a guest needs beyond the container image: its root on /dev/vda, its address from the
# kernel command line (halb.ip= halb.gw=, one unit, no DHCP), the lab's SSH key for root.
__halb_vm_configure() {
  local root=$1
  echo '/dev/vda / ext4 defaults,noatime 0 1' >"$root/etc/fstab"
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$HALB_VM_DIR/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  : >"$root/etc/hostname"
  cat >"$root/usr/local/sbin/halb-vm-net" <<'NET'
#!/bin/sh
# The guest's address from the kernel command line (halb.ip=A/P halb.gw=G), on eth0.
set -e
for w in $(cat /proc/cmdline); do
  case $w in halb.ip=*) ip=${w#halb.ip=} ;; halb.gw=*) gw=${w#halb.gw=} ;; esac
done
ip link set lo up
ip link set eth0 up
[ -n "$ip" ] && ip addr replace "$ip" dev eth0
[ -n "$gw" ] && ip route replace default via "$gw"
exit 0
NET
  chmod 0755 "$root/usr/local/sbin/halb-vm-net"
  cat >"$root/etc/systemd/system/halb-vm-net.service" <<'UNIT'
[Unit]
Description=halb.pair lab: the guest's address from the kernel command line
DefaultDependencies=no
Before=network.target ssh.service
Wants=network.target
After=systemd-udevd.service sys-subsystem-net-devices-eth0.device
Requires=sys-subsystem-net-devices-eth0.device

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/halb-vm-net

[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/halb-vm-net.service "$root/etc/systemd/system/multi-user.target.wants/halb-vm-net.service"
  # The serial console logs in nobody; the guest is reached over SSH only.
  ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
  ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
}

# --- running guests -----------------------------------------------------------------------
# A guest's name is its node in the plan (lvs1); its tap device halbvm-<node>, its files
# (overlay disk, pid, serial console) in $HALB_VM_RUN.
halb_vm_tap() { printf 'halbvm-%s' "$1"; }
halb_vm_pid() { cat "$HALB_VM_RUN/$1.pid" 2>/dev/null; }
halb_vm_running() { local p; p=$(halb_vm_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# The MAC of a guest, from its address (52:54:00 is QEMU's prefix).
halb_vm_mac() {
  local IFS=.
  # shellcheck disable=SC2086
  set -- $1
  printf '52:54:00:%02x:%02x:%02x' "$2" "$3" "$4"
}

# Boot a guest: NODE ADDRESS. A fresh overlay unless HALB_VM_REUSE=1 (a reboot keeps it).
halb_vm_start() {
  local node=$1 ip=$2 tap disk prefix
  tap=$(halb_vm_tap "$node")
  disk="$HALB_VM_RUN/$node.qcow2"
  prefix=${HALB_NET_SUBNET#*/}
  mkdir -p "$HALB_VM_RUN"
  halb_vm_running "$node" && { halb_log "$node: already running"; return 0; }
  ip link show "$HALB_NET_BRIDGE" >/dev/null 2>&1 || halb_die "bridge $HALB_NET_BRIDGE missing (start the containers first)"
  if [ "${HALB_VM_REUSE:-0}" != 1 ] || [ ! -s "$disk" ]; then
    rm -f "$disk"
    qemu-img create -q -f qcow2 -F raw -b "$HALB_VM_BASE/disk.img" "$disk"
  fi
  ip link show "$tap" >/dev/null 2>&1 || ip tuntap add dev "$tap" mode tap
  ip link set "$tap" master "$HALB_NET_BRIDGE"
  ip link set "$tap" up
  : >"$HALB_VM_RUN/$node.console"
  # TCG, no KVM: a KVM guest hangs after the BIOS on this kind of machine (nested
  # virtualisation; ../shared/LAB.md). -no-reboot: a guest's reboot ends QEMU, and
  # halb_vm_start boots it again (a real reboot, its disk kept).
  qemu-system-x86_64 -name "halb-vm-$node" -accel tcg -m "$HALB_VM_MEM" -smp 1 -no-reboot \
    -kernel "$HALB_VM_BASE/vmlinuz" -initrd "$HALB_VM_BASE/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 systemd.hostname=$node halb.ip=$ip/$prefix halb.gw=$HALB_NET_GATEWAY" \
    -drive "file=$disk,if=virtio,format=qcow2" \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$(halb_vm_mac "$ip")" \
    -serial "file:$HALB_VM_RUN/$node.console" -display none -monitor none \
    -pidfile "$HALB_VM_RUN/$node.pid" -daemonize || halb_die "$node: qemu did not start"
}

halb_vm_ssh_args() {
  printf '%s\n' -i "$HALB_VM_DIR/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o ConnectTimeout=3 -o BatchMode=yes
}

# Wait (HALB_VM_BOOT_TIMEOUT, 180 s) until the guest answers SSH with systemd up.
halb_vm_wait() {
  local node=$1 ip=$2 deadline=$((SECONDS + ${HALB_VM_BOOT_TIMEOUT:-180})) args
  mapfile -t args < <(halb_vm_ssh_args)
  until ssh "${args[@]}" "root@$ip" 'systemctl is-system-running --wait >/dev/null 2>&1; true' </dev/null 2>/dev/null; do
    halb_vm_running "$node" || { tail -n 20 "$HALB_VM_RUN/$node.console" >&2; halb_die "$node: QEMU exited while booting"; }
    ((SECONDS < deadline)) || { tail -n 20 "$HALB_VM_RUN/$node.console" >&2; halb_die "$node: no SSH after ${HALB_VM_BOOT_TIMEOUT:-180} s"; }
    sleep 1
  done
}

# Stop a guest: SIGKILL is what a dead node is; the tap goes with it.
halb_vm_kill() {
  local node=$1 p
  if p=$(halb_vm_pid "$node") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -9 "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$HALB_VM_RUN/$node.pid"
}

halb_vm_remove() {
  local node=$1 tap
  halb_vm_kill "$node"
  tap=$(halb_vm_tap "$node")
  ip link show "$tap" >/dev/null 2>&1 && ip link delete "$tap"
  rm -f "$HALB_VM_RUN/$node.qcow2"
}
