# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's Prometheus metrics: one table, read by the watcher (which renders them),
by the alert rules' and the dashboard's tests (every name they use is here) and by the
keepalived role's README.

Private and pure. Label names avoid ``instance`` and ``job``: Prometheus gives every
scraped series those two itself (the target), and a series of the same label would be
renamed ``exported_instance``. A VRRP instance is ``vrrp_instance``; the node is the
scrape target's ``instance`` (and ``node`` in ``halb_watch_info``).
"""

from __future__ import annotations

import typing as t

#: What a problem's ``kind`` label can be (the verdicts status.yml prints, and the node's own).
#: ``split_brain``, ``orphan``, ``misplaced``, ``unhealthy_holder``: a VIP's placement (subject:
#: the VIP). ``drained``: a node drained for longer than the bound (subject: the node).
#: ``foreign_vrrp``: the guard dropped VRRP for the pair's VRIDs from outside the pair
#: (subject: the node). ``guard_missing``: the guard's table is missing and could not be put
#: back (subject: the node). ``config_drift``: a file differs from what runs (subject:
#: ``keepalived.conf`` or ``vrrp-guard``).
KINDS = (
    "split_brain",
    "orphan",
    "misplaced",
    "unhealthy_holder",
    "drained",
    "foreign_vrrp",
    "guard_missing",
    "config_drift",
)

#: keepalived's instance states as numbers (``halb_vrrp_state``); an unknown state is 0.
STATE_NUMBERS = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 4}


class Metric(t.NamedTuple):
    type: str
    labels: tuple[str, ...]
    help: str


METRICS: dict[str, Metric] = {
    "halb_watch_info": Metric("gauge", ("node", "pair", "version"), "Always 1: the watcher of this node, its pair and the collection's version."),
    "halb_watch_last_tick_timestamp_seconds": Metric("gauge", (), "When the watcher last read the node (Unix time)."),
    "halb_watch_tick_seconds": Metric("gauge", (), "How long the watcher's last reading of the node took."),
    "halb_keepalived_up": Metric("gauge", (), "1 while keepalived runs (its PID file names a keepalived process of root)."),
    "halb_keepalived_last_reload_timestamp_seconds": Metric(
        "gauge", (), "When keepalived last loaded its configuration (start or reload; Unix time, 0 unknown)."
    ),
    "halb_vrrp_state": Metric(
        "gauge", ("vrrp_instance",), "The VRRP instance's state from keepalived's state feed: 0 INIT or unknown, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP."
    ),
    "halb_vrrp_priority": Metric("gauge", ("vrrp_instance",), "The instance's effective priority at its last transition (state feed)."),
    "halb_vrrp_transitions_total": Metric("counter", ("vrrp_instance",), "State changes of the instance seen by the watcher."),
    "halb_vip_held": Metric("gauge", ("vip", "vrrp_instance"), "1 while this node holds the VIP (ip addr)."),
    "halb_vip_segment_answers": Metric(
        "gauge", ("vip", "vrrp_instance"), "How many other MACs answered this node's ARP request (IPv6: neighbour solicitation) for the VIP."
    ),
    "halb_vip_holders": Metric(
        "gauge", ("vip", "vrrp_instance"), "How many holders of the VIP this node sees: itself, its peers' watchers and the segment's answers."
    ),
    "halb_problem": Metric("gauge", ("kind", "subject"), "1 for each problem this node's watcher has seen for longer than its hold time."),
    "halb_problems": Metric("gauge", ("kind",), "How many problems of each kind this node's watcher has now (0 for none)."),
    "halb_drain_value": Metric("gauge", (), "The drain file's value (0 active, -253 drained)."),
    "halb_drained_seconds": Metric("gauge", (), "How long this node has been drained (0 when it is not)."),
    "halb_handover_active": Metric("gauge", (), "1 while this node's hand-over file is set (a stop or reboot hands its VIPs over)."),
    "halb_handovers_total": Metric("counter", (), "Hand-overs before a stop seen by the watcher (the hand-over file set)."),
    "halb_crash_handovers_total": Metric("counter", (), "Priority-0 adverts sent on behalf of a killed keepalived (since boot)."),
    "halb_nginx_healthy": Metric("gauge", (), "1 while nginx's health endpoint answers 200."),
    "halb_nginx_health_latency_seconds": Metric("gauge", (), "How long nginx's health endpoint took to answer."),
    "halb_guard_loaded": Metric("gauge", (), "1 while the VRRP guard's table is loaded with its rules (always 0 when the node has no guard)."),
    "halb_guard_wanted": Metric("gauge", (), "1 when the inventory asks for the VRRP guard on this node."),
    "halb_guard_packets_total": Metric(
        "counter", ("counter",), "The VRRP guard's counters: vrrp_peer (accepted), vrrp_spoofed and vrrp_other (dropped)."
    ),
    "halb_guard_strangers": Metric("gauge", (), "Sources of dropped VRRP for the pair's VRIDs remembered by the guard (last hour)."),
    "halb_guard_restores_total": Metric("counter", (), "Times the watcher loaded the VRRP guard again after finding its table missing."),
    "halb_config_drift": Metric("gauge", ("file",), "1 while the file differs from what the service loaded (keepalived.conf, vrrp-guard)."),
    "halb_peer_up": Metric("gauge", ("peer",), "1 while the peer's watcher answers."),
    "halb_alerts_total": Metric("counter", ("channel", "result"), "Alerts by channel (mail, hook) and result (sent, failed, suppressed)."),
}


def _escape(value: t.Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(samples: t.Iterable[tuple[str, t.Mapping[str, t.Any], float]]) -> str:
    """Prometheus text exposition (format 0.0.4) of ``(name, labels, value)`` samples.

    Every name must be in ``METRICS`` with exactly its labels; the families come out in
    ``METRICS`` order, each with its HELP and TYPE, samples in the order given.
    """
    by_name: dict[str, list[tuple[t.Mapping[str, t.Any], float]]] = {}
    for name, labels, value in samples:
        metric = METRICS.get(name)
        if metric is None:
            raise ValueError(f"expected a metric of METRICS, found {name!r}")
        if tuple(labels) != metric.labels:
            raise ValueError(f"expected the labels {metric.labels} for {name}, found {tuple(labels)}")
        by_name.setdefault(name, []).append((labels, value))
    out: list[str] = []
    for name, metric in METRICS.items():
        if name not in by_name:
            continue
        out += [f"# HELP {name} {_escape(metric.help)}", f"# TYPE {name} {metric.type}"]
        for labels, value in by_name[name]:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            number = repr(float(value)) if float(value) != int(value) else str(int(value))
            out.append(f"{name}{{{text}}} {number}" if text else f"{name} {number}")
    return "\n".join(out) + "\n"
