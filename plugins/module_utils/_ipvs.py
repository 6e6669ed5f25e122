# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse the kernel's IPVS table, ``/proc/net/ip_vs``, and say each virtual server in one line.

Private and pure: no AnsibleModule, no I/O. The format is the kernel's
``ip_vs_info_seq_show`` (net/netfilter/ipvs/ip_vs_ctl.c)::

    IP Virtual Server version 1.2.1 (size=4096)
    Prot LocalAddress:Port Scheduler Flags
      -> RemoteAddress:Port Forward Weight ActiveConn InActConn
    TCP  C633648C:1F90 rr
      -> C6336440:1F90      Route   1      0          0
    TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:1F90 rr
      -> [2001:0db8:0000:0000:0000:0000:0000:0040]:1F90      Masq    1      0          0
    FWM  00000001 wlc persistent 75000 FFFFFFFF

- IPv4 addresses are 8 hex digits (host order), ports 4; IPv6 addresses are bracketed,
  printed with ``%pI6`` (8 groups of 4 hex digits with colons). 32 hex digits without
  colons (``%pi6``) are read as well.
- A fwmark service (``FWM``) has a mark in hex instead of an address and port.
- Flags after the scheduler: ``ops`` (one-packet scheduling, IPv4 and fwmark services
  only) and ``persistent TICKS NETMASK``: the kernel prints the persistence timeout as it
  stores it, in jiffies (seconds times the kernel's ``CONFIG_HZ``), so seconds need ``hz``.
- Forwarding methods as the kernel and ``ipvsadm`` name them: Route (DR), Masq (NAT),
  Tunnel, Local.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

#: Where the kernel shows its IPVS table; missing when ip_vs is not loaded.
PROC_IP_VS = "/proc/net/ip_vs"
#: The forwarding methods, as ``ip_vs_fwd_name`` and ``ipvsadm -Ln`` print them.
FORWARDS = ("Route", "Masq", "Tunnel", "Local")
#: The protocols of services with an address and a port (``FWM`` has a mark instead).
ADDRESS_PROTOCOLS = ("TCP", "UDP", "SCTP")

_HEADER = (
    re.compile(r"^IP Virtual Server version \S+ \(size=\d+\)$"),
    re.compile(r"^Prot LocalAddress:Port Scheduler Flags$"),
    re.compile(r"^-> RemoteAddress:Port Forward Weight ActiveConn InActConn$"),
)
_ENDPOINT = re.compile(r"^(?:(?P<v4>[0-9A-Fa-f]{8})|\[(?P<v6>[0-9A-Fa-f:]+)\]):(?P<port>[0-9A-Fa-f]{4})$")
_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INT = re.compile(r"^-?\d+$")


class IpvsParseError(ValueError):
    """``/proc/net/ip_vs`` holds a line that is not in the kernel's format."""


class RealServer(t.TypedDict):
    address: str
    port: int
    forward: str
    weight: int
    active: int
    inactive: int


class VirtualServer(t.TypedDict):
    protocol: str
    address: str | None
    port: int | None
    fwmark: int | None
    scheduler: str
    flags: list[str]
    persistent: int | None
    real_servers: list[RealServer]


def _address(text: str, line: str) -> tuple[str, int]:
    match = _ENDPOINT.match(text)
    if not match:
        raise IpvsParseError(f"expected ADDRESS:PORT in hex (C633648C:1F90 or [2001:0db8:...:0001]:1F90), found {text!r} in {line!r}")
    port = int(match["port"], 16)
    if match["v4"]:
        return str(ipaddress.IPv4Address(int(match["v4"], 16))), port
    v6 = match["v6"]
    try:
        if ":" in v6:
            return str(ipaddress.IPv6Address(v6)), port
        if len(v6) == 32:
            return str(ipaddress.IPv6Address(int(v6, 16))), port
    except ValueError:
        pass
    raise IpvsParseError(f"expected an IPv6 address in brackets, found {text!r} in {line!r}")


def _int(text: str, what: str, line: str) -> int:
    if not _INT.match(text):
        raise IpvsParseError(f"expected {what} as a number, found {text!r} in {line!r}")
    return int(text)


def _service(line: str, hz: int | None) -> VirtualServer:
    fields = line.split()
    if len(fields) < 3 or not _PROTOCOL.match(fields[0]):
        raise IpvsParseError(f"expected PROTOCOL ADDRESS:PORT SCHEDULER [FLAGS] or FWM MARK SCHEDULER [FLAGS], found {line!r}")
    protocol, where, scheduler, rest = fields[0], fields[1], fields[2], fields[3:]
    address: str | None = None
    port: int | None = None
    fwmark: int | None = None
    if protocol == "FWM":
        if not re.match(r"^[0-9A-Fa-f]{1,8}$", where):
            raise IpvsParseError(f"expected a firewall mark in hex after FWM, found {where!r} in {line!r}")
        fwmark = int(where, 16)
    else:
        address, port = _address(where, line)
    flags: list[str] = []
    persistent: int | None = None
    i = 0
    while i < len(rest):
        flag = rest[i]
        if flag == "persistent":
            if i + 1 >= len(rest):
                raise IpvsParseError(f"expected the timeout after persistent, found nothing in {line!r}")
            ticks = _int(rest[i + 1], "the persistence timeout", line)
            persistent = ticks // hz if hz else None
            flags.append(flag)
            # the netmask (persistence granularity) follows; it is not reported
            i += 3 if i + 2 < len(rest) and re.match(r"^[0-9A-Fa-f]{8}$", rest[i + 2]) else 2
            continue
        flags.append(flag)
        i += 1
    return VirtualServer(protocol=protocol, address=address, port=port, fwmark=fwmark, scheduler=scheduler, flags=flags,
                         persistent=persistent, real_servers=[])


def _real_server(line: str) -> RealServer:
    fields = line.split()
    if len(fields) != 6:
        raise IpvsParseError(f"expected -> ADDRESS:PORT FORWARD WEIGHT ACTIVECONN INACTCONN, found {line!r}")
    address, port = _address(fields[1], line)
    forward = fields[2]
    if forward not in FORWARDS:
        raise IpvsParseError(f"expected a forwarding method among {', '.join(FORWARDS)}, found {forward!r} in {line!r}")
    return RealServer(address=address, port=port, forward=forward, weight=_int(fields[3], "the weight", line),
                      active=_int(fields[4], "ActiveConn", line), inactive=_int(fields[5], "InActConn", line))


def parse(text: str, hz: int | None = None) -> list[VirtualServer]:
    """The virtual servers of ``/proc/net/ip_vs``, in the kernel's order, each with its real servers.

    ``hz``: the kernel's ``CONFIG_HZ``, to turn the persistence timeout (jiffies) into
    seconds; without it ``persistent`` is None and only ``flags`` says ``persistent``.
    The header alone (ip_vs loaded, no virtual server) and an empty text give ``[]``.
    Raises ``IpvsParseError`` naming the line that is not in the kernel's format.
    """
    result: list[VirtualServer] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or any(h.match(line) for h in _HEADER):
            continue
        if line.startswith("->"):
            if not result:
                raise IpvsParseError(f"expected a virtual server before its real server, found {line!r} first")
            result[-1]["real_servers"].append(_real_server(line))
        else:
            result.append(_service(line, hz))
    return result


def config_hz(text: str) -> int | None:
    """The kernel's ``CONFIG_HZ`` from its build configuration (``/boot/config-RELEASE``), or None."""
    match = re.search(r"^CONFIG_HZ=(\d+)$", text or "", re.MULTILINE)
    return int(match[1]) if match and int(match[1]) > 0 else None


def live(vs: t.Mapping[str, t.Any]) -> bool:
    """Whether some real server of the virtual server has a weight above 0 (takes new connections)."""
    return any(int(rs.get("weight") or 0) > 0 for rs in vs.get("real_servers") or [])


def _endpoint(address: str | None, port: int | None) -> str:
    host = f"[{address}]" if address and ":" in address else str(address)
    return f"{host}:{port}"


def name(vs: t.Mapping[str, t.Any]) -> str:
    """The virtual server as ipvsadm names it: ``TCP 198.51.100.140:8080``, ``TCP [2001:db8::1]:80``, ``FWM 1``."""
    if vs.get("fwmark") is not None and vs.get("address") is None:
        return f"FWM {vs['fwmark']}"
    return f"{vs['protocol']} {_endpoint(vs.get('address'), vs.get('port'))}"


def describe(vs: t.Mapping[str, t.Any]) -> str:
    """One line a person reads: the service, its scheduler and flags, then each real server.

    ``TCP 198.51.100.140:8080 rr  real 198.51.100.63:8080 Route w1 act 0 inact 2; 198.51.100.64:8080 Route w0 act 0 inact 0``
    """
    flags = []
    for flag in vs.get("flags") or []:
        if flag == "persistent" and vs.get("persistent") is not None:
            flags.append(f"persistent {vs['persistent']}")
        else:
            flags.append(flag)
    head = " ".join([name(vs), str(vs.get("scheduler")), *flags])
    reals = [
        f"{_endpoint(rs['address'], rs['port'])} {rs['forward']} w{rs['weight']} act {rs['active']} inact {rs['inactive']}"
        for rs in vs.get("real_servers") or []
    ]
    return f"{head}  real {'; '.join(reals) if reals else 'none'}"
