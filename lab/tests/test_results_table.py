"""The results table printed by `scripts/lab results`."""

from __future__ import annotations

import json

from halb_lab import results_table as rt


def test_table_lists_every_phase_with_its_figures():
    lines = [
        json.dumps(
            {
                "scenario": "default",
                "case": "stop_master",
                "phase": "stop",
                "vip": "198.51.100.110",
                "expect": "lb2",
                "vip_moved_s": 0.63,
                "vip_single_s": 0.63,
                "no_holder_s": 0.6,
                "multi_holder_s": 0.0,
                "error_window_s": 0.45,
                "failed": 2,
                "requests": 182,
                "served_before": "lb1",
                "served_after": "lb2",
            }
        ),
        "",
        json.dumps({"scenario": "default", "case": "kill_master", "phase": "kill", "vip_moved_s": None, "failed": 0, "requests": 100}),
    ]
    out = rt.table(rt.rows(lines)).splitlines()
    assert len(out) == 4
    assert "0.63" in out[2] and "2/182" in out[2] and "lb1 -> lb2" in out[2]
    assert "kill_master" in out[3] and "0/100" in out[3] and " - " in out[3]
