# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's judgement: what a node sees between runs, as problems with a start and an end.

Private and pure (no I/O: the watcher, ``roles/keepalived/files/libexec/watch``, reads the
node and its peers and calls these). The same module is copied onto the node next to
``_placement`` and the other files it imports.

Each tick the watcher has this node's own report (the shape of ``halb.pair.vip_info``'s
result: ``held_vips``, ``keepalived``, ``drain``, ``nginx``), its peers' reports (from their
watchers; None for a peer that did not answer) and what the segment answered for each VIP
(the other MACs that answered an ARP request or neighbour solicitation). ``observe`` turns
them into problems:

- the placement verdicts of ``status.yml``, from ``_placement.judge`` on the same reports
  (one code path): ``split_brain``, ``orphan``, ``misplaced``, ``unhealthy_holder``; the
  segment, read now like this node itself, decides how many hold a VIP (``segment_evidence``):
  a peer's report may be an interval old, VRRP may not know of a second holder, and a
  silent peer says nothing;
- the node's own: ``drained`` (longer than the bound), ``foreign_vrrp`` (the guard dropped
  VRRP for the pair's VRIDs from outside the pair), ``guard_missing`` and ``config_drift``.

A problem counts once it has been seen on every tick for its hold time (``HOLD``): a planned
move's make-before-break overlap (a few ms of two holders) and a failback's short misplaced
moment never count. A problem seen but not counted yet is read again when its hold ends
(``Tracker.due``), not a whole interval later: detection is its hold plus at most one
interval. A planned drain is ``drained``, which waits for the drain bound. The
``Tracker`` turns the problems into events: one when a problem starts and one when it ends.
"""

from __future__ import annotations

import ipaddress
import json
import time
import typing as t

from . import _placement
from ._watch_metrics import KINDS, STATE_NUMBERS

#: Seconds a problem must be seen, tick after tick, before it counts (defaults; the role's
#: ``keepalived_watch_hold`` overrides any of them). ``drained``: the drain bound.
HOLD: dict[str, float] = {
    "split_brain": 0.5,
    "orphan": 0.5,
    "unhealthy_holder": 5.0,
    "misplaced": 60.0,
    "drained": 3600.0,
    "foreign_vrrp": 0.0,
    "guard_missing": 1.0,
    "config_drift": 30.0,
}
#: Placement verdicts that are a problem of the pair (``drained`` is the node's own, with its bound).
PLACEMENT_KINDS = ("split_brain", "orphan", "misplaced", "unhealthy_holder")
#: Problems of the pair (the same on every node that sees them) and of one node.
PAIR_KINDS = PLACEMENT_KINDS
#: After the guard's drop counter last moved, how long ``foreign_vrrp`` stays on.
FOREIGN_QUIET = 30.0
#: How long a file the role wrote may wait for its reload (the role's handlers run at the end
#: of its play: tens of seconds on a loaded host, minutes in a long run) before it counts as drift.
PENDING_MAX = 600.0


def drifted(loaded: str | None, current: str | None, pending: str | None, pending_age: float) -> bool:
    """Whether a file differs from what its service loaded, as a problem.

    ``loaded``: the checksum the last start or reload recorded (None: nothing recorded, no
    judgement); ``current``: the file's checksum now; ``pending``: the checksum a run of the
    role recorded when it wrote the file (None: none), ``pending_age`` seconds ago. A file a
    run has just written is on its way to a reload: not drift while younger than
    ``PENDING_MAX``. A file edited after it (another checksum), or a run that never reloaded
    (older), is.
    """
    if loaded is None or loaded == current:
        return False
    return not (pending is not None and pending == current and 0 <= pending_age < PENDING_MAX)


class WatchError(ValueError):
    """The watcher's configuration does not have the documented shape."""


class Problem(t.NamedTuple):
    kind: str
    subject: str
    reason: str


class Event(t.TypedDict):
    event: str  # "started" or "ended"
    kind: str
    subject: str
    reason: str
    node: str
    since: float
    at: float
    duration: float


# --- configuration ---------------------------------------------------------------------

REQUIRED = ("node", "instances", "vips", "interface", "listen", "port", "peers")


def check_config(cfg: t.Any) -> list[str]:
    """Every problem of a watcher configuration (``halb.pair.pair_watch``'s output); empty when good."""
    if not isinstance(cfg, dict):
        return [f"expected a JSON object, found {type(cfg).__name__}"]
    errors = [f"expected the key {k!r}" for k in REQUIRED if k not in cfg]
    if errors:
        return errors
    if not isinstance(cfg["instances"], list) or not cfg["instances"]:
        errors.append(f"expected a non-empty list of instances, found {cfg['instances']!r}")
    if not isinstance(cfg["peers"], dict):
        errors.append(f"expected peers as {{node: state URL}}, found {cfg['peers']!r}")
    port = cfg.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        errors.append(f"expected port 1..65535, found {port!r}")
    try:
        ipaddress.ip_address(str(cfg.get("listen")))
    except ValueError:
        errors.append(f"expected listen to be an address of the node, found {cfg.get('listen')!r}")
    interval = cfg.get("interval", 0.5)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not 0.1 <= interval <= 10:
        errors.append(f"expected interval 0.1..10 s, found {interval!r}")
    hold = cfg.get("hold", {})
    if not isinstance(hold, dict) or any(k not in HOLD for k in hold):
        errors.append(f"expected hold as {{kind: seconds}} with kinds among {sorted(HOLD)}, found {hold!r}")
    else:
        errors += [f"expected hold.{k} >= 0 s, found {v!r}" for k, v in hold.items()
                   if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0]
    mail = cfg.get("mail")
    if mail is not None and (not isinstance(mail, dict) or not mail.get("server") or not mail.get("to")):
        errors.append(f"expected mail as null or {{server, port, from, to}}, found {mail!r}")
    hook = cfg.get("hook")
    if hook is not None and (not isinstance(hook, list) or not hook or not all(isinstance(a, str) and a for a in hook)
                             or not str(hook[0]).startswith("/")):
        errors.append(f"expected hook as null or an argv list starting with an absolute path, found {hook!r}")
    return errors


def holds(cfg: t.Mapping[str, t.Any]) -> dict[str, float]:
    """The hold time of every kind: the defaults, then the configuration's."""
    out = dict(HOLD)
    out.update({k: float(v) for k, v in (cfg.get("hold") or {}).items()})
    return out


# --- one tick's problems ----------------------------------------------------------------


def _nodes_of(instance: t.Mapping[str, t.Any]) -> list[str]:
    return [str(n["host"]) for n in instance.get("nodes") or []]


def segment_evidence(
    placement: _placement.Placement, me: str, held_here: bool, answers: t.Sequence[str] | None
) -> tuple[str, str] | None:
    """What the segment says of a VIP's holders, as (verdict, reason) when it differs from the
    placement the reports give, or None.

    ``answers``: the other MACs that answered for the VIP this reading (None: not probed;
    then the reports alone decide). A peer's report is its last reading, up to an interval
    old: during a move it may still show the VIP where it was. This node's own reading and
    the segment's answers are of now, so they decide how many hold it: two or more (this
    node and another MAC, or two other MACs) is a split brain whatever the reports say; one
    is none (a report older than the move); none, while nobody that answered holds it, or
    the reports say it is an orphan, is an orphan.
    """
    if answers is None:
        return None
    seen = len(answers) + (1 if held_here else 0)
    verdict = placement["verdict"]
    if seen >= 2 and verdict != "split_brain":
        who = f"held by {me} and answered on the segment by {', '.join(answers)} too" if held_here else (
            f"answered on the segment by {len(answers)} MACs: {', '.join(answers)}")
        return "split_brain", who
    if seen == 1 and verdict in ("split_brain", "orphan"):
        where = me if held_here else f"the MAC {answers[0]}"
        return "ok", f"held by {where} alone now (the segment); the reports said {verdict}: one was older than a move"
    if seen == 0 and (verdict == "orphan" or (verdict == "unknown" and me in placement["nodes"])):
        return "orphan", f"held by none of the nodes that answered, and nothing on the segment answers for it{_gap(placement)}"
    return None


def _gap(placement: _placement.Placement) -> str:
    return f"; no answer from {', '.join(placement['unreachable'])}" if placement["unreachable"] else ""


def observe(
    cfg: t.Mapping[str, t.Any],
    reports: t.Mapping[str, t.Any],
    segment: t.Mapping[str, t.Sequence[str]] | None,
    node: t.Mapping[str, t.Any],
) -> tuple[list[_placement.Placement], list[Problem]]:
    """This tick's placements (as status.yml judges them, with the segment's evidence) and problems.

    ``reports``: host -> vip_info-shaped report (None: no answer), this node's included.
    ``node``: this node's own findings: ``drained`` (bool), ``guard_missing`` (bool),
    ``foreign`` (the guard's drop counter moved lately: the sources, or None),
    ``drift`` (the files that differ from what runs).
    """
    me = str(cfg["node"])
    placements = _placement.judge(cfg["instances"], reports)
    own = reports.get(me) or {}
    held_here = set(own.get("held_vips") or [])
    problems: list[Problem] = []
    for p in placements:
        answers = None if segment is None else segment.get(p["vip"])
        extra = segment_evidence(p, me, p["vip"] in held_here, answers)
        if extra:
            p["verdict"], p["reason"] = extra
            if extra[0] == "split_brain" and p["vip"] in held_here and me not in p["holders"]:
                p["holders"] = sorted([*p["holders"], me])
        if p["verdict"] in PLACEMENT_KINDS:
            problems.append(Problem(p["verdict"], p["vip"], f"VIP {p['vip']} ({p['instance']}): {p['reason']}"))
    if node.get("drained"):
        problems.append(Problem("drained", me, f"{me} is drained: no failover to it until restored "
                                               f"(failover.yml -e node={me} -e restore=true)"))
    if node.get("foreign") is not None:
        who = ", ".join(node["foreign"]) or "sources the guard no longer remembers"
        problems.append(Problem("foreign_vrrp", me, f"{me}'s VRRP guard drops adverts for the pair's VRIDs from {who}"))
    if node.get("guard_missing"):
        problems.append(Problem("guard_missing", me, f"{me} has no VRRP guard loaded although its inventory asks for one"))
    for name in node.get("drift") or []:
        problems.append(Problem("config_drift", name, f"{name} on {me} differs from what runs (edited by hand, or written "
                                                      "by a run that did not finish): the next run of the role reloads it"))
    return placements, problems


def announcer(kind: str, me: str, order: t.Sequence[str], answered: t.Collection[str]) -> bool:
    """Whether this node announces a problem: a pair's problem (a VIP's placement) is
    announced by the first node in the pair's order whose watcher answers, so that one
    split brain makes one mail and not one per node; a node's own problem by the node."""
    if kind not in PAIR_KINDS:
        return True
    for host in order:
        if host == me:
            return True
        if host in answered:
            return False
    return True


# --- start and end ----------------------------------------------------------------------


class Tracker:
    """Problems seen tick after tick: one ``started`` event once a problem has been seen
    for its hold time, one ``ended`` event when a counted problem is no longer seen."""

    def __init__(self, hold: t.Mapping[str, float]):
        self.hold = dict(hold)
        #: every problem seen on the last reading: (when first seen, as last seen)
        self.seen: dict[tuple[str, str], tuple[float, Problem]] = {}
        #: the counted ones: when each was counted
        self.active: dict[tuple[str, str], float] = {}

    def update(self, problems: t.Iterable[Problem], now: float, node: str) -> list[Event]:
        events: list[Event] = []
        before, current = self.seen, {(p.kind, p.subject): p for p in problems}
        self.seen = {key: (before.get(key, (now, p))[0], p) for key, p in current.items()}
        for key, (first, p) in self.seen.items():
            if key not in self.active and now - first >= self.hold.get(p.kind, 0.0):
                self.active[key] = now
                events.append(Event(event="started", kind=p.kind, subject=p.subject, reason=p.reason, node=node,
                                    since=first, at=now, duration=round(now - first, 3)))
        for key in [k for k in self.active if k not in current]:
            del self.active[key]
            first, p = before[key]
            events.append(Event(event="ended", kind=p.kind, subject=p.subject, reason=p.reason, node=node,
                                since=first, at=now, duration=round(now - first, 3)))
        return events

    def due(self) -> float | None:
        """When the earliest problem seen but not counted yet reaches its hold time (None:
        none pending): the watcher reads again then rather than a whole interval later."""
        pending = [first + self.hold.get(p.kind, 0.0) for key, (first, p) in self.seen.items() if key not in self.active]
        return min(pending) if pending else None

    def problems(self) -> list[Problem]:
        return [self.seen[key][1] for key in self.active]

    def details(self) -> list[dict[str, t.Any]]:
        """The counted problems with when each was first seen (``since``) and counted (``at``)."""
        return [{**self.seen[key][1]._asdict(), "since": self.seen[key][0], "at": at} for key, at in self.active.items()]


class Settle:
    """A keepalived that has just started owes its pair a master-down interval or two
    before every VIP sits where it belongs (a node booting claims MASTER until its peer's
    advert, or its own rising health check, says otherwise): placement problems are not
    counted until ``settle`` seconds after any node's keepalived appeared with a new PID,
    this node's or a peer's (from its watcher's report), nor in the watcher's own first
    ``settle`` seconds. A stop is no such moment (the VIPs it leaves are the pair's problem
    at once), nor a peer's watcher that was silent and answers again with the same PID; a
    peer first heard of (it was down when this watcher started) is a start."""

    def __init__(self, settle: float, now: float):
        self.settle, self.since = float(settle), now
        self.pids: dict[str, int] = {}

    def update(self, pids: t.Mapping[str, int | None], now: float) -> bool:
        """Whether the pair is settling now, given each node's keepalived PID (None: not
        running, or not known this reading)."""
        for node, pid in pids.items():
            if pid is None:
                continue
            if self.pids.get(node) != pid:  # a new PID, or the first one known (a peer that was down)
                self.since = now
                self.pids[node] = pid
        return now - self.since < self.settle


class RateLimit:
    """At most ``count`` messages per ``period`` seconds (a sliding window); what is held
    back is counted and said in the next message that goes."""

    def __init__(self, count: int = 10, period: float = 600.0):
        self.count, self.period = int(count), float(period)
        self.sent: list[float] = []
        self.suppressed = 0

    def allow(self, now: float) -> bool:
        self.sent = [s for s in self.sent if now - s < self.period]
        if len(self.sent) >= self.count:
            self.suppressed += 1
            return False
        self.sent.append(now)
        return True

    def take_suppressed(self) -> int:
        n, self.suppressed = self.suppressed, 0
        return n


def message(event: Event, pair: str, table: t.Sequence[str] = (), suppressed: int = 0) -> tuple[str, str]:
    """The mail's subject and body for an event."""
    what = event["event"]  # started, ended, or restored (a missing guard put back: one message)
    subject = f"[halb.pair {pair}] {event['kind']} {what}: {event['subject']} (seen by {event['node']})"
    lines = [event["reason"], ""]
    if what == "restored":
        lines.append(f"Put back at {_iso(event['at'])}, {event['duration']:.1f} s after it was first seen missing.")
    elif what == "started":
        lines.append(f"Seen by {event['node']} since {_iso(event['since'])}, counted at {_iso(event['at'])} "
                     f"(after {event['duration']:.1f} s).")
    else:
        lines.append(f"Ended at {_iso(event['at'])}, after {event['duration']:.1f} s.")
    if table:
        lines += ["", "Where every VIP is, as the watcher of " + event["node"] + " sees it:", "", *table]
    if suppressed:
        lines += ["", f"{suppressed} alert(s) were held back by the rate limit before this one."]
    lines += ["", "halb.pair's watcher (halb-pair-watch.service); ansible-playbook halb.pair.status for the whole pair."]
    return subject, "\n".join(lines) + "\n"


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# --- metrics ----------------------------------------------------------------------------


def samples(state: t.Mapping[str, t.Any]) -> list[tuple[str, dict[str, t.Any], float]]:
    """The metrics of one tick's state (see the watcher's ``State``), for ``_watch_metrics.render``."""
    out: list[tuple[str, dict[str, t.Any], float]] = []

    def add(name: str, value: float, **labels: t.Any) -> None:
        out.append((name, labels, float(value)))

    add("halb_watch_info", 1, node=state["node"], pair=state["pair"], version=state.get("version", ""))
    add("halb_watch_last_tick_timestamp_seconds", state.get("tick_at", 0.0))
    add("halb_watch_tick_seconds", state.get("tick_seconds", 0.0))
    report = state.get("report") or {}
    add("halb_keepalived_up", 1 if (report.get("keepalived") or {}).get("running") else 0)
    add("halb_keepalived_last_reload_timestamp_seconds", state.get("last_reload", 0.0))
    for inst in report.get("instances") or []:
        add("halb_vrrp_state", STATE_NUMBERS.get(str(inst.get("state")), 0), vrrp_instance=inst["name"])
        if inst.get("effective_priority") is not None:
            add("halb_vrrp_priority", inst["effective_priority"], vrrp_instance=inst["name"])
    for name, n in sorted((state.get("transitions") or {}).items()):
        add("halb_vrrp_transitions_total", n, vrrp_instance=name)
    held = set(report.get("held_vips") or [])
    segment = state.get("segment") or {}
    for p in state.get("placements") or []:
        add("halb_vip_held", 1 if p["vip"] in held else 0, vip=p["vip"], vrrp_instance=p["instance"])
    for p in state.get("placements") or []:
        if p["vip"] in segment:
            add("halb_vip_segment_answers", len(segment[p["vip"]]), vip=p["vip"], vrrp_instance=p["instance"])
    for p in state.get("placements") or []:
        add("halb_vip_holders", holders_seen(p, state["node"], segment.get(p["vip"])), vip=p["vip"], vrrp_instance=p["instance"])
    active = state.get("problems") or []
    for p in active:
        add("halb_problem", 1, kind=p.kind, subject=p.subject)
    for kind in KINDS:
        add("halb_problems", sum(1 for p in active if p.kind == kind), kind=kind)
    drain = (report.get("drain") or {}).get("value")
    add("halb_drain_value", drain or 0)
    add("halb_drained_seconds", state.get("drained_seconds", 0.0))
    add("halb_handover_active", 1 if state.get("handover_active") else 0)
    add("halb_handovers_total", state.get("handovers", 0))
    add("halb_crash_handovers_total", state.get("crash_handovers", 0))
    nginx = report.get("nginx") or {}
    add("halb_nginx_healthy", 1 if nginx.get("healthy") else 0)
    if nginx.get("latency_ms") is not None:
        add("halb_nginx_health_latency_seconds", float(nginx["latency_ms"]) / 1000.0)
    add("halb_guard_loaded", 1 if state.get("guard_loaded") else 0)
    add("halb_guard_wanted", 1 if state.get("guard_wanted") else 0)
    for name, c in sorted((report.get("vrrp_guard") or {}).items()):
        add("halb_guard_packets_total", c.get("packets", 0), counter=name)
    add("halb_guard_strangers", len(report.get("vrrp_strangers") or []))
    add("halb_guard_restores_total", state.get("guard_restores", 0))
    drift = set(state.get("drift") or [])
    for name in state.get("drift_files") or []:
        add("halb_config_drift", 1 if name in drift else 0, file=name)
    for peer, up in sorted((state.get("peers_up") or {}).items()):
        add("halb_peer_up", 1 if up else 0, peer=peer)
    for (channel, result), n in sorted((state.get("alerts") or {}).items()):
        add("halb_alerts_total", n, channel=channel, result=result)
    return out


def holders_seen(p: _placement.Placement, me: str, answers: t.Sequence[str] | None) -> int:
    """How many holders of a VIP this node sees: the nodes whose reports hold it, and the
    MACs that answered for it on the segment that are not already counted. A peer's MAC
    and its report are one holder: answers count only beyond the reporting holders other
    than this node (this node never answers its own request)."""
    reported = len(p["holders"])
    others = len([h for h in p["holders"] if h != me])
    return reported + max(0, len(answers or []) - others)


# --- the state a node publishes to its peers -------------------------------------------


def public_state(state: t.Mapping[str, t.Any]) -> str:
    """What ``/state`` answers: this node's report (no secrets: the watcher never reads the
    VRRP password) and its active problems, as JSON."""
    return json.dumps({
        "node": state["node"],
        "pair": state["pair"],
        "at": state.get("tick_at"),
        "report": state.get("report"),
        "problems": list(state.get("problem_details") or []),
        "placements": state.get("placements") or [],
        "events": list(state.get("events") or []),
        "counters": {k: state.get(k, 0) for k in ("guard_restores", "handovers", "crash_handovers")},
    }, sort_keys=True)
