# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rtnetlink address dump: parsed from bytes written out field by field, and read
from a real kernel in a network namespace of the test's own, against ``ip -j addr``."""

from __future__ import annotations

import errno
import json
import secrets
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _ipaddr
from ansible_collections.halb.pair.plugins.module_utils import _netlink as nl

from tests.helpers.netns import IP as NS_IP
from tests.helpers.netns import IpNetns

# --------------------------------------------------------------------------- bytes, by hand
# linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, written out here rather than taken
# from the module, so a wrong constant or layout there is not mirrored in the expectations.

AF_INET, AF_INET6, AF_MCTP = 2, 10, 45
SEQ = 7


def attr(kind: int, value: bytes, pad: bool = True) -> bytes:
    """struct rtattr: u16 length (header + value, without padding), u16 type, value, zeros to 4 bytes."""
    raw = struct.pack("=H", 4 + len(value)) + struct.pack("=H", kind) + value
    return raw + b"\0" * ((-len(raw)) % 4 if pad else 0)


def ifaddrmsg(family: int, prefix: int, scope: int, index: int, flags: int = 0) -> bytes:
    """struct ifaddrmsg: u8 family, u8 prefix length, u8 flags, u8 scope, u32 interface index."""
    return bytes([family, prefix, flags, scope]) + struct.pack("=I", index)


def message(kind: int, body: bytes, flags: int = 2, seq: int = SEQ, port: int = 4242, pad: bool = True) -> bytes:
    """struct nlmsghdr: u32 length (header + body), u16 type, u16 flags, u32 sequence, u32 port id."""
    raw = struct.pack("=I", 16 + len(body)) + struct.pack("=H", kind) + struct.pack("=H", flags) + struct.pack("=II", seq, port) + body
    return raw + b"\0" * ((-len(raw)) % 4 if pad else 0)


def newaddr(family: int, prefix: int, scope: int, index: int, *attrs: bytes, **kw) -> bytes:
    return message(20, ifaddrmsg(family, prefix, scope, index) + b"".join(attrs), **kw)


def v4(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def label(text: str) -> bytes:
    return attr(3, text.encode() + b"\0")


def local(raw: bytes) -> bytes:
    return attr(2, raw)


def address(raw: bytes) -> bytes:
    return attr(1, raw)


FLAGS = attr(8, struct.pack("=I", 0x80))  # IFA_F_PERMANENT
CACHEINFO = attr(6, struct.pack("=IIII", 0xFFFFFFFF, 0xFFFFFFFF, 100, 100))
DONE = message(3, struct.pack("=i", 0))
NAMES = {1: "lo", 2: "eth0", 3: "eth1"}


def entry(addr: str, prefix: int, dev: str, label: str | None, scope: str | None) -> dict:
    return {"address": addr, "prefix": prefix, "cidr": f"{addr}/{prefix}", "family": "inet6" if ":" in addr else "inet",
            "dev": dev, "label": label, "scope": scope}


ETH0_12 = newaddr(AF_INET, 24, 0, 2, address(v4("198.51.100.12")), local(v4("198.51.100.12")), label("eth0:1"), FLAGS)

# (case, datagrams, names, expected)
CASES = [
    ("an IPv4 address with a label", [ETH0_12 + DONE], NAMES, [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]),
    ("an IPv4 primary is labelled with the interface name, as the kernel sends it",
     [newaddr(AF_INET, 24, 0, 2, address(v4("198.51.100.11")), local(v4("198.51.100.11")), label("eth0")) + DONE], NAMES,
     [entry("198.51.100.11", 24, "eth0", "eth0", "global")]),
    ("the IPv4 address is IFA_LOCAL, not the peer in IFA_ADDRESS (either order)",
     [newaddr(AF_INET, 32, 0, 2, address(v4("198.51.100.21")), local(v4("198.51.100.20")), label("eth0"))
      + newaddr(AF_INET, 32, 0, 2, local(v4("198.51.100.22")), address(v4("198.51.100.23")), label("eth0")) + DONE], NAMES,
     [entry("198.51.100.20", 32, "eth0", "eth0", "global"), entry("198.51.100.22", 32, "eth0", "eth0", "global")]),
    ("IPv6 global and link-local: IFA_ADDRESS, no label",
     [newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8::11")), CACHEINFO, FLAGS)
      + newaddr(AF_INET6, 64, 253, 2, address(v6("fe80::a8c1:ff:fe00:11")), CACHEINFO, FLAGS) + DONE], NAMES,
     [entry("2001:db8::11", 64, "eth0", None, "global"), entry("fe80::a8c1:ff:fe00:11", 64, "eth0", None, "link")]),
    ("IPv6 with a peer: IFA_LOCAL is the node's own",
     [newaddr(AF_INET6, 128, 0, 2, local(v6("2001:db8:2::1")), address(v6("2001:db8:2::2"))) + DONE], NAMES,
     [entry("2001:db8:2::1", 128, "eth0", None, "global")]),
    ("IPv6 spelt as _ipaddr.normalise_address spells it",
     [newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8:0:0:1:0:0:1"))) + newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8::")))
      + DONE], NAMES,
     [entry("2001:db8::1:0:0:1", 64, "eth0", None, "global"), entry("2001:db8::", 64, "eth0", None, "global")]),
    ("an IPv4-mapped IPv6 address as normalise_address spells it (Python versions differ)",
     [newaddr(AF_INET6, 128, 0, 2, address(v6("::ffff:198.51.100.1"))) + DONE], NAMES,
     [entry(_ipaddr.normalise_address("::ffff:198.51.100.1"), 128, "eth0", None, "global")]),
    ("a multi-part dump: two messages in one datagram, NLMSG_DONE in the next",
     [ETH0_12 + newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8::11"))), DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0:1", "global"), entry("2001:db8::11", 64, "eth0", None, "global")]),
    ("a dump in three datagrams", [ETH0_12, newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8::11"))), DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0:1", "global"), entry("2001:db8::11", 64, "eth0", None, "global")]),
    ("unknown attributes are skipped, whatever their length",
     [newaddr(AF_INET, 24, 0, 2, attr(200, b"\x01"), attr(4, v4("198.51.100.255")), attr(11, b"\x02"), attr(9, b"\0\0\0\0"),
              attr(0x7FFF, b"abcdefg"), local(v4("198.51.100.12")), attr(201, b""), label("eth0:1"), attr(202, b"xy")) + DONE],
     NAMES, [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]),
    ("attributes and messages are aligned to 4 bytes: a 5-byte label is followed by 3 bytes of padding",
     [newaddr(AF_INET, 24, 0, 2, label("eth0"), local(v4("198.51.100.12")), attr(3, b"eth0:12\0")) + DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0:12", "global")]),
    ("a last attribute and a message without their padding in the lengths",
     [newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.12")), attr(3, b"eth0"), pad=True)
      + newaddr(AF_INET, 24, 0, 3, local(v4("198.51.100.13")), attr(3, b"eth1\0", pad=False), pad=True) + DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0", "global"), entry("198.51.100.13", 24, "eth1", "eth1", "global")]),
    ("the label ends at its NUL", [newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.12")), attr(3, b"eth0:1\0junk")) + DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]),
    ("scopes by ip's names, any other as its number",
     [newaddr(AF_INET, 32, scope, 1, local(v4(f"198.51.100.{n}"))) for n, scope in enumerate((0, 200, 253, 254, 255, 100, 1), 1)]
     + [DONE], NAMES,
     [entry(f"198.51.100.{n}", 32, "lo", None, name) for n, name in enumerate(("global", "site", "link", "host", "nowhere", "100", "1"), 1)]),
    ("grouped by interface in the order of names, each in the order of the dump",
     [newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.11"))) + newaddr(AF_INET, 24, 0, 3, local(v4("198.51.100.13")))
      + newaddr(AF_INET, 8, 254, 1, local(v4("127.0.0.1"))) + newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.12"))),
      newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8::11"))) + newaddr(AF_INET6, 128, 254, 1, address(v6("::1"))) + DONE],
     {3: "eth1", 1: "lo", 2: "eth0"},
     [entry("198.51.100.13", 24, "eth1", None, "global"), entry("127.0.0.1", 8, "lo", None, "host"),
      entry("::1", 128, "lo", None, "host"), entry("198.51.100.11", 24, "eth0", None, "global"),
      entry("198.51.100.12", 24, "eth0", None, "global"), entry("2001:db8::11", 64, "eth0", None, "global")]),
    ("an address of an interface not in names is left out (ip leaves out links it did not list)",
     [newaddr(AF_INET, 24, 0, 9, local(v4("198.51.100.19"))) + ETH0_12 + DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]),
    ("families other than IPv4 and IPv6 are left out (MCTP has 1-byte addresses)",
     [newaddr(AF_MCTP, 0, 0, 2, local(b"\x08")) + ETH0_12 + DONE], NAMES, [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]),
    ("NLMSG_NOOP, other message types and an acknowledgement are skipped",
     [message(1, b"") + message(21, ifaddrmsg(AF_INET, 24, 0, 2) + local(v4("198.51.100.99")))
      + message(2, struct.pack("=i", 0) + bytes(16)) + ETH0_12 + DONE], NAMES,
     [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]),
    ("a dump of nothing", [DONE], NAMES, []),
    ("a NLMSG_DONE without its payload", [message(3, b"")], NAMES, []),
]


@pytest.mark.parametrize(("chunks", "names", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_addr_dump(chunks, names, expected):
    assert nl.parse_addr_dump(chunks, names) == expected


def test_chunks_may_be_any_bytes_like():
    expected = [entry("198.51.100.12", 24, "eth0", "eth0:1", "global")]
    assert nl.parse_addr_dump([bytearray(ETH0_12), memoryview(DONE)], NAMES) == expected


def test_nothing_is_read_after_nlmsg_done():
    def datagrams():
        yield ETH0_12
        yield DONE + newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.99")))
        raise AssertionError("read past NLMSG_DONE")

    assert [a["address"] for a in nl.parse_addr_dump(datagrams(), NAMES)] == ["198.51.100.12"]


def test_messages_of_another_request_are_skipped():
    stale = newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.99")), seq=SEQ - 1) + message(3, struct.pack("=i", 0), seq=SEQ - 1)
    chunks = [stale, message(2, struct.pack("=i", -errno.EBUSY) + bytes(16), seq=SEQ - 1), ETH0_12 + DONE]
    assert [a["address"] for a in nl.parse_addr_dump(chunks, NAMES, seq=SEQ)] == ["198.51.100.12"]
    # without a sequence number, the stale dump is the dump
    assert [a["address"] for a in nl.parse_addr_dump(chunks, NAMES)] == ["198.51.100.99"]


ERRORS = [
    ("NLMSG_ERROR carries the kernel's errno", [message(2, struct.pack("=i", -errno.EPERM) + bytes(16))], errno.EPERM),
    ("NLMSG_ERROR after some addresses", [ETH0_12, message(2, struct.pack("=i", -errno.EINVAL) + bytes(16))], errno.EINVAL),
    ("NLMSG_DONE with an error", [ETH0_12 + message(3, struct.pack("=i", -errno.ENOBUFS))], errno.ENOBUFS),
    ("NLMSG_OVERRUN", [message(4, b"")], errno.ENOBUFS),
    ("NLMSG_ERROR without its error code", [message(2, b"\xff\xff")], errno.EBADMSG),
    ("no NLMSG_DONE", [ETH0_12], errno.EBADMSG),
    ("nothing at all", [], errno.EBADMSG),
    ("a message longer than the datagram", [ETH0_12[:-4] + DONE[:0]], errno.EBADMSG),
    ("a message cut in two datagrams", [ETH0_12[:20], ETH0_12[20:] + DONE], errno.EBADMSG),
    ("less than a header left", [ETH0_12 + DONE[:10]], errno.EBADMSG),
    ("a length shorter than the header", [struct.pack("=IHHII", 8, 20, 2, SEQ, 0) + DONE], errno.EBADMSG),
    ("a length of zero", [struct.pack("=IHHII", 0, 3, 2, SEQ, 0)], errno.EBADMSG),
    ("an RTM_NEWADDR shorter than struct ifaddrmsg", [message(20, bytes([AF_INET, 24, 0, 0])) + DONE], errno.EBADMSG),
    ("an attribute longer than its message",
     [message(20, ifaddrmsg(AF_INET, 24, 0, 2) + struct.pack("=HH", 12, 2) + v4("198.51.100.12")) + DONE], errno.EBADMSG),
    ("an attribute length shorter than its header",
     [message(20, ifaddrmsg(AF_INET, 24, 0, 2) + struct.pack("=HH", 2, 2) + v4("198.51.100.12")) + DONE], errno.EBADMSG),
    ("bytes after the attributes that are no attribute",
     [message(20, ifaddrmsg(AF_INET, 24, 0, 2) + local(v4("198.51.100.12")) + b"\x01\x02", pad=False) + DONE], errno.EBADMSG),
    ("an IPv4 address of 3 bytes", [newaddr(AF_INET, 24, 0, 2, local(b"\xc6\x33\x64")) + DONE], errno.EBADMSG),
    ("an IPv6 address of 4 bytes", [newaddr(AF_INET6, 64, 0, 2, address(v4("198.51.100.12"))) + DONE], errno.EBADMSG),
    ("a short IFA_FLAGS", [newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.12")), attr(8, b"\x80")) + DONE], errno.EBADMSG),
    ("an address message without an address", [newaddr(AF_INET, 24, 0, 2, label("eth0")) + DONE], errno.EBADMSG),
]


@pytest.mark.parametrize(("chunks", "code"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors_and_malformed_dumps_raise_netlink_error(chunks, code):
    with pytest.raises(nl.NetlinkError) as caught:
        nl.parse_addr_dump(chunks, NAMES)
    assert caught.value.errno == code
    assert isinstance(caught.value, OSError)


def test_a_dump_that_changed_while_written_is_flagged():
    chunks = [newaddr(AF_INET, 24, 0, 2, local(v4("198.51.100.12")), flags=2 | 0x10) + DONE]
    with pytest.raises(nl.DumpInterrupted) as caught:
        nl.parse_addr_dump(chunks, NAMES)
    assert caught.value.errno == errno.EINTR


def test_every_truncation_of_a_dump_raises_netlink_error_only():
    dump = ETH0_12 + newaddr(AF_INET6, 64, 0, 2, address(v6("2001:db8::11")), CACHEINFO, FLAGS) + DONE
    for cut in range(len(dump)):
        with pytest.raises(nl.NetlinkError):
            nl.parse_addr_dump([dump[:cut]], NAMES)


def test_the_request_is_a_dump_of_every_family():
    expected = struct.pack("=IHHII", 24, 22, 0x1 | 0x300, 99, 0) + bytes([0, 0, 0, 0]) + struct.pack("=I", 0)
    assert nl.request(99) == expected


# --------------------------------------------------------------------------- the reader, on a fake socket


class FakeSocket:
    """Answers each request with the datagrams ``replies`` makes of its sequence number."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.pending: list[bytes] = []
        self.sent: list[bytes] = []
        self.closed = False

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        seq = struct.unpack_from("=I", data, 8)[0]
        self.pending.extend(self.replies.pop(0)(seq))
        return len(data)

    def recvmsg(self, size: int):
        if not self.pending:
            raise TimeoutError("timed out")
        return self.pending.pop(0), [], 0, (0, 0)

    def close(self) -> None:
        self.closed = True


class FakeReader(nl.AddressReader):
    def __init__(self, *sockets: FakeSocket):
        super().__init__()
        self.sockets = list(sockets)
        self.opened: list[FakeSocket] = []

    def _open(self):
        self._sock = self.sockets.pop(0)
        self.opened.append(self._sock)
        return self._sock


def dump_of(*addresses: str, flags: int = 2):
    def reply(seq: int) -> list[bytes]:
        msgs = [newaddr(AF_INET, 24, 0, 2, local(v4(a)), label("eth0"), seq=seq, flags=flags) for a in addresses]
        return [b"".join(msgs), message(3, struct.pack("=i", 0), seq=seq)]

    return reply


@pytest.fixture
def names(monkeypatch):
    monkeypatch.setattr(socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth0")])


def test_the_reader_keeps_its_socket_and_numbers_its_requests(names):
    sock = FakeSocket([dump_of("198.51.100.11"), dump_of("198.51.100.11", "198.51.100.12")])
    reader = FakeReader(sock)
    assert [a["address"] for a in reader.read()] == ["198.51.100.11"]
    assert [a["address"] for a in reader.read()] == ["198.51.100.11", "198.51.100.12"]
    assert reader.opened == [sock]
    assert [struct.unpack_from("=I", s, 8)[0] for s in sock.sent] == [1, 2]
    reader.close()
    assert sock.closed


def test_the_reader_reads_again_a_dump_that_changed_while_written(names):
    sock = FakeSocket([dump_of("198.51.100.99", flags=2 | 0x10), dump_of("198.51.100.11")])
    reader = FakeReader(sock)
    assert [a["address"] for a in reader.read()] == ["198.51.100.11"]
    assert reader.opened == [sock] and not sock.closed


def test_the_reader_gives_up_on_a_dump_that_keeps_changing(names):
    sock = FakeSocket([dump_of("198.51.100.99", flags=2 | 0x10)] * (nl.RETRIES + 1))
    reader = FakeReader(sock)
    with pytest.raises(nl.DumpInterrupted):
        reader.read()
    assert sock.closed


def test_the_reader_reopens_its_socket_after_an_error(names):
    broken = FakeSocket([lambda seq: [message(2, struct.pack("=i", -errno.EBUSY) + bytes(16), seq=seq)]])
    silent = FakeSocket([lambda seq: []])
    good = FakeSocket([dump_of("198.51.100.11")])
    reader = FakeReader(broken, silent, good)
    with pytest.raises(nl.NetlinkError) as caught:
        reader.read()
    assert caught.value.errno == errno.EBUSY and broken.closed
    with pytest.raises(TimeoutError):
        reader.read()
    assert silent.closed
    assert [a["address"] for a in reader.read()] == ["198.51.100.11"]
    assert reader.opened == [broken, silent, good]


# --------------------------------------------------------------------------- a real kernel

#: ``ip`` for the test's own namespaces: [ip] as root, through tests/helpers/netns.py's holder otherwise
IP: list[str] = [NS_IP]
#: the directory that holds ansible_collections (the worktree's, as pytest imported it): the
#: namespace's Python gets it as PYTHONPATH
COLLECTIONS = str(Path(nl.__file__).parents[5])

#: In the namespace: ``ip -j addr``, the netlink read, ``ip -j addr`` again, until both ip
#: readings agree (a link-local address may still be arriving); then the ip commands in
#: argv[2] (one JSON list of argument lists) and the same again with the same reader.
COMPARE = r"""
import json, subprocess, sys, time
from ansible_collections.halb.pair.plugins.module_utils import _netlink

def ip_addr():
    return subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout

reader = _netlink.AddressReader()
def compare(read):
    for _ in range(50):
        before = ip_addr()
        got = read()
        after = ip_addr()
        if json.loads(before) == json.loads(after):
            return {"ip": before, "netlink": got}
        time.sleep(0.1)
    raise SystemExit("ip -j addr never settled")

out = [compare(reader.read), compare(_netlink.addresses)]
for args in json.loads(sys.argv[1]):
    subprocess.run(["ip", *args], check=True)
out.append(compare(reader.read))
reader.close()
print(json.dumps(out))
"""


def _ip(*args: str) -> None:
    proc = subprocess.run([*IP, *args], capture_output=True, text=True, check=False, timeout=10)
    assert proc.returncode == 0, f"ip {' '.join(args)}: {proc.stderr.strip()}"


@pytest.fixture
def netns():
    """A network namespace of the test's own (``ip netns``; as any user: tests/helpers/netns.py), deleted afterwards."""
    holder = IpNetns()  # as root: ip itself; any other user: inside a user namespace of its own
    IP[:] = holder.ip
    name = f"halbnl-{secrets.token_hex(4)}"
    proc = subprocess.run([*IP, "netns", "add", name], capture_output=True, text=True, check=False, timeout=10)
    if proc.returncode != 0:
        holder.close()
        pytest.fail(f"cannot make a network namespace here: {proc.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run([*IP, "netns", "del", name], capture_output=True, check=False, timeout=10)
        holder.close()


def _compare(ns: str, then: list[list[str]]) -> list[tuple[list, list]]:
    cmd = [*IP, "netns", "exec", ns, "env", f"PYTHONPATH={COLLECTIONS}", sys.executable, "-c", COMPARE, json.dumps(then)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [(_ipaddr.parse_ip_addr_json(r["ip"]), r["netlink"]) for r in json.loads(proc.stdout)]


def test_the_kernel_dump_is_what_ip_shows(netns):
    n = ["-n", netns]
    _ip(*n, "link", "set", "lo", "up")
    _ip(*n, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    _ip(*n, "link", "add", "v2", "type", "veth", "peer", "name", "v3")
    for dev in ("v0", "v1", "v2"):
        _ip(*n, "link", "set", dev, "up")
    for args in (
        ["198.51.100.11/24", "dev", "v0"],  # the primary
        ["198.51.100.12/24", "dev", "v0", "label", "v0:1"],  # a secondary with a label
        ["198.51.100.13/24", "dev", "v0"],  # a secondary without one
        ["198.51.100.20", "peer", "198.51.100.21/32", "dev", "v0"],  # IFA_LOCAL and IFA_ADDRESS differ
        ["198.51.100.30/32", "dev", "v0", "scope", "link"],
        ["198.51.100.31/32", "dev", "v0", "scope", "100"],  # no name: ip prints the number
        ["198.51.100.32/32", "dev", "v0", "scope", "nowhere"],
        ["2001:db8::11/64", "dev", "v0", "nodad"],
        ["2001:db8:2::1", "peer", "2001:db8:2::2/128", "dev", "v0", "nodad"],
        ["198.51.100.41/24", "dev", "v2"],
        ["2001:db8:1::41/64", "dev", "v2", "nodad"],
        ["198.51.100.51/24", "dev", "v3"],  # v3 is down: its IPv4 address is still listed
    ):
        _ip(*n, "addr", "add", *args)
    then = [
        ["addr", "del", "198.51.100.12/24", "dev", "v0"],
        ["addr", "add", "198.51.100.14/24", "dev", "v0", "label", "v0:2"],
        ["link", "add", "v4", "type", "veth", "peer", "name", "v5"],  # made after the reader's first read
        ["addr", "add", "198.51.100.61/24", "dev", "v4"],
        ["link", "set", "v2", "down"],  # renamed (only down): IPv4 labels follow the name
        ["link", "set", "v2", "name", "w2"],
        ["link", "set", "w2", "up"],
    ]
    readings = _compare(netns, then)
    for by_ip, by_netlink in readings:
        assert by_netlink == by_ip
    first, last = readings[0][0], readings[-1][0]
    held = {a["address"]: (a["dev"], a["label"], a["scope"]) for a in first}
    assert held["198.51.100.11"] == ("v0", "v0", "global")
    assert held["198.51.100.12"] == ("v0", "v0:1", "global")
    assert held["198.51.100.13"] == ("v0", "v0", "global")
    assert held["198.51.100.20"] == ("v0", "v0", "global")
    assert (held["198.51.100.30"][2], held["198.51.100.31"][2], held["198.51.100.32"][2]) == ("link", "100", "nowhere")
    assert held["2001:db8::11"] == ("v0", None, "global")
    assert held["2001:db8:2::1"] == ("v0", None, "global")
    assert held["198.51.100.51"] == ("v3", "v3", "global")
    assert any(a["scope"] == "link" and a["family"] == "inet6" and a["dev"] == "v0" for a in first)
    # interface by interface, not in the dump's order (every IPv4 address before any IPv6 one)
    order = [a["address"] for a in first]
    assert order.index("::1") < order.index("198.51.100.11")
    held = {a["address"]: (a["dev"], a["label"]) for a in last}
    assert "198.51.100.12" not in held
    assert (held["198.51.100.14"], held["198.51.100.61"], held["198.51.100.41"]) == (("v0", "v0:2"), ("v4", "v4"), ("w2", "w2"))
