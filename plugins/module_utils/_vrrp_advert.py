# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VRRP adverts sent on behalf of a dead keepalived (the keepalived role's crash hand-over).

When keepalived dies without stopping (SIGKILL, a crash) its VIPs stay on the interface
and no priority-0 advert goes out: the peer waits out its whole master-down interval,
then the restarted keepalived removes the stale VIPs at once. keepalived's unit runs
``crash-handover`` (roles/keepalived/files/libexec) as ``ExecStopPost`` after an abnormal
exit; it uses this module to send, for every instance this node was MASTER of, the
priority-0 advert keepalived would have sent on a clean stop (RFC 3768 §6.4.3 /
RFC 5798 §6.4.3), to wait (bounded) for a peer's own advert, and only then to remove the
stale VIPs: the peer takes over after its skew time while the stale VIP still serves.

Pure and standalone on purpose (stdlib only, no other module of the collection): the
role copies this very file next to the script on the nodes, and the controller checks
the script's configuration with the same ``load_config`` before writing it.

Packets (payload only; the kernel writes the IP header: protocol 112, TTL 255, the
node's own VRRP address as source):

- VRRPv2 (RFC 3768 §5): version 2, type 1, VRID, priority, address count, auth type
  (0 none, 1 PASS), advert interval in seconds, checksum over the VRRP message, the
  IPv4 VIPs, 8 bytes of authentication data.
- VRRPv3 for IPv4 (RFC 5798 §5): version 3, type 1, VRID, priority, address count,
  4 reserved bits + 12 bits max advert interval in centiseconds, checksum over the IPv4
  pseudo-header (source, destination, zero, protocol 112, VRRP length) and the message.
"""

from __future__ import annotations

import ipaddress
import re
import struct
import typing as t

VRRP_PROTO = 112
VRRP_GROUP4 = "224.0.0.18"
TTL = 255
#: A virtual router's ID (RFC 3768 / 5798): the one definition the guard, the types and
#: the preflight import.
VRID_MIN, VRID_MAX = 1, 255
#: A priority a configuration may give (0, resigning, and 255, the address owner, are
#: only sent): the types and the preflight import it.
PRIORITY_MIN, PRIORITY_MAX = 1, 254
#: keepalived's own rules for a PASS password (see roles/keepalived/README.md).
_AUTH_RX = re.compile(r"[\x21-\x7e]{1,8}")
_AUTH_REFUSED = set("#!\"'{}")
_IFNAME_RX = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_NAME_RX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
#: A running main process that died by a signal ($SERVICE_RESULT, $EXIT_CODE; systemd.exec(5)).
CRASH_RESULTS = frozenset({"signal", "core-dump", "watchdog"})
CRASH_EXIT_CODES = frozenset({"killed", "dumped"})


class AdvertError(ValueError):
    """A value cannot go into an advert, or the configuration is malformed."""


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _v4(value: t.Any, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(value))
    except ValueError:
        raise AdvertError(f"{what}: expected an IPv4 address, found {value!r}") from None


def advert(
    version: int,
    vrid: int,
    priority: int,
    vips: t.Sequence[str],
    advert_int: float,
    auth_pass: str | None = None,
    src: str | None = None,
    dst: str = VRRP_GROUP4,
) -> bytes:
    """One VRRP advertisement (the IP payload). ``src``/``dst`` are needed for v3 (the
    pseudo-header of its checksum); ``auth_pass`` only for v2 PASS authentication."""
    if isinstance(vrid, bool) or not isinstance(vrid, int) or not VRID_MIN <= vrid <= VRID_MAX:
        raise AdvertError(f"vrid: expected an integer in {VRID_MIN}..{VRID_MAX}, found {vrid!r}")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 255:
        raise AdvertError(f"priority: expected an integer in 0..255, found {priority!r}")
    if not vips or len(vips) > 255:
        raise AdvertError(f"vips: expected 1..255 IPv4 addresses, found {len(vips)}")
    addrs = b"".join(_v4(v, "vip").packed for v in vips)
    if version == 2:
        if advert_int != int(advert_int) or not 1 <= advert_int <= 255:
            raise AdvertError(f"advert_int: VRRPv2 takes whole seconds 1..255, found {advert_int!r}")
        if auth_pass is not None:
            auth = auth_pass.encode("ascii")
            if len(auth) > 8:
                raise AdvertError("auth_pass: at most 8 bytes")
            auth_type, data = 1, auth.ljust(8, b"\0")
        else:
            auth_type, data = 0, b"\0" * 8
        body = struct.pack("!BBBBBBH", 0x21, vrid, priority, len(vips), auth_type, int(advert_int), 0) + addrs + data
        return body[:6] + struct.pack("!H", checksum(body)) + body[8:]
    if version == 3:
        centis = round(float(advert_int) * 100)
        if not 1 <= centis <= 0x0FFF:
            raise AdvertError(f"advert_int: VRRPv3 takes 0.01..40.95 s, found {advert_int!r}")
        if src is None:
            raise AdvertError("src: VRRPv3's checksum needs the source address")
        body = struct.pack("!BBBBHH", 0x31, vrid, priority, len(vips), centis, 0) + addrs
        pseudo = _v4(src, "src").packed + _v4(dst, "dst").packed + struct.pack("!BBH", 0, VRRP_PROTO, len(body))
        return body[:6] + struct.pack("!H", checksum(pseudo + body)) + body[8:]
    raise AdvertError(f"version: expected 2 or 3, found {version!r}")


def parse(packet: bytes, with_ip_header: bool = True) -> dict[str, t.Any] | None:
    """The fields of a received VRRP advert (a raw socket gives the IP header too), or
    None when it is not one (too short, another protocol, not an advertisement)."""
    src = None
    if with_ip_header:
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != VRRP_PROTO:
            return None
        ihl = (packet[0] & 0x0F) * 4
        src = str(ipaddress.IPv4Address(packet[12:16]))
        ttl = packet[8]
        packet = packet[ihl:]
    else:
        ttl = None
    if len(packet) < 8 or packet[0] & 0x0F != 1:
        return None
    return {"src": src, "ttl": ttl, "version": packet[0] >> 4, "vrid": packet[1], "priority": packet[2], "count": packet[3]}


# --------------------------------------------------------------------------- the script's configuration


def _instance(raw: t.Any, i: int) -> dict[str, t.Any]:
    where = f"instances[{i}]"
    if not isinstance(raw, dict):
        raise AdvertError(f"{where}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RX.fullmatch(name):
        raise AdvertError(f"{where}.name: expected an instance name, found {name!r}")
    where = f"instance {name}"
    version = raw.get("version")
    if version not in (2, 3) or isinstance(version, bool):
        raise AdvertError(f"{where}.version: expected 2 or 3, found {version!r}")
    iface = raw.get("interface")
    if not isinstance(iface, str) or not _IFNAME_RX.fullmatch(iface):
        raise AdvertError(f"{where}.interface: expected an interface name of 1..15 bytes, found {iface!r}")
    src = str(_v4(raw.get("source"), f"{where}.source"))
    vips = raw.get("vips")
    if not isinstance(vips, list) or not vips:
        raise AdvertError(f"{where}.vips: expected a non-empty list")
    out_vips = []
    for v in vips:
        if not isinstance(v, dict):
            raise AdvertError(f"{where}.vips: expected mappings with address, cidr and dev")
        addr = str(_v4(v.get("address"), f"{where}.vips.address"))
        try:
            cidr = ipaddress.IPv4Interface(str(v.get("cidr")))
        except ValueError:
            raise AdvertError(f"{where}.vips.cidr: expected ADDRESS/PREFIX, found {v.get('cidr')!r}") from None
        if str(cidr.ip) != addr:
            raise AdvertError(f"{where}.vips: cidr {cidr} is not of address {addr}")
        dev = v.get("dev")
        if not isinstance(dev, str) or not _IFNAME_RX.fullmatch(dev):
            raise AdvertError(f"{where}.vips.dev: expected an interface name, found {dev!r}")
        label = v.get("label")
        if label is not None and (not isinstance(label, str) or not _IFNAME_RX.fullmatch(label.replace(":", "_", 1))
                                  or not label.startswith(dev)):
            raise AdvertError(f"{where}.vips.label: expected {dev} or {dev}:NAME, at most 15 bytes, found {label!r}")
        out_vips.append({"address": addr, "cidr": str(cidr), "dev": dev, "label": label})
    auth = raw.get("auth_pass")
    if auth is not None:
        if version != 2:
            raise AdvertError(f"{where}.auth_pass: VRRPv3 has no authentication")
        if not isinstance(auth, str) or not _AUTH_RX.fullmatch(auth) or set(auth) & _AUTH_REFUSED:
            raise AdvertError(f"{where}.auth_pass: expected 1..8 printable ASCII characters without # ! quotes or braces")
    peers = raw.get("unicast_peers") or []
    if not isinstance(peers, list):
        raise AdvertError(f"{where}.unicast_peers: expected a list")
    advert_int = raw.get("advert_int")
    if isinstance(advert_int, bool) or not isinstance(advert_int, (int, float)):
        raise AdvertError(f"{where}.advert_int: expected a number of seconds, found {advert_int!r}")
    inst = {
        "name": name,
        "vrid": raw.get("vrid"),
        "version": version,
        "advert_int": float(advert_int),
        "interface": iface,
        "source": src,
        "vips": out_vips,
        "auth_pass": auth,
        "unicast_peers": [str(_v4(p, f"{where}.unicast_peers")) for p in peers],
    }
    for _dst, pkt in packets(inst):  # builds every advert once: vrid, interval, ... checked here
        del pkt
    return inst


def _seconds(raw: t.Mapping[str, t.Any], key: str, default: float, high: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise AdvertError(f"{key}: expected seconds within 0..{high}, found {value!r}")
    return float(value)


def load_config(raw: t.Any) -> dict[str, t.Any]:
    """The crash hand-over's configuration, checked (AdvertError names the first problem;
    never quotes a password)."""
    if not isinstance(raw, dict):
        raise AdvertError("expected a mapping")
    state_dir = raw.get("state_dir")
    if not isinstance(state_dir, str) or not re.fullmatch(r"/[A-Za-z0-9._+@=,/-]*", state_dir):
        raise AdvertError(f"state_dir: expected an absolute path, found {state_dir!r}")
    peers = raw.get("peers")
    if not isinstance(peers, list) or not all(isinstance(p, dict) and isinstance(p.get("health_url"), str) for p in peers):
        raise AdvertError("peers: expected a list of {host, health_url}")
    instances = raw.get("instances")
    if not isinstance(instances, list):
        raise AdvertError("instances: expected a list")
    return {
        "state_dir": state_dir,
        "peers": [{"host": str(p.get("host")), "health_url": p["health_url"]} for p in peers],
        "peer_timeout": _seconds(raw, "peer_timeout", 0.3, 5),
        "wait": _seconds(raw, "wait", 5, 60),
        "release_delay": _seconds(raw, "release_delay", 0.1, 5),
        "repeat": int(_seconds(raw, "repeat", 2, 5)),
        "instances": [_instance(r, i) for i, r in enumerate(instances)],
    }


def packets(inst: t.Mapping[str, t.Any], priority: int = 0) -> list[tuple[str, bytes]]:
    """(destination, advert) for one instance: the VRRP group, or each unicast peer."""
    dsts = list(inst.get("unicast_peers") or []) or [VRRP_GROUP4]
    vips = [v["address"] for v in inst["vips"]]
    return [
        (d, advert(inst["version"], inst["vrid"], priority, vips, inst["advert_int"], inst.get("auth_pass"), inst["source"], d))
        for d in dsts
    ]


# --------------------------------------------------------------------------- decisions


def crashed(env: t.Mapping[str, str]) -> bool:
    """A keepalived that was running died without releasing: systemd's ``$SERVICE_RESULT``
    says the main process ended by a signal (``signal``, ``core-dump``, ``watchdog``) and
    ``$EXIT_CODE`` that it was ``killed`` or ``dumped`` (systemd.exec(5)).

    Not a clean stop (``success``: keepalived released by itself), not a failed start
    (``exit-code``: the binary or an ``ExecStartPre=`` exited non-zero; ``timeout``,
    ``resources``, ``start-limit-hit``: no VRRP ran), not a stop that timed out
    (``timeout``: keepalived had its SIGTERM and sent its priority-0 adverts), not a
    run by hand (no ``$SERVICE_RESULT``). After a failed start the VIPs on the wire are
    the peer's: announcing for them would take them away."""
    return env.get("SERVICE_RESULT") in CRASH_RESULTS and env.get("EXIT_CODE") in CRASH_EXIT_CODES


def feed_state(line: str) -> str | None:
    """The state in a state-feed line ``INSTANCE "VI_1" MASTER 150 1764031200.123``."""
    parts = line.split()
    return parts[2] if len(parts) >= 3 and parts[0] == "INSTANCE" else None


def was_master(config: t.Mapping[str, t.Any], states: t.Mapping[str, str | None], held: t.Iterable[str]) -> list[dict[str, t.Any]]:
    """The instances to release: those the state feed last saw MASTER, and those whose
    VIPs are still on this node (only a MASTER adds them: they are stale now)."""
    held = set(held)
    return [
        inst
        for inst in config["instances"]
        if states.get(inst["name"]) == "MASTER" or any(v["address"] in held for v in inst["vips"])
    ]


def missing(todo: t.Iterable[t.Mapping[str, t.Any]], states: t.Mapping[str, str | None], held: t.Iterable[str]) -> list[dict[str, t.Any]]:
    """VIPs to put back until a peer holds them: those of the instances the state feed last
    saw MASTER that are gone already - a dying keepalived can remove its VIPs and be killed
    before its priority-0 advert goes out (SIGTERM from its parent's death, then SIGKILL):
    without them nobody would hold the VIP until the peer takes over."""
    held = set(held)
    return [dict(v) for inst in todo if states.get(inst["name"]) == "MASTER" for v in inst["vips"] if v["address"] not in held]


def not_held_elsewhere(
    todo: t.Iterable[t.Mapping[str, t.Any]], back: t.Iterable[t.Mapping[str, t.Any]], held: t.Iterable[str], theirs: t.Iterable[str]
) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    """(instances to release, VIPs to put back) once ``theirs`` - the VIPs another host
    answers ARP for - is known. An instance with none of its VIPs on this node and one of
    them on a peer is the peer's: nothing is put back and no advert goes out for it. A
    VIP is put back only when nobody else holds it."""
    held, theirs = set(held), set(theirs)
    keep = [
        dict(inst) for inst in todo
        if any(v["address"] in held for v in inst["vips"]) or not any(v["address"] in theirs for v in inst["vips"])
    ]
    mine = {v["address"] for inst in keep for v in inst["vips"]}
    return keep, [dict(v) for v in back if v["address"] in mine and v["address"] not in theirs]


ETH_P_ARP = 0x0806


def arp_probe(mac: bytes, target: str) -> bytes:
    """An Ethernet frame with an ARP probe (RFC 5227: sender address 0.0.0.0, so no
    neighbour's cache learns anything) asking who holds ``target``."""
    if len(mac) != 6:
        raise AdvertError(f"mac: expected 6 bytes, found {len(mac)}")
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + b"\0" * 4 + b"\0" * 6 + _v4(target, "target").packed
    return b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP) + arp


def arp_reply(frame: bytes, own_mac: bytes) -> str | None:
    """The address another host says it holds in an ARP reply frame, else None (not an
    IPv4-over-Ethernet ARP reply, or this node's own)."""
    if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    if struct.unpack("!HHBBH", frame[14:22]) != (1, 0x0800, 6, 4, 2) or frame[22:28] == own_mac:
        return None
    return str(ipaddress.IPv4Address(frame[28:32]))


def taken_over(inst: t.Mapping[str, t.Any], seen: t.Mapping[str, t.Any] | None) -> bool:
    """``seen`` (``parse``) is a peer's advert as master of ``inst``: same VRID and version,
    priority above 0, from another address than this node's (unicast: one of its peers)."""
    if not seen or seen.get("vrid") != inst["vrid"] or seen.get("version") != inst["version"]:
        return False
    if not seen.get("priority") or seen.get("src") == inst["source"]:
        return False
    peers = inst.get("unicast_peers") or []
    return not peers or seen.get("src") in peers


__all__ = [
    "VRRP_GROUP4",
    "VRRP_PROTO",
    "AdvertError",
    "advert",
    "arp_probe",
    "arp_reply",
    "checksum",
    "crashed",
    "feed_state",
    "load_config",
    "missing",
    "not_held_elsewhere",
    "packets",
    "parse",
    "taken_over",
    "was_master",
]
