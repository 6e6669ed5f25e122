"""The VM lab's case figures (lab/halb_lab/vm_cases.py): pure parts, from tables."""

from __future__ import annotations

import pytest
from halb_lab import vm_cases


def rec(t, ok=True, dt=0.01, backend="rs1", err=None, status=200):
    return {"t": t, "ok": ok, "dt": dt, "backend": backend if ok else None, "err": err, "status": status if ok else None}


@pytest.mark.parametrize(
    ("recs", "failed", "total", "window", "errors", "backends"),
    [
        ([], 0, 0, 0.0, {}, []),
        ([rec(0), rec(0.05, backend="rs2")], 0, 2, 0.0, {}, ["rs1", "rs2"]),
        # one refused connection: its own duration is the window
        ([rec(0), rec(0.05, ok=False, dt=0.002, err="ConnectionRefusedError: [Errno 111]"), rec(0.1)], 1, 3, 0.0,
         {"ConnectionRefusedError": 1}, ["rs1"]),
        # first failure's start to the last one's end
        ([rec(1.0, ok=False, dt=0.5, err="TimeoutError: timed out"), rec(2.0, ok=False, dt=0.5, err="TimeoutError"), rec(3.0)], 2, 3, 1.5,
         {"TimeoutError": 2}, ["rs1"]),
        # an HTTP error status counts as failed, named by its status
        ([{"t": 0, "ok": False, "dt": 0.01, "status": 502, "err": None, "backend": None}], 1, 1, 0.01, {"HTTP 502": 1}, []),
    ],
)
def test_request_figures(recs, failed, total, window, errors, backends):
    fig = vm_cases.request_figures(recs)
    assert (fig["failed"], fig["total"], fig["window_s"], fig["errors"], fig["backends"]) == (failed, total, window, errors, backends)


def vs(address="198.51.100.140", port=80, reals=(("198.51.100.63", 1, 0), ("198.51.100.64", 1, 3))):
    return {"protocol": "TCP", "address": address, "port": port, "fwmark": None, "scheduler": "rr", "flags": [], "persistent": None,
            "real_servers": [{"address": a, "port": port, "forward": "Route", "weight": w, "active": c, "inactive": 0} for a, w, c in reals]}


def test_signature_ignores_connection_counters_and_order():
    a = [vs(reals=(("198.51.100.63", 1, 0), ("198.51.100.64", 1, 3)))]
    b = [vs(reals=(("198.51.100.64", 1, 0), ("198.51.100.63", 1, 9)))]
    assert vm_cases.signature(a) == vm_cases.signature(b)


@pytest.mark.parametrize(
    "other",
    [
        [vs(reals=(("198.51.100.63", 0, 0), ("198.51.100.64", 1, 0)))],  # a weight differs
        [vs(reals=(("198.51.100.63", 1, 0),))],  # a real server is missing
        [vs(port=8080)],  # another service
        [],  # no table at all
    ],
)
def test_signature_sees_a_different_table(other):
    assert vm_cases.signature([vs()]) != vm_cases.signature(other)


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [("198.51.100.63", 80, 1), ("198.51.100.65", 80, None), ("198.51.100.63", 8080, None)],
)
def test_real_server_weight(address, port, expected):
    assert vm_cases.real_server_weight([vs()], "198.51.100.140", port, address) == expected


def test_figures_line_names_failures_and_servers():
    fig = vm_cases.request_figures([rec(0), rec(0.05, ok=False, dt=0.2, err="TimeoutError: x"), rec(0.3, backend="rs2")])
    line = vm_cases.figures_line("real_server_lvs", fig, " (TCG)")
    assert "failed 1/3" in line and "error window 0.20 s" in line and "TimeoutError 1" in line and "rs1, rs2" in line
    assert line.endswith("(TCG)")


def test_status_vs_lines_joins_folded_items_and_keeps_only_virtual_servers():
    text = """ok: [localhost] =>
    msg:
    - VIP                INSTANCE  VRID  PREFERRED  HOLDERS  VERDICT  WHY
    - NODE  KEEPALIVED     SOURCE  DRAIN   NGINX            INSTANCES
    - lvs1  2.2.7 running  json    active  200 15.0ms lvs1  VI_1=MASTER/150
    - ''
    - lvs1  TCP 198.51.100.140:80 rr  real 198.51.100.64:80 Route w1 act 0 inact 0; 198.51.100.63:80
        Route w1 act 0 inact 0
    - lvs2  TCP 198.51.100.140:80 rr  real 198.51.100.64:80 Route w0 act 0 inact 0
"""
    assert vm_cases.status_vs_lines(text) == [
        "lvs1  TCP 198.51.100.140:80 rr  real 198.51.100.64:80 Route w1 act 0 inact 0; 198.51.100.63:80 Route w1 act 0 inact 0",
        "lvs2  TCP 198.51.100.140:80 rr  real 198.51.100.64:80 Route w0 act 0 inact 0",
    ]
