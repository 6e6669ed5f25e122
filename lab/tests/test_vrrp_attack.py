"""The lab's VRRP attacker builds adverts keepalived accepts (checked against a real capture)."""

from __future__ import annotations

import struct
import sys

import pytest
from ansible_collections.halb.pair.plugins.module_utils import _vrrp_advert

sys.modules.setdefault("_vrrp_advert", _vrrp_advert)  # in the client: the copy next to the script
from halb_lab.node import vrrp_attack as va  # noqa: E402 (after the alias it imports)


def test_checksum_of_rfc1071_example():
    # RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum ~ddf2 = 220d
    assert va.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_advert_layout_and_checksum_verify():
    p = va.advert_v2(55, 255, ["198.51.100.100"], password="lab-only")
    ver_type, vrid, prio, count, auth_type, adv, _csum = struct.unpack("!BBBBBBH", p[:8])
    assert (ver_type, vrid, prio, count, auth_type, adv) == (0x21, 55, 255, 1, 1, 1)
    assert p[8:12] == bytes([198, 51, 100, 100])
    assert p[12:20] == b"lab-only"
    assert va.checksum(p) == 0  # a valid checksum sums to zero over the whole packet
    assert len(p) == 20


def test_advert_matches_one_keepalived_sent():
    # VI_1's advert as lb1's keepalived 2.2.7 sent it in the lab (VRID 55, priority 150,
    # PASS "lab-only", advert 1 s, VIP 198.51.100.100), captured by `vrrp_attack capture`
    # in the lab's client container on 2026-12-01.
    real = bytes.fromhex("21379601010172b7c63364646c61622d6f6e6c79")
    assert va.advert_v2(55, 150, ["198.51.100.100"], password="lab-only") == real
    assert va.from_capture(real, 150) == real


@pytest.mark.parametrize(("vrid", "prio"), [(0, 1), (256, 1), (1, 256)])
def test_out_of_range_refused(vrid, prio):
    with pytest.raises(ValueError):
        va.advert_v2(vrid, prio, ["198.51.100.100"])


def test_parse_reads_back_what_was_built():
    assert va.parse_v2(va.advert_v2(56, 200, ["198.51.100.101"])) == {"version": 2, "vrid": 56, "priority": 200, "count": 1}


def test_from_capture_keeps_vips_and_password_changes_priority():
    seen = va.advert_v2(55, 150, ["198.51.100.100", "198.51.100.102"], password="lab-only")
    forged = va.from_capture(seen, 255)
    assert forged == va.advert_v2(55, 255, ["198.51.100.100", "198.51.100.102"], password="lab-only")
    assert va.checksum(forged) == 0
    wrong = va.from_capture(seen, 255, password="wrong-pw")
    assert wrong[16:24] == b"wrong-pw"


def test_from_capture_refuses_vrrpv3():
    v3 = bytes([0x31]) + va.advert_v2(55, 150, ["198.51.100.100"])[1:]
    with pytest.raises(ValueError):
        va.from_capture(v3, 255)
