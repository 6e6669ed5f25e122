# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's addresses from one rtnetlink dump (RTM_GETADDR), as ``ip -j addr`` shows them.

The watcher asks every second (more often while a problem awaits confirmation) which addresses the node holds. ``ip -j addr`` answers
with a fork and an exec each time; the kernel answers the same question on a netlink
socket the watcher keeps open. ``parse_addr_dump`` turns the dump into the very list
``_ipaddr.parse_ip_addr_json`` makes of ``ip -j addr`` for the same state, so either
source feeds the same code:

- order: interface by interface in the order of ``names`` (``socket.if_nameindex()``
  lists them in the kernel's link order, which is the order ``ip`` prints them in), and
  within an interface in the order of the dump (IPv4 first, then IPv6), as ``ip`` does;
- ``address`` is IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL (``ip`` prints
  IFA_LOCAL as ``local``): an IPv4 address always has IFA_LOCAL, IPv6 only when it has a
  peer (then IFA_ADDRESS is the peer and IFA_LOCAL the node's own address);
- ``label`` is IFA_LABEL whenever the kernel sends one, which it does for every IPv4
  address (the interface name ``eth0`` for the primary and for secondaries added without
  a label, ``eth0:1`` when given) and never for IPv6: ``ip -j`` prints it the same way;
- ``scope`` is the name ``ip`` prints from its built-in table (0 global, 200 site,
  253 link, 254 host, 255 nowhere), any other number as itself (``"100"``). Names added in
  /etc/iproute2/rt_scopes are not read;
- an address of an interface missing from ``names`` (gone, or made after the names were
  read) is left out, as ``ip`` leaves out addresses of links its link dump did not show;
  families other than IPv4 and IPv6 (MCTP) are left out too.

Messages (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h; host byte order, every
message and attribute aligned to 4 bytes): struct nlmsghdr (length, type, flags, sequence,
port id), then for RTM_NEWADDR struct ifaddrmsg (family, prefix length, flags, scope,
interface index) and its attributes (length, type, value). A dump may span several
datagrams and ends with NLMSG_DONE; NLMSG_ERROR carries a negative errno.

``AddressReader`` is the socket glue the watcher keeps open; ``addresses()`` is a one-shot
read. Stdlib only, Python 3.9+, any user (reading addresses needs no privilege); the role
copies this file next to ``_ipaddr.py`` on the nodes.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import socket
import struct
import typing as t

from ._ipaddr import Address

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
#: The dump changed while the kernel wrote it: it may be inconsistent (``ip`` only warns).
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_FLAGS = 8

#: iproute2's built-in scope names (lib/rt_names.c); any other scope prints as its number.
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
#: address family -> (the name ``ip`` prints, the length of an address)
FAMILIES = {socket.AF_INET: ("inet", 4), socket.AF_INET6: ("inet6", 16)}

NLMSGHDR = struct.Struct("=IHHII")
IFADDRMSG = struct.Struct("=BBBBI")
RTATTR = struct.Struct("=HH")
_INT = struct.Struct("=i")
_U32 = struct.Struct("=I")

#: Bytes asked for per datagram: the kernel fills a dump datagram up to 32 KiB at most.
RECV_SIZE = 65536
#: Dumps retried at once when the kernel says one changed while it was written.
RETRIES = 2


class NetlinkError(OSError):
    """The kernel refused the dump (``errno`` is its error), or it is not well-formed (EBADMSG)."""


class DumpInterrupted(NetlinkError):
    """The addresses changed during the dump (NLM_F_DUMP_INTR): read them again."""


class _Raw(t.NamedTuple):
    """One RTM_NEWADDR, before its interface index is a name."""

    index: int
    family: str
    address: str
    prefix: int
    label: str | None
    scope: str


def _align(length: int) -> int:
    return (length + 3) & ~3


def _bad(what: str) -> NetlinkError:
    return NetlinkError(errno.EBADMSG, f"malformed rtnetlink address dump: {what}")


@functools.lru_cache(maxsize=1024)
def _ipv6_text(raw: bytes) -> str:
    # a node holds few addresses and reads them every second: each is spelt once
    return str(ipaddress.IPv6Address(raw))


def _format(family: int, raw: bytes) -> str:
    # the spelling _ipaddr.normalise_address gives (inet_ntoa is the same for IPv4, and cheaper)
    if family == socket.AF_INET:
        return socket.inet_ntoa(raw)
    return _ipv6_text(raw)


def _newaddr(data: bytes, start: int, stop: int) -> _Raw | None:
    """The address in the RTM_NEWADDR at ``data[start:stop]`` (header excluded), None for another family."""
    if stop - start < IFADDRMSG.size:
        raise _bad(f"RTM_NEWADDR of {stop - start} bytes, shorter than struct ifaddrmsg")
    family, prefix, _flags, scope, index = IFADDRMSG.unpack_from(data, start)
    known = FAMILIES.get(family)
    if known is None:
        return None
    name, size = known
    local = address = label = None
    pos = start + IFADDRMSG.size
    while pos < stop:
        if stop - pos < RTATTR.size:
            raise _bad(f"{stop - pos} bytes left after the attributes of an RTM_NEWADDR")
        length, kind = RTATTR.unpack_from(data, pos)
        if length < RTATTR.size or pos + length > stop:
            raise _bad(f"attribute {kind} of {length} bytes at offset {pos - start} in an RTM_NEWADDR of {stop - start}")
        if kind == IFA_LOCAL or kind == IFA_ADDRESS:
            if length - RTATTR.size != size:
                raise _bad(f"an {name} address of {length - RTATTR.size} bytes")
            if kind == IFA_LOCAL:
                local = data[pos + RTATTR.size:pos + length]
            else:
                address = data[pos + RTATTR.size:pos + length]
        elif kind == IFA_LABEL:
            label = os.fsdecode(data[pos + RTATTR.size:pos + length].split(b"\0", 1)[0])
        elif kind == IFA_FLAGS and length - RTATTR.size < _U32.size:
            # the 32-bit flags (tentative, dadfailed, ...): Address has no field for them, as
            # parse_ip_addr_json keeps none, but a short one means the message is not understood
            raise _bad(f"IFA_FLAGS of {length - RTATTR.size} bytes")
        pos += _align(length)
    chosen = local if local is not None else address
    if chosen is None:
        raise _bad(f"RTM_NEWADDR for interface {index} without IFA_LOCAL or IFA_ADDRESS")
    return _Raw(index, name, _format(family, chosen), prefix, label, SCOPES.get(scope) or str(scope))


def _dump(chunks: t.Iterable[bytes], seq: int | None = None) -> list[_Raw]:
    """The addresses of one dump, in its order, up to NLMSG_DONE (datagrams after it are not read).

    Messages with another sequence number than ``seq`` (when given) are left of an
    earlier request and skipped, as ``ip`` skips them.
    """
    found: list[_Raw] = []
    interrupted = False
    for chunk in chunks:
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        end = len(data)
        offset = 0
        while offset < end:
            if end - offset < NLMSGHDR.size:
                raise _bad(f"{end - offset} bytes at offset {offset}, shorter than struct nlmsghdr")
            length, kind, flags, mseq, _port = NLMSGHDR.unpack_from(data, offset)
            if length < NLMSGHDR.size or offset + length > end:
                raise _bad(f"message of type {kind} claims {length} bytes at offset {offset} of a {end}-byte datagram")
            body = offset + NLMSGHDR.size
            if seq is None or mseq == seq:
                if flags & NLM_F_DUMP_INTR:
                    interrupted = True
                if kind == RTM_NEWADDR:
                    entry = _newaddr(data, body, offset + length)
                    if entry is not None:
                        found.append(entry)
                elif kind == NLMSG_DONE:
                    # the kernel may put an error in NLMSG_DONE (-ENOBUFS: a buffer too small for an entry)
                    if length - NLMSGHDR.size >= _INT.size:
                        code = -_INT.unpack_from(data, body)[0]
                        if code > 0:
                            raise NetlinkError(code, f"the address dump ended with an error: {os.strerror(code)}")
                    if interrupted:
                        raise DumpInterrupted(errno.EINTR, "the addresses changed during the dump (NLM_F_DUMP_INTR): read them again")
                    return found
                elif kind == NLMSG_ERROR:
                    if length - NLMSGHDR.size < _INT.size:
                        raise _bad("NLMSG_ERROR without its error code")
                    code = -_INT.unpack_from(data, body)[0]
                    if code != 0:  # 0 is an acknowledgement, not an error
                        raise NetlinkError(code, f"the kernel refused the address dump: {os.strerror(code)}")
                elif kind == NLMSG_OVERRUN:
                    raise NetlinkError(errno.ENOBUFS, "the kernel lost part of the address dump (NLMSG_OVERRUN)")
                # NLMSG_NOOP and any other type: nothing to read
            offset += _align(length)
    raise _bad("the dump ended before NLMSG_DONE")


def _named(found: t.Iterable[_Raw], names: t.Mapping[int, str]) -> list[Address]:
    per_index: dict[int, list[Address]] = {}
    for raw in found:
        dev = names.get(raw.index)
        if dev is None:
            continue
        per_index.setdefault(raw.index, []).append(
            Address(
                address=raw.address,
                prefix=raw.prefix,
                cidr=f"{raw.address}/{raw.prefix}",
                family=raw.family,
                dev=dev,
                label=raw.label,
                scope=raw.scope,
            )
        )
    return [entry for index in names for entry in per_index.get(index, ())]


def parse_addr_dump(chunks: t.Iterable[bytes], names: t.Mapping[int, str], *, seq: int | None = None) -> list[Address]:
    """The addresses of an RTM_GETADDR dump, as ``_ipaddr.parse_ip_addr_json`` gives them for ``ip -j addr``.

    ``chunks`` are the datagrams read from the socket, in order; they are read up to the
    one holding NLMSG_DONE. ``names`` maps interface index -> name, in the order the
    interfaces are to be listed (``dict(socket.if_nameindex())``). With ``seq``, messages
    of any other sequence number are skipped.

    Raises ``NetlinkError``: with the kernel's errno for NLMSG_ERROR (or an error in
    NLMSG_DONE), ENOBUFS for NLMSG_OVERRUN, EBADMSG for a truncated or malformed message or
    a dump without NLMSG_DONE; ``DumpInterrupted`` (EINTR) when the dump is flagged
    NLM_F_DUMP_INTR.
    """
    return _named(_dump(chunks, seq), names)


def request(seq: int) -> bytes:
    """RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, every family (AF_UNSPEC), sequence number ``seq``."""
    body = IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


class AddressReader:
    """One NETLINK_ROUTE socket, kept open between reads; reopened after any error.

    ``read()`` sends one RTM_GETADDR dump request, reads it to NLMSG_DONE, then the
    interface names (``socket.if_nameindex()``, read after the dump so that an address
    on an interface made just before it is not lost). A dump the kernel flags as changed
    while written is read again at once, ``RETRIES`` times at most.
    """

    def __init__(self, timeout: float = 2.0):
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._seq = 0

    def _open(self) -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            sock.bind((0, 0))
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return sock

    @staticmethod
    def _datagrams(sock: socket.socket) -> t.Iterator[bytes]:
        while True:
            data, _ancillary, flags, _address = sock.recvmsg(RECV_SIZE)
            if flags & socket.MSG_TRUNC:
                raise NetlinkError(errno.EMSGSIZE, f"an rtnetlink datagram longer than {RECV_SIZE} bytes")
            yield data

    def _read_once(self) -> list[Address]:
        sock = self._sock if self._sock is not None else self._open()
        self._seq = self._seq % 0xFFFFFFFF + 1
        sock.send(request(self._seq))
        found = _dump(self._datagrams(sock), self._seq)
        return _named(found, dict(socket.if_nameindex()))

    def read(self) -> list[Address]:
        """The node's addresses now, as ``parse_ip_addr_json`` gives them for ``ip -j addr``.

        Raises ``OSError`` (``NetlinkError`` among them, ``socket.timeout`` when the
        kernel does not answer within ``timeout`` seconds); the socket is then closed, and
        the next read opens a new one.
        """
        attempt = 0
        while True:
            try:
                return self._read_once()
            except DumpInterrupted:
                # the dump was read to its end: the socket is clean, ask again
                attempt += 1
                if attempt > RETRIES:
                    self.close()
                    raise
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> AddressReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def addresses(timeout: float = 2.0) -> list[Address]:
    """The node's addresses now, from one dump on a socket of its own (closed after).

    A caller reading often keeps an ``AddressReader`` instead and spares the socket set-up.
    """
    with AddressReader(timeout) as reader:
        return reader.read()
