# shellcheck shell=bash
# The Debian release of this host, and the lab image's release that follows it.
# Sourced by lab/lib/podman-env.sh and lab/bin/bootstrap; one place for the mapping.
#   HALB_HOST_RELEASE   the host's major version (12, 13), from /etc/os-release
#   HALB_SUITE          the image's suite (bookworm, trixie); HALB_SUITE=... overrides, and
#                       HALB_RELEASE=13 (a major version) overrides both (Molecule's create.yml
#                       passes the tag of the scenario's image: localhost/halb-debian:13)
#   HALB_IMAGE_RELEASE  the image's major version, the image tag (localhost/halb-debian:N)
declare -gA HALB_SUITES=([12]=bookworm [13]=trixie)

halb_os_release() {  # FIELD: a field of /etc/os-release (HALB_OS_RELEASE points elsewhere, for tests)
  # shellcheck disable=SC1090
  (. "${HALB_OS_RELEASE:-/etc/os-release}" 2>/dev/null && eval "printf '%s' \"\${$1:-}\"")
}

HALB_HOST_RELEASE=$(halb_os_release VERSION_ID)
HALB_HOST_RELEASE=${HALB_HOST_RELEASE%%.*}
if [ -n "${HALB_RELEASE:-}" ]; then
  HALB_SUITE=${HALB_SUITES[$HALB_RELEASE]:-}
elif [ -z "${HALB_SUITE:-}" ]; then
  HALB_SUITE=${HALB_SUITES[${HALB_HOST_RELEASE:-none}]:-}
fi
HALB_IMAGE_RELEASE=
for __r in "${!HALB_SUITES[@]}"; do
  [ "${HALB_SUITES[$__r]}" = "${HALB_SUITE:-}" ] && HALB_IMAGE_RELEASE=$__r
done
unset __r
export HALB_HOST_RELEASE HALB_SUITE HALB_IMAGE_RELEASE

# Exit status 0 when this host and the image's suite are supported; else says why on stderr.
halb_release_check() {
  local id supported
  id=$(halb_os_release ID)
  supported=$(for r in "${!HALB_SUITES[@]}"; do printf 'Debian %s (%s), ' "$r" "${HALB_SUITES[$r]}"; done | sort)
  supported=${supported%, }
  if [ "$id" != debian ]; then
    echo "this host is '${id:-unknown}' $(halb_os_release VERSION_ID), the lab and the tests need ${supported}" >&2
    return 1
  fi
  if [ -z "$HALB_SUITE" ] || [ -z "$HALB_IMAGE_RELEASE" ]; then
    echo "Debian ${HALB_HOST_RELEASE:-?} ($(halb_os_release VERSION_CODENAME)) is not supported yet: the lab image and the tests know ${supported}" >&2
    return 1
  fi
}
