# shellcheck shell=bash
# The lab image (debootstrap, no registry) and the local apt repository that lets the
# roles install keepalived and nginx inside the containers with the egress guard on.
# Needs podman-env.sh and engine.sh sourced first.

# openssh-server and sudo: a node as production has it (the `fast` scenario connects over
# SSH as a non-root user with sudo).
HALB_IMAGE_PACKAGES=python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,procps,sudo,curl,ca-certificates,nftables,openssh-server
# Each entry is resolved on its own against the base image (nginx and nginx-light are
# alternatives and must not be resolved together); python3-aiosmtpd is the lab's mail server
# (the client's, for keepalived's and the watcher's alerts), prometheus the lab's metrics server and
# alert rule evaluator (the client's, scraping the watchers).  Extend with HALB_REPO_EXTRA="pkg ...".
HALB_REPO_SETS=${HALB_REPO_SETS:-"keepalived nginx-light nginx python3-aiosmtpd prometheus"}
# The rootfs and the image are named after the package list: a changed list builds anew
# instead of reusing a cache without the new packages.
HALB_IMAGE_KEY=$(printf '%s' "$HALB_IMAGE_PACKAGES" | sha256sum | cut -c1-12)
HALB_ROOTFS_TAR="$HALB_CACHE/rootfs-$HALB_SUITE-$HALB_IMAGE_KEY.tar.gz"

# The mirror the host itself uses for the image's suite, or for the host's own suite when
# the image's is another release (the same mirror serves both; never a hard-coded host).
halb_mirror() {
  local m
  m=$(halb_mirror_for "$HALB_SUITE")
  [ -n "$m" ] || m=$(halb_mirror_for "$(halb_os_release VERSION_CODENAME)")
  printf '%s\n' "$m"
}
halb_mirror_for() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -r "$f" ]; then
    awk -v suite="$1" '
      function flush() { if (!done && uris != "" && found) { print uris; done = 1 } uris = ""; found = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uris = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
      END { flush() }' "$f"
    return
  fi
  awk -v suite="$1" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list 2>/dev/null
}

halb_image_exists() {
  podman image exists "$HALB_IMAGE" &&
    [ "$(podman image inspect "$HALB_IMAGE" --format '{{index .Labels "halb.image-key"}}' 2>/dev/null)" = "$HALB_IMAGE_KEY" ]
}

# debootstrap into $1 (a fresh directory).
halb_debootstrap() {
  local root=$1 mirror
  mirror=$(halb_mirror)
  [ -n "$mirror" ] || halb_die "cannot read the $HALB_SUITE mirror from /etc/apt/sources.list.d/debian.sources"
  command -v debootstrap >/dev/null || halb_die "debootstrap missing: run lab/bin/bootstrap"
  halb_log "debootstrap $HALB_SUITE from $mirror (about a minute)"
  debootstrap --variant=minbase --include="$HALB_IMAGE_PACKAGES" "$HALB_SUITE" "$root" "$mirror" \
    >"$HALB_CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$HALB_CACHE/debootstrap.log" >&2; halb_die "debootstrap failed"; }
}

# Point a chroot's apt at the host's own mirrors (to resolve/download packages).
halb_chroot_mirror_sources() {
  local root=$1
  rm -f "$root"/etc/apt/sources.list.d/*
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
    : >"$root/etc/apt/sources.list"
  else
    grep -E "^deb .* $HALB_SUITE" /etc/apt/sources.list >"$root/etc/apt/sources.list"
  fi
  # An image of another release than the host's: the host's entries, renamed to its suite.
  local host_suite
  host_suite=$(halb_os_release VERSION_CODENAME)
  if [ -n "$host_suite" ] && [ "$host_suite" != "$HALB_SUITE" ]; then
    sed -i -E "s/\\b$host_suite\\b/$HALB_SUITE/g" \
      "$root/etc/apt/sources.list.d/debian.sources" "$root/etc/apt/sources.list" 2>/dev/null || true
  fi
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
}

# Point a chroot's apt ONLY at the lab repository (what the containers see).
halb_chroot_lab_sources() {
  local root=$1
  rm -f "$root"/etc/apt/sources.list.d/*
  echo 'deb [trusted=yes] file:/srv/halb-apt ./' >"$root/etc/apt/sources.list"
  mkdir -p "$root/srv/halb-apt"
  : >"$root/etc/resolv.conf"
}

halb_chroot_clean() {
  local root=$1
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/log/*.log
  mkdir -p "$root/var/lib/apt/lists/partial"
  # "Never updated": apt's cache_valid_time (Ansible) must not take the build time for a
  # fresh cache, so the roles' own update_cache runs (against /srv/halb-apt).
  rm -f "$root/var/lib/apt/periodic/update-success-stamp"
  touch -h -d @0 "$root/var/lib/apt/lists" "$root/var/lib/apt/lists/partial"
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
}

# Write Packages, Packages.gz and Release for a flat repository in $1.
halb_index_repo() {
  local dir=$1 deb
  (
    cd "$dir"
    : >Packages.new
    for deb in *.deb; do
      dpkg-deb -f "$deb" >>Packages.new
      {
        echo "Filename: ./$deb"
        echo "Size: $(stat -c %s "$deb")"
        echo "MD5sum: $(md5sum "$deb" | cut -d' ' -f1)"
        echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
        echo
      } >>Packages.new
    done
    mv Packages.new Packages
    gzip -9nc Packages >Packages.gz
    {
      echo "Origin: halb-pair-lab"
      echo "Label: halb-pair-lab"
      echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
      echo "SHA256:"
      for f in Packages Packages.gz; do
        echo " $(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"
      done
    } >Release
  )
}

halb_repo_wanted() { echo "$HALB_REPO_SETS ${HALB_REPO_EXTRA:-}" | xargs -n1 | sort -u | xargs; }
halb_repo_ok() {
  [ -s "$HALB_APT_REPO/Packages" ] && [ "$(cat "$HALB_APT_REPO/.packages" 2>/dev/null)" = "$(halb_repo_wanted)" ]
}

# Download keepalived, nginx and every dependency the base image lacks, from a chroot of
# the base image ($1) whose apt points at the host's mirrors.
halb_build_repo_in() {
  local root=$1 set tmp
  halb_log "building the lab apt repository: $(halb_repo_wanted)"
  halb_chroot_mirror_sources "$root"
  rm -rf "$root/var/cache/apt/archives" && mkdir -p "$root/var/cache/apt/archives/partial"
  chroot "$root" apt-get -qq update || halb_die "apt-get update in the chroot failed"
  for set in $(halb_repo_wanted); do
    chroot "$root" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --download-only "$set" >/dev/null || halb_die "cannot download $set"
  done
  tmp=$(mktemp -d "$HALB_CACHE/.repo.XXXXXX")
  cp "$root"/var/cache/apt/archives/*.deb "$tmp/"
  halb_index_repo "$tmp"
  halb_repo_wanted >"$tmp/.packages"
  rm -rf "$HALB_APT_REPO" && mv "$tmp" "$HALB_APT_REPO"
  chmod 0755 "$HALB_APT_REPO"
  halb_log "repository $HALB_APT_REPO: $(ls "$HALB_APT_REPO"/*.deb | wc -l) packages, $(du -sh "$HALB_APT_REPO" | cut -f1)"
}

# Build (or reuse) the rootfs tarball and the repository; import the image if missing.
# One build at a time (the lab and parallel Molecule scenarios may all ask for it).
halb_image() {
  mkdir -p "$HALB_CACHE"
  exec {__halb_lock}>"$HALB_CACHE/.image.lock"
  flock -w 900 "$__halb_lock" || halb_die "another image build holds $HALB_CACHE/.image.lock"
  __halb_image_locked
  local rc=$?
  flock -u "$__halb_lock"; exec {__halb_lock}>&-
  return $rc
}

__halb_image_locked() {
  if halb_image_exists && [ -s "$HALB_ROOTFS_TAR" ] && halb_repo_ok; then
    halb_log "image $HALB_IMAGE and repository present"
    return 0
  fi
  local root
  __halb_work=$(mktemp -d /var/tmp/halb-image.XXXXXX)
  root="$__halb_work/root"
  if [ -s "$HALB_ROOTFS_TAR" ]; then
    if ! halb_repo_ok; then
      mkdir -p "$root" && tar --numeric-owner -xzf "$HALB_ROOTFS_TAR" -C "$root"
      halb_build_repo_in "$root"
    fi
  else
    halb_debootstrap "$root"
    halb_repo_ok || halb_build_repo_in "$root"
    halb_chroot_clean "$root"
    halb_chroot_lab_sources "$root"
    # keepalived and nginx must not be in the base image (the roles install them).
    if chroot "$root" dpkg-query -W keepalived nginx nginx-light nginx-core >/dev/null 2>&1; then
      halb_die "base image unexpectedly contains keepalived or nginx"
    fi
    halb_log "packing $HALB_ROOTFS_TAR"
    tar --numeric-owner --xattrs -C "$root" -cf - . | gzip -1 >"$HALB_ROOTFS_TAR.tmp"
    mv "$HALB_ROOTFS_TAR.tmp" "$HALB_ROOTFS_TAR"
  fi
  if ! halb_image_exists; then
    halb_log "importing $HALB_IMAGE"
    podman import \
      --change 'CMD ["/lib/systemd/systemd"]' \
      --change "LABEL halb.image-key=$HALB_IMAGE_KEY" \
      --change 'ENV container=podman' \
      --change 'STOPSIGNAL SIGRTMIN+3' \
      "$HALB_ROOTFS_TAR" "$HALB_IMAGE" >/dev/null
  fi
  rm -rf "$__halb_work"; __halb_work=
}
