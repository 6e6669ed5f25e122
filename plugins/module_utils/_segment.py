# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the L2 segment says about who holds an address (ARP, IPv6 neighbour discovery).

VRRP tells a node what its peers advertise; the segment tells it who actually answers
for a VIP. The watcher on each load balancer asks every second, for every VIP:

- a VIP this node holds: any OTHER MAC that answers is a second holder (a split brain
  VRRP does not see: the peers cannot hear each other's adverts, a foreign device took
  the address, a stale node kept it);
- a VIP this node does not hold: no answer at all means nobody holds it (an orphan).

Packets (whole Ethernet frames, sent and read on AF_PACKET sockets bound to the device):

- ARP request (RFC 826): broadcast, who-has the target, tell the node's own address.
  The sender is the node's own address, never the VIP: every neighbour that knows the
  sender refreshes its cache from a request, and a VIP as sender would move the VIP's
  traffic to this node. With no IPv4 address to speak from (or when the source would be
  one of the probed addresses) the request is an ARP probe (RFC 5227 §2.1.1, sender
  0.0.0.0): answered all the same, and it changes no neighbour's cache.
- Neighbour solicitation (RFC 4861 §4.3, §7.2.2): from the node's link-local address to
  the target's solicited-node multicast group (ff02::1:ffXX:XXXX, MAC 33:33:ff:XX:XX:XX),
  hop limit 255, with the source link-layer address option; the answer is a neighbour
  advertisement (§4.4) naming the answering MAC in its target link-layer address option.

Not seen: a holder that answers with a MAC of this node (keepalived's ``use_vmac`` gives
both nodes the same virtual MAC, 00:00:5e:00:01:VRID, so a second holder with a VMAC
looks like this node itself). Seen, though no VRRP node: a router doing proxy ARP/NDP
for the VIP answers like a holder.

Pure functions build and parse the frames (unit-tested from tables of bytes); ``Segment``
is the thin socket glue the watcher keeps open between probes. Stdlib only, Python 3.9+,
root (CAP_NET_RAW); the role copies this file next to ``_ipaddr.py`` on the nodes.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import select
import socket
import struct
import time
import typing as t

from . import _netlink
from ._ipaddr import Address, IpAddrParseError, parse_ip_addr_json
from ._vrrp_advert import ETH_P_ARP, checksum  # the VRRP advert's own RFC 1071 sum

ETH_P_IPV6 = 0x86DD
ETH_P_IP = 0x0800
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ARP_REQUEST = 1
ARP_REPLY = 2
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_SOLICIT = 135
ND_NEIGHBOR_ADVERT = 136
ND_OPT_SOURCE_LINKADDR = 1
ND_OPT_TARGET_LINKADDR = 2
ND_HOP_LIMIT = 255
BROADCAST_MAC = b"\xff" * 6
#: PACKET_OUTGOING (linux/if_packet.h): a copy of a frame this node sent, never an answer.
PACKET_OUTGOING = 4
IFF_UP = 0x1
#: SO_ATTACH_FILTER (asm-generic/socket.h; the same on x86, arm and s390).
SO_ATTACH_FILTER = 26
#: Frames read per socket and probe at most while draining: a bound on the work a flood can cause.
DRAIN_LIMIT = 10000
RECV_SIZE = 4096
SYS_CLASS_NET = "/sys/class/net"
PROC_IF_INET6 = "/proc/net/if_inet6"
_IFA_F_DADFAILED = 0x08
_IFA_F_TENTATIVE = 0x40

# Classic BPF (linux/filter.h) run by the kernel on every frame before it is queued on the
# socket: only ARP replies, and only ICMPv6 neighbour advertisements, ever reach Python, so
# an LB serving IPv6 traffic does not copy each of its packets to the watcher. The Python
# parsers stay the authority; the filters only spare work (a kernel refusing them is fine).
_BPF_LD_H_ABS, _BPF_LD_B_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x28, 0x30, 0x15, 0x06
_BPF_ACCEPT = 0x40000
#: ARP op (Ethernet 14 + 6) is 2.
ARP_REPLY_FILTER: tuple[tuple[int, int, int, int], ...] = (
    (_BPF_LD_H_ABS, 0, 0, 20),
    (_BPF_JEQ_K, 0, 1, ARP_REPLY),
    (_BPF_RET_K, 0, 0, _BPF_ACCEPT),
    (_BPF_RET_K, 0, 0, 0),
)
#: IPv6 next header (Ethernet 14 + 6) is ICMPv6 and its type (14 + 40) is 136.
NA_FILTER: tuple[tuple[int, int, int, int], ...] = (
    (_BPF_LD_B_ABS, 0, 0, 20),
    (_BPF_JEQ_K, 0, 3, IPPROTO_ICMPV6),
    (_BPF_LD_B_ABS, 0, 0, 54),
    (_BPF_JEQ_K, 0, 1, ND_NEIGHBOR_ADVERT),
    (_BPF_RET_K, 0, 0, _BPF_ACCEPT),
    (_BPF_RET_K, 0, 0, 0),
)


# --------------------------------------------------------------------------- pure: frames


def format_mac(raw: bytes) -> str:
    """``b'\\x00\\x00\\x5e\\x00\\x53\\x01'`` -> ``'00:00:5e:00:53:01'``."""
    return ":".join(f"{b:02x}" for b in raw)


def parse_mac(text: str) -> bytes:
    """``'00:00:5e:00:53:01'`` -> its 6 bytes; ``ValueError`` for anything else."""
    parts = text.strip().split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"expected a MAC address such as 00:00:5e:00:53:01, found {text!r}")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"expected a MAC address such as 00:00:5e:00:53:01, found {text!r}") from None


def _mac6(src_mac: bytes) -> bytes:
    if not isinstance(src_mac, (bytes, bytearray)) or len(src_mac) != 6:
        raise ValueError(f"expected a MAC address of 6 bytes, found {src_mac!r}")
    return bytes(src_mac)


def _ipv4(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"expected an IPv4 address such as 198.51.100.100, found {text!r}") from None


def _ipv6(text: str) -> ipaddress.IPv6Address:
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError(f"expected an IPv6 address such as 2001:db8::100, found {text!r}") from None


def _l3(frame: bytes) -> tuple[int, int] | None:
    """(EtherType, offset of the payload) of an Ethernet frame, past at most two VLAN tags."""
    if len(frame) < 14:
        return None
    offset = 12
    ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    for _attempt in range(2):
        if ethertype not in (ETH_P_8021Q, ETH_P_8021AD):
            break
        offset += 4
        if len(frame) < offset + 2:
            return None
        ethertype = int.from_bytes(frame[offset:offset + 2], "big")
    return ethertype, offset + 2


def arp_request(src_mac: bytes, src_ip: str, target_ip: str) -> bytes:
    """A whole Ethernet frame: broadcast ARP request, who-has ``target_ip`` tell ``src_ip``.

    42 bytes, as Linux's own ARP requests (the driver pads to the Ethernet minimum).
    ``src_ip`` 0.0.0.0 makes it an ARP probe (RFC 5227), which no neighbour caches.
    """
    mac = _mac6(src_mac)
    arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, ARP_REQUEST) + mac + _ipv4(src_ip).packed + bytes(6) + _ipv4(target_ip).packed
    return BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP) + arp


def parse_arp_reply(frame: bytes) -> tuple[str, str] | None:
    """(sender IP, sender MAC ``'aa:bb:..'``) of an Ethernet/IPv4 ARP reply (op 2), else None."""
    l3 = _l3(frame)
    if l3 is None or l3[0] != ETH_P_ARP:
        return None
    arp = frame[l3[1]:l3[1] + 28]
    if len(arp) < 28:
        return None
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", arp[:8])
    if (htype, ptype, hlen, plen, op) != (1, ETH_P_IP, 6, 4, ARP_REPLY):
        return None
    return str(ipaddress.IPv4Address(arp[14:18])), format_mac(arp[8:14])


def solicited_node(target_ip6: str) -> tuple[str, bytes]:
    """(solicited-node multicast address, its MAC) of an IPv6 address (RFC 4291 §2.7.1, RFC 2464 §7)."""
    low = _ipv6(target_ip6).packed[13:]  # the address's last 24 bits
    group = ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + low)
    return str(group), b"\x33\x33" + group.packed[12:]


def ns_packet(src_mac: bytes, src_ip6: str, target_ip6: str) -> bytes:
    """A whole Ethernet frame: IPv6 (hop limit 255) + ICMPv6 neighbour solicitation for
    ``target_ip6`` to its solicited-node multicast group, with the source link-layer
    address option (left out when ``src_ip6`` is ``::``, as RFC 4861 §7.2.2 requires)."""
    mac = _mac6(src_mac)
    src = _ipv6(src_ip6)
    target = _ipv6(target_ip6)
    if target.is_multicast or target.is_unspecified:
        raise ValueError(f"expected a unicast IPv6 address to solicit, found {target_ip6!r}")
    group, group_mac = solicited_node(str(target))
    dst = ipaddress.IPv6Address(group).packed
    options = b"" if src.is_unspecified else bytes([ND_OPT_SOURCE_LINKADDR, 1]) + mac
    body = bytes(4) + target.packed + options  # reserved, target, options
    pseudo = src.packed + dst + struct.pack("!I3xB", 4 + len(body), IPPROTO_ICMPV6)
    icmp = struct.pack("!BBH", ND_NEIGHBOR_SOLICIT, 0, checksum(pseudo + struct.pack("!BBH", ND_NEIGHBOR_SOLICIT, 0, 0) + body)) + body
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), IPPROTO_ICMPV6, ND_HOP_LIMIT) + src.packed + dst
    return group_mac + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + icmp


def parse_na(frame: bytes) -> tuple[str, str] | None:
    """(target IPv6 address, MAC) of an ICMPv6 neighbour advertisement, else None.

    The MAC is the target link-layer address option's, or the Ethernet source when the
    option is absent (RFC 4861 §7.2.4 lets a unicast answer leave it out). A frame that
    fails RFC 4861 §7.1.2's checks (hop limit 255, code 0, 24 bytes at least, no option
    of length 0) is None. The checksum is not checked: a packet socket also sees frames
    of this host whose checksum the NIC has yet to fill in, and Ethernet's FCS already
    dropped corrupted ones.
    """
    l3 = _l3(frame)
    if l3 is None or l3[0] != ETH_P_IPV6:
        return None
    start = l3[1]
    if len(frame) < start + 40 + 24 or frame[start] >> 4 != 6:
        return None
    payload_len, next_header, hop_limit = struct.unpack("!HBB", frame[start + 4:start + 8])
    if next_header != IPPROTO_ICMPV6 or hop_limit != ND_HOP_LIMIT:
        return None
    icmp = frame[start + 40:start + 40 + payload_len]
    if len(icmp) < 24 or icmp[0] != ND_NEIGHBOR_ADVERT or icmp[1] != 0:
        return None
    target = str(ipaddress.IPv6Address(icmp[8:24]))
    mac = frame[6:12]
    pos = 24
    while pos + 2 <= len(icmp):
        kind, units = icmp[pos], icmp[pos + 1]
        if units == 0:
            return None
        if kind == ND_OPT_TARGET_LINKADDR and units == 1 and pos + 8 <= len(icmp):
            mac = icmp[pos + 2:pos + 8]
        pos += units * 8
    return target, format_mac(mac)


def base_device(dev: str) -> str:
    """``'eth0:1'`` -> ``'eth0'``: a keepalived label is an alias of its device, not a device."""
    return dev.split(":", 1)[0]


def bpf_program(program: t.Iterable[tuple[int, int, int, int]]) -> bytes:
    """The ``struct sock_filter`` array (native byte order) of a classic BPF program."""
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


# --------------------------------------------------------------------------- the node's own view


def own_macs(root: str = SYS_CLASS_NET) -> frozenset[str]:
    """The MAC of every interface of this node (its network namespace, as ``root`` shows it)."""
    macs: set[str] = set()
    try:
        names = os.listdir(root)
    except OSError:
        return frozenset()
    for name in names:
        try:
            with open(os.path.join(root, name, "address"), encoding="ascii") as f:
                text = f.read().strip().lower()
        except (OSError, UnicodeDecodeError):
            continue
        if len(text) == 17 and text != "00:00:00:00:00:00":
            macs.add(text)
    return frozenset(macs)


def first_ipv4(text: str, dev: str) -> str | None:
    """The first IPv4 address of scope global on ``dev`` in ``ip -j -4 addr`` output,
    keepalived's labelled aliases (``eth0:1``) left out; None when there is none."""
    try:
        addresses = parse_ip_addr_json(text)
    except (IpAddrParseError, ValueError):
        return None
    return first_ipv4_of(addresses, dev)


def first_ipv4_of(addresses: t.Iterable[Address], dev: str) -> str | None:
    """``first_ipv4`` of address entries (``_ipaddr``'s, as ``_netlink`` reads them)."""
    for a in addresses:
        if a["family"] == "inet" and a["dev"] == dev and a["scope"] in (None, "global") and a["label"] in (None, dev):
            return a["address"]
    return None


def link_local(text: str, dev: str) -> str | None:
    """The link-local address of ``dev`` in ``/proc/net/if_inet6`` text, one that passed
    duplicate address detection preferred; None when there is none."""
    found: list[tuple[bool, str]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6 or fields[5] != dev or int(fields[3], 16) != 0x20:
            continue
        flags = int(fields[4], 16)
        if flags & _IFA_F_DADFAILED:
            continue
        found.append((bool(flags & _IFA_F_TENTATIVE), str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))))
    return min(found)[1] if found else None


# --------------------------------------------------------------------------- sockets


class _SockFprog(ctypes.Structure):
    """``struct sock_fprog`` (linux/filter.h): the program's length and its address."""

    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class _Family(t.NamedTuple):
    name: str
    ethertype: int
    program: tuple[tuple[int, int, int, int], ...]


_ARP = _Family("ARP", ETH_P_ARP, ARP_REPLY_FILTER)
# The neighbour advertisements are read on an AF_PACKET socket too, not on an AF_INET6
# raw ICMPv6 socket: parse_na's fallback to the Ethernet source needs the frame, a packet
# socket sees the answer before the node's own firewall (nft input) could drop it, and
# both families share one code path. NA_FILTER keeps the rest of the IPv6 traffic out.
_ND = _Family("neighbour discovery", ETH_P_IPV6, NA_FILTER)


class Segment:
    """Probes on one device, sockets kept open between probes (opened on first need).

    ``error`` is None after a probe that could ask for every target, else why it could not
    (no such interface, no source address, a send failure); those targets' lists are empty.
    """

    def __init__(self, ifname: str, src_ip: str | None = None, src_ip6: str | None = None):
        self.ifname = ifname
        self.device = base_device(ifname)
        self.error: str | None = None
        self.src_ip = str(_ipv4(src_ip)) if src_ip is not None else None
        self.src_ip6 = str(_ipv6(src_ip6)) if src_ip6 is not None else None
        self._given = (src_ip is not None, src_ip6 is not None)
        self._looked4 = False  # the default IPv4 source was looked up (None: there is none)
        self.mac: bytes | None = None
        self.own_macs: frozenset[str] = frozenset()
        self._socks: dict[str, socket.socket] = {}
        #: frames read away before the last probe's requests (queued since the probe before)
        self.drained = 0

    # -- setup (each step records why it failed and returns None)

    def _device_mac(self) -> bytes | None:
        root = os.path.join(SYS_CLASS_NET, self.device)
        try:
            with open(os.path.join(root, "address"), encoding="ascii") as f:
                mac = parse_mac(f.read())
            with open(os.path.join(root, "flags"), encoding="ascii") as f:
                up = int(f.read(), 16) & IFF_UP
        except FileNotFoundError:
            reason = f"no interface {self.device}"
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            reason = f"cannot read the interface {self.device} ({exc})"
        else:
            reason = None if up else f"{self.device} is down"
        if reason is not None:
            self._fail(reason)
            for family in (_ARP, _ND):  # opened afresh once it is back (perhaps with a new index)
                self._drop(family)
            return None
        if self.mac != mac:
            self.mac = mac
            self.own_macs = own_macs() | {format_mac(mac)}
        return mac

    def _source4(self) -> str:
        if self._given[0] or self._looked4:
            return self.src_ip or "0.0.0.0"
        self._looked4 = True
        try:
            addresses = _netlink.addresses()  # one rtnetlink dump, no command run
        except OSError:
            addresses = []
        # None found: ARP probes (sender 0.0.0.0); asked again when the sockets reopen
        self.src_ip = first_ipv4_of(addresses, self.device)
        return self.src_ip or "0.0.0.0"

    def _source6(self) -> str | None:
        if self._given[1] or self.src_ip6 is not None:
            return self.src_ip6
        try:
            with open(PROC_IF_INET6, encoding="ascii") as f:
                self.src_ip6 = link_local(f.read(), self.device)
        except OSError:
            self.src_ip6 = None
        if self.src_ip6 is None:
            self._fail(f"{self.device} has no IPv6 link-local address to send a neighbour solicitation from")
        return self.src_ip6

    def _socket(self, family: _Family) -> socket.socket | None:
        sock = self._socks.get(family.name)
        if sock is not None:
            return sock
        try:
            # protocol 0 receives nothing until bind: the filter is in place before the first frame
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except OSError as exc:
            self._fail(f"cannot open a packet socket for {family.name} ({exc}; needs root or CAP_NET_RAW)")
            return None
        try:
            self._attach(sock, family.program)
            sock.bind((self.device, family.ethertype))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            self._fail(f"cannot listen for {family.name} answers on {self.device} ({exc})")
            return None
        self._socks[family.name] = sock
        return sock

    @staticmethod
    def _attach(sock: socket.socket, program: tuple[tuple[int, int, int, int], ...]) -> None:
        code = ctypes.create_string_buffer(bpf_program(program))
        fprog = _SockFprog(len(program), ctypes.addressof(code))
        try:  # the kernel copies the program during the call: ``code`` may go afterwards
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
        except OSError:
            pass  # unfiltered: more frames reach the parsers, which decide alone

    def _drop(self, family: _Family) -> None:
        """Close a family's socket after an error: the next probe opens it again (the
        interface may have been deleted and made anew, with a new index)."""
        sock = self._socks.pop(family.name, None)
        if sock is not None:
            sock.close()
        self.mac = None
        if not self._given[0]:
            self.src_ip, self._looked4 = None, False
        if not self._given[1]:
            self.src_ip6 = None

    def _fail(self, reason: str) -> None:
        self.error = reason if self.error is None else f"{self.error}; {reason}"

    # -- probing

    def _ready(self, family: _Family) -> socket.socket | None:
        """The family's socket with what queued since the last probe read away (old answers
        are no answers now). A socket reporting an error (ENETDOWN after the link went down
        and up between two probes) is opened afresh once rather than losing this probe."""
        for attempt in (1, 2):
            sock = self._socket(family)
            if sock is None:
                return None
            try:
                for _frame in range(DRAIN_LIMIT):
                    sock.recv(RECV_SIZE)
                    self.drained += 1
                return sock
            except BlockingIOError:
                return sock
            except OSError as exc:
                self._drop(family)
                if attempt == 2:
                    self._fail(f"reading {family.name} on {self.device} failed ({exc})")
        return None

    def probe(self, targets: t.Sequence[str], timeout: float = 0.2) -> dict[str, list[str]]:
        """Ask the segment once for every target (ARP for IPv4, NS for IPv6) and listen for
        ``timeout`` seconds: {target: sorted MACs other than this node's that answered}.

        Every target is a key, its list empty when nobody answered or when it could not be
        asked (``error`` says why). Targets that are not IP addresses raise ``ValueError``
        before anything is sent.
        """
        self.error = None
        self.drained = 0
        result: dict[str, list[str]] = {target: [] for target in targets}
        wanted: dict[str, list[str]] = {}  # normalised address -> the targets as given
        by_family: dict[str, list[str]] = {_ARP.name: [], _ND.name: []}
        for target in targets:
            try:
                address = ipaddress.ip_address(target.strip())
            except (AttributeError, ValueError):
                raise ValueError(f"expected an IP address to probe such as 198.51.100.100 or 2001:db8::100, found {target!r}") from None
            key = str(address).split("%", 1)[0]  # a zone (fe80::1%eth0) is not in the answers
            if key not in wanted:
                by_family[_ARP.name if address.version == 4 else _ND.name].append(key)
            wanted.setdefault(key, []).append(target)
        if not wanted:
            return result
        mac = self._device_mac()
        if mac is None:
            return result
        listening: dict[socket.socket, _Family] = {}
        for family in (_ARP, _ND):
            addresses = by_family[family.name]
            if not addresses:
                continue
            frames = self._requests(family, mac, addresses)
            sock = self._ready(family) if frames else None
            if sock is None:
                continue
            try:
                for frame in frames:
                    sock.send(frame)
            except OSError as exc:
                self._fail(f"sending {family.name} requests on {self.device} failed ({exc})")
                self._drop(family)
                continue
            listening[sock] = family
        answers = self._listen(listening, set(wanted), timeout)
        strangers = {m for macs in answers.values() for m in macs if m not in self.own_macs}
        if strangers:  # perhaps an interface made since the last look (a VLAN, a VMAC)
            self.own_macs = own_macs() | {format_mac(mac)}
        for address, macs in answers.items():
            for target in wanted[address]:
                result[target] = sorted(macs - self.own_macs)
        return result

    def _requests(self, family: _Family, mac: bytes, addresses: list[str]) -> list[bytes]:
        if family is _ARP:
            source = self._source4()
            # never speak as one of the addresses asked about: that would announce it
            return [arp_request(mac, "0.0.0.0" if a == source else source, a) for a in addresses]
        source6 = self._source6()
        return [] if source6 is None else [ns_packet(mac, "::" if a == source6 else source6, a) for a in addresses]

    def _listen(self, listening: dict[socket.socket, _Family], wanted: set[str], timeout: float) -> dict[str, set[str]]:
        answers: dict[str, set[str]] = {}
        deadline = time.monotonic() + max(0.0, timeout)
        while listening:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            readable, _writable, _failed = select.select(list(listening), [], [], remaining)
            for sock in readable:
                family = listening[sock]
                parse = parse_arp_reply if family is _ARP else parse_na
                for _frame in range(DRAIN_LIMIT):
                    try:
                        frame, addr = sock.recvfrom(RECV_SIZE)
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        self._fail(f"reading {family.name} on {self.device} failed ({exc})")
                        self._drop(family)
                        del listening[sock]
                        break
                    if len(addr) > 2 and addr[2] == PACKET_OUTGOING:
                        continue
                    parsed = parse(frame)
                    if parsed is not None and parsed[0] in wanted:
                        answers.setdefault(parsed[0], set()).add(parsed[1])
        return answers

    def close(self) -> None:
        """Close the sockets; a later probe opens them again."""
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()

    def __enter__(self) -> Segment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
