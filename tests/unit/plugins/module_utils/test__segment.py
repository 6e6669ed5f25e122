# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The segment's answers: frames checked against hand-written bytes, then real probes
between network namespaces (root only) bridged into one L2 segment."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _segment as s

from tests.helpers.netns import IP as NS_IP
from tests.helpers.netns import IpNetns

MAC_A = bytes.fromhex("00005e005311")  # RFC 7042 documentation MACs
MAC_B = bytes.fromhex("00005e005312")


def _ones_complement_sum(data: bytes) -> int:
    """RFC 1071 written out once more, byte pair by byte pair (not the module's)."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


# --------------------------------------------------------------------------- ARP

def test_an_arp_request_is_built_field_by_field():
    expected = b"".join([
        b"\xff\xff\xff\xff\xff\xff",  # Ethernet destination: broadcast
        b"\x00\x00\x5e\x00\x53\x11",  # Ethernet source: the node
        b"\x08\x06",                  # EtherType ARP
        b"\x00\x01",                  # hardware type Ethernet
        b"\x08\x00",                  # protocol type IPv4
        b"\x06",                      # hardware address length
        b"\x04",                      # protocol address length
        b"\x00\x01",                  # op 1: request
        b"\x00\x00\x5e\x00\x53\x11",  # sender MAC
        bytes([198, 51, 100, 11]),    # sender IP: the node's own
        b"\x00" * 6,                  # target MAC: unknown
        bytes([198, 51, 100, 100]),   # target IP: the VIP
    ])
    assert s.arp_request(MAC_A, "198.51.100.11", "198.51.100.100") == expected
    assert len(expected) == 42


def test_an_arp_probe_speaks_from_no_address():
    frame = s.arp_request(MAC_A, "0.0.0.0", "198.51.100.100")
    assert frame[28:32] == b"\x00\x00\x00\x00"


@pytest.mark.parametrize(("mac", "src", "target"), [
    (b"\x00" * 5, "198.51.100.11", "198.51.100.100"),
    (MAC_A, "198.51.100.300", "198.51.100.100"),
    (MAC_A, "198.51.100.11", "2001:db8::100"),
])
def test_an_arp_request_refuses_what_is_no_mac_or_ipv4(mac, src, target):
    with pytest.raises(ValueError):
        s.arp_request(mac, src, target)


ARP_REPLY = b"".join([
    MAC_A, MAC_B, b"\x08\x06",
    b"\x00\x01\x08\x00\x06\x04\x00\x02",  # Ethernet, IPv4, 6, 4, op 2: reply
    MAC_B, bytes([198, 51, 100, 100]),    # sender: B holds the VIP
    MAC_A, bytes([198, 51, 100, 11]),     # target: the asking node
    b"\x00" * 18,                         # padding to the Ethernet minimum of 60 bytes
])


def _with_op(frame: bytes, op: int) -> bytes:
    return frame[:20] + op.to_bytes(2, "big") + frame[22:]


ARP_CASES = [
    ("a reply", ARP_REPLY, ("198.51.100.100", "00:00:5e:00:53:12")),
    ("a reply without padding", ARP_REPLY[:42], ("198.51.100.100", "00:00:5e:00:53:12")),
    ("a reply tagged VLAN 20", ARP_REPLY[:12] + b"\x81\x00\x00\x14" + ARP_REPLY[12:], ("198.51.100.100", "00:00:5e:00:53:12")),
    ("a request", s.arp_request(MAC_B, "198.51.100.12", "198.51.100.11"), None),
    ("a reply with op 1", _with_op(ARP_REPLY, 1), None),
    ("RARP reply (op 4)", _with_op(ARP_REPLY, 4), None),
    ("a truncated reply", ARP_REPLY[:41], None),
    ("a bare Ethernet header", ARP_REPLY[:14], None),
    ("nothing", b"", None),
    ("not ARP (EtherType IPv4)", ARP_REPLY[:12] + b"\x08\x00" + ARP_REPLY[14:], None),
    ("hardware address length 8", ARP_REPLY[:18] + b"\x08" + ARP_REPLY[19:], None),
    ("protocol IPv6", ARP_REPLY[:16] + b"\x86\xdd" + ARP_REPLY[18:], None),
]


@pytest.mark.parametrize(("frame", "expected"), [c[1:] for c in ARP_CASES], ids=[c[0] for c in ARP_CASES])
def test_parse_arp_reply(frame, expected):
    assert s.parse_arp_reply(frame) == expected


# --------------------------------------------------------------------------- IPv6 neighbour discovery

def _ip6(text: str) -> bytes:
    import ipaddress

    return ipaddress.IPv6Address(text).packed


def test_a_neighbour_solicitation_is_built_field_by_field():
    frame = s.ns_packet(MAC_A, "fe80::11", "2001:db8::100")
    src, dst, target = _ip6("fe80::11"), _ip6("ff02::1:ff00:100"), _ip6("2001:db8::100")
    icmp_body = b"".join([
        b"\x00\x00\x00\x00",          # reserved
        target,                       # target address
        b"\x01\x01", MAC_A,           # option 1 (source link-layer address), 1 x 8 bytes
    ])
    pseudo = src + dst + (4 + len(icmp_body)).to_bytes(4, "big") + b"\x00\x00\x00" + bytes([58])
    cksum = ~_ones_complement_sum(pseudo + b"\x87\x00\x00\x00" + icmp_body) & 0xFFFF
    expected = b"".join([
        b"\x33\x33\xff\x00\x01\x00",  # Ethernet destination: the solicited-node group's MAC
        MAC_A,                        # Ethernet source
        b"\x86\xdd",                  # EtherType IPv6
        b"\x60\x00\x00\x00",          # version 6, traffic class 0, flow label 0
        b"\x00\x20",                  # payload length 32
        b"\x3a",                      # next header ICMPv6
        b"\xff",                      # hop limit 255
        src, dst,
        b"\x87\x00",                  # type 135 (neighbour solicitation), code 0
        cksum.to_bytes(2, "big"),
        icmp_body,
    ])
    assert frame == expected
    assert len(frame) == 86
    # the checksum the module wrote verifies: the sum over pseudo-header and message is 0xffff
    assert _ones_complement_sum(pseudo + frame[54:]) == 0xFFFF


@pytest.mark.parametrize(("target", "group", "mac"), [
    ("2001:db8::100", "ff02::1:ff00:100", "33:33:ff:00:01:00"),
    ("2001:db8::a8c1:ff:fe12:3456", "ff02::1:ff12:3456", "33:33:ff:12:34:56"),
    ("fe80::200:5eff:fe00:5312", "ff02::1:ff00:5312", "33:33:ff:00:53:12"),
])
def test_the_solicited_node_group(target, group, mac):
    assert s.solicited_node(target) == (group, s.parse_mac(mac))
    assert s.ns_packet(MAC_A, "fe80::11", target)[:6] == s.parse_mac(mac)


def test_a_solicitation_from_no_address_carries_no_link_layer_option():
    frame = s.ns_packet(MAC_A, "::", "2001:db8::100")
    assert frame[18:20] == b"\x00\x18"  # payload 24: no option (RFC 4861 7.2.2)
    assert len(frame) == 14 + 40 + 24
    pseudo = bytes(16) + _ip6("ff02::1:ff00:100") + (24).to_bytes(4, "big") + b"\x00\x00\x00\x3a"
    assert _ones_complement_sum(pseudo + frame[54:]) == 0xFFFF


@pytest.mark.parametrize("target", ["ff02::1", "::", "198.51.100.100"])
def test_a_solicitation_is_for_a_unicast_ipv6_address(target):
    with pytest.raises(ValueError):
        s.ns_packet(MAC_A, "fe80::11", target)


def _na(*, eth_src: bytes = MAC_B, options: bytes = b"\x02\x01" + MAC_B, hop_limit: int = 255,
        icmp_type: int = 136, code: int = 0, next_header: int = 58, target: str = "2001:db8::100") -> bytes:
    icmp = bytes([icmp_type, code]) + b"\x12\x34" + b"\x60\x00\x00\x00" + _ip6(target) + options  # S and O flags
    ip6 = b"\x60\x00\x00\x00" + len(icmp).to_bytes(2, "big") + bytes([next_header, hop_limit]) + _ip6(target) + _ip6("fe80::11")
    return MAC_A + eth_src + b"\x86\xdd" + ip6 + icmp


OTHER = bytes.fromhex("00005e005399")
NONCE = b"\x0e\x01" + b"\xaa" * 6  # RFC 3971 nonce option, before the target's
NA_CASES = [
    ("with the target link-layer option", _na(), ("2001:db8::100", "00:00:5e:00:53:12")),
    ("the option names the holder, not the frame's sender", _na(eth_src=OTHER), ("2001:db8::100", "00:00:5e:00:53:12")),
    ("without the option: the Ethernet source", _na(eth_src=OTHER, options=b""), ("2001:db8::100", "00:00:5e:00:53:99")),
    ("another option first", _na(options=NONCE + b"\x02\x01" + MAC_B), ("2001:db8::100", "00:00:5e:00:53:12")),
    ("only a source link-layer option", _na(eth_src=OTHER, options=b"\x01\x01" + MAC_B), ("2001:db8::100", "00:00:5e:00:53:99")),
    ("an Ethernet padding after the message", _na() + bytes(10), ("2001:db8::100", "00:00:5e:00:53:12")),
    ("a link-local target", _na(target="fe80::200:5eff:fe00:5312"), ("fe80::200:5eff:fe00:5312", "00:00:5e:00:53:12")),
    ("a solicitation", _na(icmp_type=135, options=b"\x01\x01" + MAC_B), None),
    ("hop limit 64: forwarded, so not from the link", _na(hop_limit=64), None),
    ("code 1", _na(code=1), None),
    ("an option of length 0", _na(options=b"\x02\x00" + MAC_B), None),
    ("UDP, not ICMPv6", _na(next_header=17), None),
    ("truncated", _na()[:14 + 40 + 23], None),
    ("nothing", b"", None),
    ("not IPv6 (an ARP reply)", ARP_REPLY, None),
]


@pytest.mark.parametrize(("frame", "expected"), [c[1:] for c in NA_CASES], ids=[c[0] for c in NA_CASES])
def test_parse_na(frame, expected):
    assert s.parse_na(frame) == expected


# --------------------------------------------------------------------------- the kernel's filters

def _run_bpf(program, frame: bytes) -> int:
    """Just enough of a classic BPF machine (ld h/b abs, jeq k, ret k) to run the module's
    programs: what the kernel queues on the socket (0: nothing)."""
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x28:
            if k + 2 > len(frame):
                return 0
            acc = int.from_bytes(frame[k:k + 2], "big")
        elif code == 0x30:
            if k + 1 > len(frame):
                return 0
            acc = frame[k]
        elif code == 0x15:
            pc += jt if acc == k else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"opcode {code:#x} is not one the module uses")
        pc += 1


@pytest.mark.parametrize(("program", "frame", "kept"), [
    (s.ARP_REPLY_FILTER, ARP_REPLY, True),
    (s.ARP_REPLY_FILTER, s.arp_request(MAC_A, "198.51.100.11", "198.51.100.100"), False),
    (s.NA_FILTER, _na(), True),
    (s.NA_FILTER, s.ns_packet(MAC_A, "fe80::11", "2001:db8::100"), False),
    (s.NA_FILTER, _na(next_header=17), False),
    (s.NA_FILTER, b"\x00" * 20, False),
])
def test_the_kernel_filters_keep_only_answers(program, frame, kept):
    assert bool(_run_bpf(program, frame)) is kept
    assert len(s.bpf_program(program)) == 8 * len(program)


# --------------------------------------------------------------------------- the node's own view

@pytest.mark.parametrize(("dev", "base"), [("eth0:1", "eth0"), ("eth0", "eth0"), ("bond0.20:vip", "bond0.20")])
def test_base_device(dev, base):
    assert s.base_device(dev) == base


IP_J = json.dumps([{
    "ifindex": 2, "ifname": "eth0",
    "addr_info": [
        {"family": "inet", "local": "198.51.100.100", "prefixlen": 24, "scope": "global", "label": "eth0:1"},
        {"family": "inet", "local": "198.51.100.7", "prefixlen": 8, "scope": "host", "label": "eth0"},
        {"family": "inet", "local": "198.51.100.11", "prefixlen": 24, "scope": "global", "label": "eth0"},
        {"family": "inet", "local": "198.51.100.12", "prefixlen": 24, "scope": "global", "label": "eth0"},
    ],
}])


@pytest.mark.parametrize(("text", "dev", "expected"), [
    (IP_J, "eth0", "198.51.100.11"),
    (IP_J, "eth1", None),
    ("[]", "eth0", None),
    ("", "eth0", None),
    ("not json", "eth0", None),
])
def test_the_default_ipv4_source_is_the_first_global_address_of_the_device(text, dev, expected):
    assert s.first_ipv4(text, dev) == expected


IF_INET6 = "\n".join([
    "20010db8000000000000000000000100 02 40 00 80     eth0",
    "fe80000000000000020000fffe000001 02 40 20 08     eth0",  # DAD failed
    "fe80000000000000020000fffe000002 02 40 20 40     eth0",  # tentative
    "fe80000000000000020000fffe000003 02 40 20 80     eth0",
    "fe80000000000000020000fffe000004 03 40 20 80     eth1",
    "00000000000000000000000000000001 01 80 10 80       lo",
])


@pytest.mark.parametrize(("text", "dev", "expected"), [
    (IF_INET6, "eth0", "fe80::200:ff:fe00:3"),
    ("\n".join(IF_INET6.splitlines()[:3]), "eth0", "fe80::200:ff:fe00:2"),  # a tentative one rather than none
    (IF_INET6, "eth1", "fe80::200:ff:fe00:4"),
    (IF_INET6, "lo", None),
    ("", "eth0", None),
])
def test_the_default_ipv6_source_is_a_link_local_address_that_passed_dad(text, dev, expected):
    assert s.link_local(text, dev) == expected


def test_own_macs_are_every_interface_s(tmp_path):
    for name, mac in [("eth0", "00:00:5E:00:53:11"), ("vrrp.55", "00:00:5e:00:01:37"), ("lo", "00:00:00:00:00:00"), ("tun0", "")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac + "\n")
    (tmp_path / "bonding_masters").write_text("bond0\n")
    assert s.own_macs(str(tmp_path)) == {"00:00:5e:00:53:11", "00:00:5e:00:01:37"}
    assert s.own_macs(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize(("make", "error"), [
    (None, "no interface halbseg-x0"),
    ("0x1002", "halbseg-x0 is down"),
])
def test_a_probe_without_a_usable_interface_answers_empty_and_says_why(tmp_path, monkeypatch, make, error):
    monkeypatch.setattr(s, "SYS_CLASS_NET", str(tmp_path))
    if make:
        (tmp_path / "halbseg-x0").mkdir()
        (tmp_path / "halbseg-x0" / "address").write_text("00:00:5e:00:53:11\n")
        (tmp_path / "halbseg-x0" / "flags").write_text(make + "\n")
    seg = s.Segment("halbseg-x0:1", src_ip="198.51.100.11")
    assert seg.probe(["198.51.100.100", "2001:db8::100"]) == {"198.51.100.100": [], "2001:db8::100": []}
    assert seg.error == error
    assert seg.probe([]) == {}
    assert seg.error is None
    seg.close()


def test_a_target_is_an_ip_address():
    seg = s.Segment("halbseg-x0")
    with pytest.raises(ValueError, match="expected an IP address to probe"):
        seg.probe(["198.51.100.100", "vip1"])
    with pytest.raises(ValueError):
        s.Segment("halbseg-x0", src_ip="198.51.100.300")


# --------------------------------------------------------------------------- on a real segment

#: ``ip`` for the test's own namespaces: [ip] as root, through tests/helpers/netns.py's holder otherwise
IP: list[str] = [NS_IP]
#: the directory that holds ansible_collections (the worktree's, as pytest imported it): the
#: namespace's Python gets it as PYTHONPATH
COLLECTIONS = str(Path(s.__file__).parents[5])
MACS = {"a0": "00:00:5e:00:53:11", "a1": "00:00:5e:00:53:1a", "b0": "00:00:5e:00:53:12", "c0": "00:00:5e:00:53:13"}
DEVS = {"a": "a0", "b": "b0", "c": "c0"}
NODE_ADDRESSES = {"a": "198.51.100.11/24", "b": "198.51.100.12/24", "c": "198.51.100.13/24"}
FAMILIES = {4: ("198.51.100.100", "198.51.100.101"), 6: ("2001:db8::100", "2001:db8::101")}

PROBE = r"""
import json, sys, time
from ansible_collections.halb.pair.plugins.module_utils import _segment
args = json.loads(sys.argv[1])
if args.get("trust_no_interface"):
    _segment.own_macs = lambda root=None: frozenset()  # only the probing interface's MAC is known
seg = _segment.Segment(args["ifname"], src_ip=args.get("src_ip"))
out = {}
if args.get("stale"):  # open the sockets, then let the test queue an old answer
    seg.probe(args["targets"])
    print("ready", flush=True)
    sys.stdin.readline()
out["answers"] = seg.probe(args["targets"])
out.update(error=seg.error, drained=seg.drained, src=[seg.src_ip, seg.src_ip6])
seg.close()
print(json.dumps(out))
"""

#: an unsolicited ARP reply (198.51.100.102 is-at B) sent from B straight to A
STALE = r"""
import socket, sys
a, b = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
frame = a + b + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02" + b + bytes([198, 51, 100, 102]) + a + bytes([198, 51, 100, 11])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind(("b0", 0))
sock.send(frame)
"""


def _ip(*args: str) -> None:
    proc = subprocess.run([*IP, *args], capture_output=True, text=True, check=False, timeout=10)
    assert proc.returncode == 0, f"ip {' '.join(args)}: {proc.stderr.strip()}"


class Lab:
    """Namespaces a, b and c, each with one veth into a bridge in namespace sw; a has a
    second veth (a1) into the same bridge, so the node itself can answer its own probe."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.held: dict[str, set[str]] = {vip: set() for pair in FAMILIES.values() for vip in pair}

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def sysctl(self, node: str, key: str, value: str) -> None:
        path = "/proc/sys/net/" + key.replace(".", "/")
        _ip("netns", "exec", self.ns(node), "sh", "-c", f"echo {value} > {path}")

    def build(self) -> None:
        _ip("-n", self.ns("sw"), "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", self.ns("sw"), "link", "set", "br0", "up")
        for node in "abc":
            # link-local addresses usable at once: no duplicate address detection on the lab's links
            for scope in ("all", "default"):
                self.sysctl(node, f"ipv6.conf.{scope}.accept_dad", "0")
        for node, dev in [("a", "a0"), ("a", "a1"), ("b", "b0"), ("c", "c0")]:
            _ip("-n", self.ns(node), "link", "add", dev, "address", MACS[dev], "type", "veth", "peer", "name", f"p{dev}", "netns", self.ns("sw"))
            _ip("-n", self.ns("sw"), "link", "set", f"p{dev}", "master", "br0", "up")
            _ip("-n", self.ns(node), "link", "set", dev, "up")
        for node, cidr in NODE_ADDRESSES.items():
            _ip("-n", self.ns(node), "addr", "add", cidr, "dev", DEVS[node])
        # a1 answers ARP for the node's VIPs (arp_ignore 0), but only once a request from the
        # node's own address (198.51.100.11) is not a martian source to it
        self.sysctl("a", "ipv4.conf.a1.accept_local", "1")

    def hold(self, vip: str, nodes: str) -> None:
        """``vip`` on exactly ``nodes`` (on a, IPv6 also on a1: Linux answers a solicitation
        only for an address of the interface it arrived on)."""
        v6 = ":" in vip
        places = [(node, DEVS[node], f"{vip}/64" if v6 else f"{vip}/24") for node in "abc"]
        if v6:
            places.append(("a", "a1", f"{vip}/128"))
        for node, dev, cidr in places:
            key = f"{node}:{dev}"
            if node in nodes and key not in self.held[vip]:
                _ip("-n", self.ns(node), "addr", "add", cidr, "dev", dev, *(["nodad"] if v6 else []))
                self.held[vip].add(key)
            elif node not in nodes and key in self.held[vip]:
                _ip("-n", self.ns(node), "addr", "del", cidr, "dev", dev)
                self.held[vip].discard(key)

    def probe(self, targets: list[str], **options) -> dict:
        args = json.dumps({"ifname": "a0", "targets": targets, **options})
        cmd = [*IP, "netns", "exec", self.ns("a"), "env", f"PYTHONPATH={COLLECTIONS}", sys.executable, "-c", PROBE, args]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=20)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def lab():
    holder = IpNetns()  # as root: ip itself; any other user: inside a user namespace of its own
    IP[:] = holder.ip
    lab = Lab(f"halbseg-{secrets.token_hex(3)}")
    made: list[str] = []
    try:
        for node in ("sw", "a", "b", "c"):
            proc = subprocess.run([*IP, "netns", "add", lab.ns(node)], capture_output=True, text=True, check=False, timeout=10)
            if proc.returncode != 0:
                pytest.fail(f"cannot make a network namespace here: {proc.stderr.strip()}")
            made.append(lab.ns(node))
        lab.build()
        yield lab
    finally:
        for name in reversed(made):
            subprocess.run([*IP, "netns", "del", name], capture_output=True, check=False, timeout=10)
        holder.close()


@pytest.fixture(params=sorted(FAMILIES), ids=lambda f: f"IPv{f}")
def family(request, lab):
    if request.param == 6 and not Path("/proc/sys/net/ipv6").exists():
        pytest.fail("IPv6 is not available in this kernel: the neighbour-solicitation probes cannot run")
    return request.param


def test_one_holder_answers_with_its_mac(lab, family):
    vip, _plen = FAMILIES[family]
    lab.hold(vip, "b")
    out = lab.probe([vip])
    assert out["error"] is None
    assert out["answers"] == {vip: [MACS["b0"]]}
    # the request spoke from the node's own address, never from the VIP (each family's
    # source is looked up when that family is first asked for)
    assert out["src"] == (["198.51.100.11", None] if family == 4 else [None, "fe80::200:5eff:fe00:5311"])


def test_two_holders_are_the_split_brain_seen_on_the_segment(lab, family):
    vip, _plen = FAMILIES[family]
    lab.hold(vip, "bc")
    out = lab.probe([vip])
    assert (out["error"], out["answers"]) == (None, {vip: [MACS["b0"], MACS["c0"]]})


def test_the_node_s_own_answer_never_counts(lab, family):
    vip, _plen = FAMILIES[family]
    lab.hold(vip, "a")
    assert lab.probe([vip])["answers"] == {vip: []}
    # the node did answer itself through a1: only its list of own MACs left that answer out
    assert lab.probe([vip], trust_no_interface=True)["answers"] == {vip: [MACS["a1"]]}


def test_nobody_holds_an_orphan(lab, family):
    vip, orphan = FAMILIES[family]
    lab.hold(vip, "b")
    out = lab.probe([vip, orphan])
    assert (out["error"], out["answers"]) == (None, {vip: [MACS["b0"]], orphan: []})


def test_one_probe_asks_for_both_families_at_once(lab):
    lab.hold("198.51.100.100", "b")
    lab.hold("2001:db8::100", "c")
    out = lab.probe(["198.51.100.100", "2001:db8::100", "198.51.100.101", "2001:db8:0::101"])
    assert out["error"] is None
    assert out["answers"] == {
        "198.51.100.100": [MACS["b0"]], "2001:db8::100": [MACS["c0"]], "198.51.100.101": [], "2001:db8:0::101": [],
    }


def test_an_answer_queued_before_the_probe_does_not_count(lab):
    """An ARP reply naming B for 198.51.100.102 reaches A between two probes (as a late
    answer or a gratuitous ARP would): the next probe reads it away, and nobody holds .102."""
    lab.hold("198.51.100.100", "")
    args = json.dumps({"ifname": "a0", "targets": ["198.51.100.102"], "stale": True})
    cmd = [*IP, "netns", "exec", lab.ns("a"), "env", f"PYTHONPATH={COLLECTIONS}", sys.executable, "-c", PROBE, args]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
            a, b = MACS["a0"].replace(":", ""), MACS["b0"].replace(":", "")
            _ip("netns", "exec", lab.ns("b"), sys.executable, "-c", STALE, a, b)
            time.sleep(0.1)
            out, err = proc.communicate("go\n", timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["drained"] >= 1
    assert result["answers"] == {"198.51.100.102": []}


def test_a_request_never_speaks_as_the_vip(lab):
    """B learns from a request only who asked: A's own address. Told to speak as the VIP it
    asks about, the node sends an ARP probe (sender 0.0.0.0) instead, which B answers all the
    same and which moves no neighbour's entry for the VIP to the asking node."""
    lab.hold("198.51.100.100", "b")
    _ip("-n", lab.ns("b"), "neigh", "flush", "dev", "b0")
    out = lab.probe(["198.51.100.100"], src_ip="198.51.100.100")
    assert (out["error"], out["answers"]) == (None, {"198.51.100.100": [MACS["b0"]]})
    neigh = subprocess.run([*IP, "-n", lab.ns("b"), "-j", "neigh", "show", "dev", "b0"], capture_output=True, text=True, check=True).stdout
    assert [n["dst"] for n in json.loads(neigh)] == []
    lab.probe(["198.51.100.100"])
    neigh = subprocess.run([*IP, "-n", lab.ns("b"), "-j", "neigh", "show", "dev", "b0"], capture_output=True, text=True, check=True).stdout
    assert [(n["dst"], n.get("lladdr")) for n in json.loads(neigh)] == [("198.51.100.11", MACS["a0"])]
