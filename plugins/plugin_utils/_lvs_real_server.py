# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs_real_server role's decisions, on the controller: its preflight and its sysctl plan.

- :func:`check`: one host's ``lvs_real_server_*`` variables against the role's argument
  spec (``_argspec``), their strict types (``_types``: address literals, an interface
  name), then the rules across them: VIPs when the state is present, no VIP twice (as
  addresses: ``2001:db8::1`` and ``2001:DB8:0::1`` are one), no loopback, unspecified,
  multicast or link-local VIP (its removal would take the host's own address), and no
  device named ``all`` or ``default`` (their /proc/sys/net/ipv4/conf entries are not a
  device's).
- :func:`sysctl_plan`: from what the node's /proc/sys holds (``KEY VALUE WRITABLE``
  lines), which keys to write, and which differences cannot be written (a container
  whose /proc/sys is read-only): refused when the role is present, left alone when absent.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ._argspec import check as check_types
from ._types import check_role_vars

ROLE = "lvs_real_server"
#: The ARP settings of a direct-routing real server, per key (net.ipv4.conf.*).
ARP_KEYS = ("arp_ignore", "arp_announce")
#: Entries of /proc/sys/net/ipv4/conf that are not devices.
RESERVED_DEVICES = ("all", "default")


def _rules(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    errors: list[str] = []
    vips = values.get("lvs_real_server_vips") or []
    state = values.get("lvs_real_server_state", "present")
    if state == "present" and not vips:
        errors.append(f"lvs_real_server_vips on {host} is empty with lvs_real_server_state present; "
                      "allowed: at least one IPv4 or IPv6 address (the VIPs of the director's DR virtual servers).")
    seen: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str] = {}
    for i, vip in enumerate(vips):
        ip = ipaddress.ip_address(str(vip))  # typed already: an address literal
        if ip in seen:
            errors.append(f"lvs_real_server_vips[{i}] on {host}: found {vip!r}, the address of {seen[ip]!r} again; "
                          "allowed: each address once.")
        seen.setdefault(ip, str(vip))
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
            errors.append(f"lvs_real_server_vips[{i}] on {host}: found {vip!r}, a loopback, unspecified, multicast or "
                          "link-local address; allowed: a unicast address the director forwards to (stopping the role "
                          "removes each VIP from the device).")
    device = values.get("lvs_real_server_device", "lo")
    if device in RESERVED_DEVICES:
        errors.append(f"lvs_real_server_device on {host}: found {device!r}, the name of /proc/sys/net/ipv4/conf/{device} "
                      "(not a device's); allowed: lo or the name of a dummy device.")
    return errors


def check(host: str, values: t.Mapping[str, t.Any], options: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """Every problem of one host's role variables (empty: fine); the rules only once the types are right."""
    converted, problems = check_types(options, values, host)
    if problems:
        return problems
    problems = check_role_vars(ROLE, host, converted)
    if problems:
        return problems
    return _rules(host, converted)


def sysctl_keys(device: str) -> list[str]:
    """The /proc/sys paths the role sets: conf/all, and the device's own when it is not lo."""
    devices = ["all"] + ([device] if device != "lo" else [])
    return [f"net/ipv4/conf/{dev}/{key}" for dev in devices for key in ARP_KEYS]


def _sysctl_name(path: str) -> str:
    """The dotted name of a /proc/sys path (the path itself where a device name holds a dot)."""
    return path if "." in path else path.replace("/", ".")


def _parse(lines: t.Iterable[str]) -> dict[str, tuple[str, bool]]:
    found: dict[str, tuple[str, bool]] = {}
    for line in lines:
        words = str(line).split()
        if len(words) == 3 and words[2] in ("0", "1"):
            found[words[0]] = (words[1], words[2] == "1")
        elif words:
            raise ValueError(f"expected 'KEY VALUE WRITABLE' lines from the node's /proc/sys, found {line!r}")
    return found


def sysctl_plan(
    lines: t.Iterable[str],
    host: str,
    device: str,
    wanted: t.Mapping[str, int],
    absent: bool = False,
) -> dict[str, t.Any]:
    """What to write to /proc/sys.

    ``lines``: ``KEY VALUE WRITABLE`` per key the node has (``KEY`` a /proc/sys path,
    ``WRITABLE`` 1 or 0); a key the node lacks has no line. ``wanted``: ``arp_ignore`` and
    ``arp_announce``. Returns ``write`` (``[{key, value}]``, the keys that differ and can be
    written), ``refused`` (one message per difference that matters and cannot be written;
    never when ``absent``), ``left`` (differences left alone: why, per key) and ``missing``
    (keys the node lacks: a device not created yet).

    The kernel uses the larger of conf/all and conf/DEV for both settings: a device's
    smaller value that cannot be written is left alone when conf/all ends up right.
    """
    found = _parse(lines)
    plan: dict[str, t.Any] = {"write": [], "refused": [], "left": [], "missing": []}
    final_all: dict[str, int | None] = {}
    for path in sysctl_keys(device):
        dev, key = path.split("/")[3], path.split("/")[4]
        want = int(wanted[key])
        if path not in found:
            plan["missing"].append(path)
            if dev == "all" and not absent:
                plan["refused"].append(f"{path} does not exist on {host}; {want} is needed there (has the host IPv4?).")
            continue
        text, writable = found[path]
        current = int(text) if text.lstrip("-").isdigit() else None
        if dev == "all":
            final_all[key] = want if writable or current == want else current
        if current == want:
            continue
        if writable:
            plan["write"].append({"key": path, "value": want})
            continue
        if absent:
            plan["left"].append(f"{path} is {text} on {host}, not {want}, and /proc/sys is read-only there: left as it is.")
            continue
        if dev != "all" and current is not None and current <= want and final_all.get(key) == want:
            plan["left"].append(f"{path} is {text} on {host}, not {want}, and read-only; the kernel uses the larger of "
                                f"conf/all ({want}) and conf/{dev}: left as it is.")
            continue
        plan["refused"].append(
            f"{path} is {text} on {host}; lvs_real_server needs {want}, and /proc/sys is read-only there (a container?). "
            f"Set it where the network namespace is made, e.g. podman run --sysctl {_sysctl_name(path)}={want}, "
            "or make /proc/sys writable."
        )
    return plan
