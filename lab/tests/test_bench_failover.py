"""Pure parts of the failover benchmark (lab/halb_lab/bench_failover.py): profiles, cases,
watch records stitched and cut, per-phase summaries, statistics, the table, the timeline."""

from __future__ import annotations

import math

import pytest
from halb_lab import addresses
from halb_lab import bench_failover as bf

T0 = 2000.0  # the event


# --------------------------------------------------------------------------- profiles and cases
def test_default_profile_sets_nothing():
    assert bf.profile_vars("default", ("keepalived_advert_int: 1\n",))[0] == {}


def test_fast_profile_uses_the_role_switch_when_the_role_has_it():
    defaults = "keepalived_vrrp_version: 2\nkeepalived_profile: default\n"
    got, how = bf.profile_vars("fast", (defaults, ""))
    assert got == {"keepalived_profile": "fast"}
    assert "keepalived_profile" in how


def test_fast_profile_in_argument_specs_only_counts_too():
    specs = "argument_specs:\n  main:\n    options:\n      keepalived_profile:\n        type: str\n"
    assert bf.profile_vars("fast", ("keepalived_vrrp_version: 2\n", specs))[0] == {"keepalived_profile": "fast"}


def test_fast_profile_falls_back_to_explicit_variables():
    got, how = bf.profile_vars("fast", ("keepalived_vrrp_version: 2\n# keepalived_profile: is not here\n",))
    assert got["keepalived_vrrp_version"] == 3 and got["keepalived_advert_int"] == 0.1
    assert got["keepalived_check_fall"] == 1 and "keepalived_profile" not in got
    assert "explicit" in how


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown profile"):
        bf.profile_vars("turbo", ("",))


def test_every_profile_has_its_timers():
    for name, p in bf.PROFILES.items():
        assert p["freeze_s"] > 0 and p["timeout_s"] > 0 and p["quiet_s"] > 0, name


def test_cases_cover_the_issue_and_are_well_formed():
    names = [c.name for c in bf.CASES]
    assert len(names) == len(set(names))
    for want in ("node_killed", "node_frozen", "nginx_stopped", "nginx_killed", "keepalived_killed", "keepalived_stopped",
                 "keepalived_restarted", "nginx_restarted", "reboot"):  # fmt: skip
        assert want in names
    for c in bf.CASES:
        assert c.after in ("peer", "self"), c.name
        assert c.event and all("{c}" in cmd for cmd in c.event), c.name
        # a case whose VIP moved away needs a failback
        assert c.after == "self" or c.recover, c.name
        assert not c.boots or c.down, c.name


def test_select_keeps_the_order_and_refuses_unknown_names():
    assert [c.name for c in bf.select("reboot,node_killed", bf.CASE_BY_NAME, "case")] == ["reboot", "node_killed"]
    assert len(bf.select("", bf.CASE_BY_NAME, "case")) == len(bf.CASES)
    with pytest.raises(ValueError, match="unknown case nope"):
        bf.select("reboot,nope", bf.CASE_BY_NAME, "case")


def test_fill_puts_the_container_in():
    assert bf.fill(["podman", "exec", "{c}", "systemctl", "stop", "nginx"], "halb-bf-lb1") == [
        "podman",
        "exec",
        "halb-bf-lb1",
        "systemctl",
        "stop",
        "nginx",
    ]


def test_addresses_are_the_plans_bench_failover_user():
    # the plan (lab/addresses.yml, checked by lab/tests/test_addresses.py) keeps them apart from every other user's
    user = addresses.load().users[bf.PLAN_USER]
    assert {n: ip for n, (_, ip, _) in bf.NODES.items()} == {n.name: n.address for n in user.nodes.values()}
    assert bf.VIPS == [v.address for v in user.vips] and bf.VRID_BASE == user.vrids[0]
    assert [n for n, (_, _, kind) in bf.NODES.items() if kind == "lb"] == [bf.TARGET, bf.PEER]


# --------------------------------------------------------------------------- watch records
def test_stitch_marks_the_node_down_between_segments():
    seg0 = [{"t": 1.0, "present": True}]  # the watcher died with the container
    seg1 = [{"t": 9.0, "present": False}, {"t": 10.0, "present": True}, {"t": 12.0, "present": True, "end": True}]
    got = bf.stitch_watch([seg0, seg1], [3.0], t_end=12.0)
    assert got == [{"t": 1.0, "present": True}, {"t": 3.0, "present": False}, *seg1]


def test_stitch_of_a_node_that_never_came_back_ends_at_the_end():
    got = bf.stitch_watch([[{"t": 1.0, "present": True}], []], [3.0], t_end=20.0)
    assert got[-1] == {"t": 20.0, "present": False, "end": True}
    tl, end = bf.probe.holder_timeline({"lb1": got, "lb2": [{"t": 0.0, "present": False}, {"t": 20.0, "present": False, "end": True}]})
    assert end == 20.0 and tl[-1] == (3.0, frozenset())


def test_stitch_drops_the_end_of_an_earlier_segment():
    got = bf.stitch_watch([[{"t": 1.0, "present": True, "end": True}], [{"t": 5.0, "present": True, "end": True}]], [2.0], 5.0)
    assert [r.get("end", False) for r in got] == [False, False, True]


def test_cut_watch_keeps_the_state_at_the_start_and_ends_at_the_cut():
    recs = [{"t": 1.0, "present": True}, {"t": 5.0, "present": False}, {"t": 8.0, "present": True}, {"t": 20.0, "present": True, "end": True}]
    assert bf.cut_watch(recs, 4.0, 10.0) == [
        {"t": 4.0, "present": True},
        {"t": 5.0, "present": False},
        {"t": 8.0, "present": True},
        {"t": 10.0, "present": True, "end": True},
    ]
    # a node observed only up to 15 is not claimed up to 30
    assert bf.cut_watch([*recs[:3], {"t": 15.0, "present": True, "end": True}], 9.0, 30.0)[-1] == {"t": 15.0, "present": True, "end": True}
    assert bf.cut_watch([], 0.0, 1.0) == []


# --------------------------------------------------------------------------- a trial -> summaries
def _w(*changes, end=T0 + 8):
    """Watch records: (seconds from the event, present) changes, then an end record."""
    recs = [{"t": T0 + t, "present": p} for t, p in changes]
    return [*recs, {"t": end, "present": changes[-1][1], "end": True}]


def _reqs(pattern: str, start: float, node_ok: str = "lb1", step: float = 0.1):
    return [{"t": start + i * step, "dt": 0.01, "ok": ch == ".", "node": node_ok if ch == "." else None} for i, ch in enumerate(pattern)]


def _trial(**kw):
    # lb1 holds VIP1 until T0+1, lb2 from T0+3 (2 s with no holder); failback at T0+5:
    # lb1 back at T0+5.5 while lb2 lets go at T0+5.7 (0.2 s with two holders).
    vip1 = {"lb1": _w((-5, True), (1, False), (5.5, True)), "lb2": _w((-5, False), (3, True), (5.7, False))}
    vip2 = {"lb1": _w((-5, False)), "lb2": _w((-5, True))}
    # new connections: ok until T0+1, failing until T0+3, ok; two more failures at T0+5.5
    conn = _reqs("." * 20 + "x" * 20 + "." * 20, T0 - 2)
    conn += _reqs("." * 5 + "xx" + "." * 23, T0 + 5.0)
    kept = _reqs("." * 100, T0 - 2)
    t = {
        "profile": "default",
        "case": "nginx_stopped",
        "trial": 1,
        "after": "peer",
        "t_event": T0,
        "t_event_done": T0 + 0.2,
        "t_recover": T0 + 5.0,
        "t_end": T0 + 8.0,
        "requests": {"conn": conn, "keepalive": kept},
        "watches": {bf.VIPS[0]: vip1, bf.VIPS[1]: vip2},
        "notes": {},
    }
    t.update(kw)
    return t


def test_phases_split_at_the_recovery():
    assert bf.phases(_trial()) == [("event", T0, T0 + 5.0), ("failback", T0 + 5.0, T0 + 8.0)]
    assert bf.phases(_trial(t_recover=None)) == [("event", T0, T0 + 8.0)]


def test_trial_summaries_measure_each_phase_on_its_own():
    ss = {(s["phase"], s["client"]): s for s in bf.trial_summaries(_trial())}
    ev, fb = ss[("event", "conn")], ss[("failback", "conn")]
    assert ev["failed"] == 20 and ev["requests"] == 60  # the failback's failures are not the event's
    assert ev["error_window_s"] == pytest.approx(2.1)  # last ok T0-0.1 .. first ok again T0+2.0
    assert ev["no_holder_s"] == pytest.approx(2.0) and ev["multi_holder_s"] == 0.0
    assert ev["expect"] == "lb2" and ev["vip_moved_s"] == pytest.approx(3.0)
    assert fb["failed"] == 2 and fb["requests"] == 30 and fb["expect"] == "lb1"
    assert fb["multi_holder_s"] == pytest.approx(0.2) and fb["no_holder_s"] == 0.0
    assert ss[("event", "keepalive")]["failed"] == 0 and ss[("event", "keepalive")]["error_window_s"] == 0.0
    assert {s["case"] for s in ss.values()} == {"nginx_stopped"}


def test_a_self_restoring_case_expects_the_target_back():
    ss = bf.trial_summaries(_trial(after="self", t_recover=None))
    assert {s["phase"] for s in ss} == {"event"} and ss[0]["expect"] == "lb1"


# --------------------------------------------------------------------------- statistics and table
@pytest.mark.parametrize(
    ("xs", "q", "want"),
    [
        ([], 0.5, None),
        ([3.0], 0.95, 3.0),
        ([1, 2, 3, 4], 0.5, 2.0),
        ([5, 1, 4, 2, 3], 0.5, 3.0),
        (list(range(1, 21)), 0.95, 19.0),
        (list(range(1, 11)), 0.95, 10.0),
        ([1.0, None], 1.0, math.inf),
        ([1.0, None, 2.0], 0.5, 2.0),
    ],
)
def test_percentile_nearest_rank(xs, q, want):
    assert bf.percentile(xs, q) == want


def _s(profile, case, phase, client, trial, failed, total, window, none=0.0, multi=0.0):
    return {
        "profile": profile,
        "case": case,
        "phase": phase,
        "client": client,
        "trial": trial,
        "failed": failed,
        "requests": total,
        "error_window_s": window,
        "no_holder_s": none,
        "multi_holder_s": multi,
    }


def test_aggregate_over_trials_per_case_phase_and_profile():
    ss = []
    for n, (w, f) in enumerate([(1.0, 10), (3.0, 30), (2.0, 20)], start=1):
        ss.append(_s("default", "nginx_stopped", "event", "conn", n, f, 100, w, none=0.5 * n, multi=0.1))
        ss.append(_s("default", "nginx_stopped", "event", "keepalive", n, 1, 800, 0.2))
    ss.append(_s("fast", "nginx_stopped", "event", "conn", 1, 0, 90, 0.0))
    ss.append(_s("fast", "nginx_stopped", "event", "keepalive", 1, 0, 700, 0.0))
    aggs = bf.aggregate(ss)
    assert [(a["profile"], a["case"], a["phase"]) for a in aggs] == [("default", "nginx_stopped", "event"), ("fast", "nginx_stopped", "event")]
    a = aggs[0]
    assert a["trials"] == 3
    assert (a["conn"]["failed"], a["conn"]["total"]) == (60, 300)
    assert (a["conn"]["window_p50"], a["conn"]["window_p95"], a["conn"]["window_max"]) == (2.0, 3.0, 3.0)
    assert (a["keepalive"]["failed"], a["keepalive"]["total"]) == (3, 2400)
    assert (a["no_holder_p50"], a["no_holder_p95"]) == (1.0, 1.5)
    assert a["two_holders_p95"] == 0.1


def test_markdown_table_has_a_row_per_aggregate():
    ss = [
        _s("default", "reboot", "event", "conn", 1, 4, 100, 1.234, none=0.5),
        _s("default", "reboot", "event", "keepalive", 1, 9, 800, None),
    ]
    md = bf.markdown_table(bf.aggregate(ss), {"reboot": "reboot (podman stop, podman start)"})
    lines = md.strip().splitlines()
    assert len(lines) == 3 and lines[1].count("---") == 10
    assert lines[0].count("|") == lines[2].count("|") == 11
    row = lines[2]
    assert "reboot (podman stop, podman start)" in row and "| 4/100 |" in row and "1.23 / 1.23 / 1.23" in row
    assert "| 9/800 |" in row and "never / never / never" in row  # the kept-alive client never recovered
    assert "0.50 / 0.50" in row


# --------------------------------------------------------------------------- timeline
def test_holding_bars_relative_to_the_event():
    recs = _w((-2, True), (1, False), (5.5, True))
    assert bf.holding_bars(recs, T0) == [(-2.0, 3.0), (5.5, 2.5)]
    assert bf.holding_bars([{"t": T0, "present": False}], T0) == []


def test_timeline_data_has_a_bar_per_vip_and_lb_and_every_failure():
    d = bf.timeline_data(_trial())
    assert [r["label"] for r in d["rows"]] == [f"{bf.VIPS[0]} on lb1", f"{bf.VIPS[0]} on lb2", f"{bf.VIPS[1]} on lb1", f"{bf.VIPS[1]} on lb2"]
    assert d["rows"][1]["bars"] == [(3.0, 2.7)]
    assert d["rows"][2]["bars"] == [] and d["rows"][3]["bars"] == [(-5.0, 13.0)]
    assert len(d["fails"]["conn"]) == 22 and d["fails"]["keepalive"] == []
    assert d["fails"]["conn"][0] == pytest.approx(0.0) and d["fails"]["conn"][-1] == pytest.approx(5.6)
    assert d["marks"] == [(0.0, "event"), (0.2, "event done"), (5.0, "failback")]
    assert d["xlim"] == (-2.0, 8.0) and d["totals"] == {"conn": 90, "keepalive": 100}


def test_representative_is_the_median_trial():
    trials = [{"trial": n} for n in (1, 2, 3)]
    ss = [_s("p", "c", "event", "conn", 1, 0, 1, 5.0), _s("p", "c", "event", "conn", 2, 0, 1, None), _s("p", "c", "event", "conn", 3, 0, 1, 1.0)]
    assert bf.representative(trials, ss)["trial"] == 1


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "t.png"
    bf.plot(bf.timeline_data(_trial()), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- time bound
@pytest.mark.parametrize(
    ("elapsed", "left", "want"),
    [(0, 2, 1800.0), (1800, 1, 1800.0), (3600, 1, 0.0), (4000, 2, 0.0), (600, 2, 1500.0)],
)
def test_budget_shares_what_is_left(elapsed, left, want):
    assert bf.budget_left(100.0, 3600.0, 100.0 + elapsed, left) == want


def test_quiet_needs_the_condition_without_a_break():
    q = bf.Quiet(2.0)
    # the stale VIP of a SIGKILLed keepalived: held at once, then lost, then held for good
    got = [q.update(t, ok) for t, ok in [(0.0, True), (1.0, True), (1.5, False), (2.0, True), (3.5, True), (4.0, True)]]
    assert got == [False, False, False, False, False, True]
    assert bf.Quiet(0.0).update(5.0, True) is True


# --------------------------------------------------------------------------- soak
def test_transitions_are_keepalived_state_changes_only():
    journal = "\n".join(
        [
            "Starting VRRP child process, pid=12",
            "(VI_1) Entering BACKUP STATE (init)",
            "(VI_1) received lower priority (100) advert from 198.51.100.232 - discarding",
            "(VI_1) Entering MASTER STATE",
            "Script `halb_nginx` now returning 0",
        ]
    )
    assert bf.transitions(journal) == ["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Entering MASTER STATE"]
    assert bf.transitions("") == []


@pytest.mark.parametrize(
    ("recs", "want"),
    [
        ([{"t": 1, "present": True}, {"t": 9, "present": True, "end": True}], 0),
        ([{"t": 1, "present": True}, {"t": 2, "present": False}, {"t": 3, "present": True}, {"t": 9, "present": True, "end": True}], 2),
        ([{"t": 3, "present": False}, {"t": 1, "present": True}], 1),
        ([], 0),
    ],
)
def test_holder_changes(recs, want):
    assert bf.holder_changes(recs) == want
