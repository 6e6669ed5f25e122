"""Failover benchmark: unplanned failures on the master of the first VIP, measured.

    scripts/bench failover [--trials N] [--profiles default,fast] [--cases a,b] [--out DIR]
                           [--max-minutes M] [--list]

Run through scripts/bench (it sources the lab's engine, adds the egress guard, builds the
image and tears everything down on exit). Brings up its own containers on the lab network
(the address plan's user bench-failover, lab/addresses.yml), deploys the real playbooks/site.yml per
profile, then runs every case x trial: the event on the master of the first VIP, then its
failback, each measured as its own phase by two clients in the client container (a new
connection per request, and 8 kept-alive connections) and the VIP watchers on both LBs
(lab/halb_lab/node/halb_probe.py). Writes results.json, table.md, one PNG per case
and profile and the raw records (raw/*.json.gz) to --out.

The pure parts (cases, profiles, statistics, the table, the timeline data) are tested in
lab/tests/test_bench_failover.py; everything that touches podman is below `# lab`.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import json
import math
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from halb_lab import REPO as ROOT
from halb_lab import addresses
from halb_lab import holders as _holders
from halb_lab.node import halb_probe as probe

PROBE_SRC = pathlib.Path(probe.__file__)

# --------------------------------------------------------------------------- the lab of the benchmark
# Addresses of its own: the address plan's user bench-failover (lab/addresses.yml, which
# `scripts/lab plan` checks against every other user of the network).
PLAN_USER = "bench-failover"
_PLAN = addresses.load().users[PLAN_USER]
#: node -> (container, address, kind): "lb" for the pair's nodes
NODES = {n.name: (n.container, n.address, "lb" if n.name in _PLAN.pair else "other") for n in _PLAN.nodes.values()}
VIPS = [v.address for v in _PLAN.vips]  # VI_1 mastered by lb1, VI_2 by lb2
VRID_BASE = _PLAN.vrids[0]
LABEL = "halb-pair-bench-failover"
TARGET, PEER = "lb1", "lb2"  # every case hits the master of the first VIP
PROBE_DST = "/usr/local/bin/halb_probe.py"
RUN_DIR = "/var/tmp/halb-bench"  # not /run: the files of a killed node survive its restart

# --------------------------------------------------------------------------- profiles (the one place)
# Timers the harness waits with (generous: 3 x the master-down interval and the check's detection).
PROFILES = {
    # quiet_s: how long a self-restoring event (a restart, a SIGKILL the drop-in restarts) must
    # leave the target alone with the VIP and its services active before it counts as over (a
    # SIGKILLed keepalived leaves a stale VIP: "the target holds it" alone proves nothing).
    "default": {"about": "the role's defaults (VRRPv2, advert 1 s)", "vars": {}, "freeze_s": 6.0, "timeout_s": 20.0, "quiet_s": 5.0},
    "fast": {"about": "VRRPv3, advert 0.1 s", "vars": None, "freeze_s": 2.0, "timeout_s": 12.0, "quiet_s": 2.0},
}
FAST_EXPLICIT = {
    "keepalived_vrrp_version": 3,
    "keepalived_advert_int": 0.1,
    # the nginx check at its fastest sane values (the role takes whole seconds)
    "keepalived_check_interval": 1,
    "keepalived_check_timeout": 1,
    "keepalived_check_fall": 1,
    "keepalived_check_rise": 1,
}


def role_has_profile(*texts: str) -> bool:
    """Does the keepalived role (defaults/main.yml or meta/argument_specs.yml) know keepalived_profile?"""
    return any(line.strip().startswith("keepalived_profile:") for text in texts for line in text.splitlines())


def profile_vars(name: str, role_texts: tuple[str, ...]) -> tuple[dict, str]:
    """Inventory variables of a profile, and how they were chosen (printed)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    if name == "default":
        return {}, "default: the role's defaults (VRRPv2, advert 1 s)"
    if role_has_profile(*role_texts):
        return {"keepalived_profile": "fast"}, "fast: keepalived_profile: fast (the role has the switch)"
    return dict(FAST_EXPLICIT), "fast: explicit variables (the role has no keepalived_profile): " + ", ".join(
        f"{k}={v}" for k, v in FAST_EXPLICIT.items()
    )


# --------------------------------------------------------------------------- cases (data)
def _exec(*cmd: str) -> list[str]:
    return ["podman", "exec", "{c}", *cmd]


@dataclasses.dataclass(frozen=True)
class Case:
    """One unplanned failure on the target node.

    event:    commands run from the controller ({c} = the target's container); t_event is
              taken just before the first
    hold:     "freeze" = sleep the profile's freeze_s between event and recovery
    after:    who should hold the first VIP when the event has played out: "peer" (it moved)
              or "self" (the event restores itself, e.g. a restart)
    recover:  the commands of the failback (its own phase), None when "self" needs none
    down:     the event takes the whole container down (its watchers die with it)
    boots:    the recovery boots the container (wait for systemd and the services)
    note_unit: a unit whose state just before recovery is recorded (did something restart it?)
    """

    name: str
    about: str
    event: tuple
    after: str
    recover: tuple | None = None
    hold: str | None = None
    down: bool = False
    boots: bool = False
    note_unit: str | None = None


CASES = [
    Case("node_killed", "node dies (podman kill)", (["podman", "kill", "{c}"],), "peer", (["podman", "start", "{c}"],), down=True, boots=True),
    Case(
        "node_frozen",
        "node frozen beyond the master-down interval (podman pause, unpause)",
        (["podman", "pause", "{c}"],),
        "peer",
        (["podman", "unpause", "{c}"],),
        hold="freeze",
    ),
    Case("nginx_stopped", "systemctl stop nginx", (_exec("systemctl", "stop", "nginx"),), "peer", (_exec("systemctl", "start", "nginx"),)),
    Case(
        "nginx_killed",
        "nginx SIGKILL (systemctl kill -s KILL nginx)",
        (_exec("systemctl", "kill", "-s", "KILL", "nginx"),),
        "peer",
        (_exec("systemctl", "start", "nginx"),),
        note_unit="nginx",
    ),
    Case(
        "keepalived_killed",
        "keepalived SIGKILL (systemctl kill -s KILL keepalived)",
        (_exec("systemctl", "kill", "-s", "KILL", "keepalived"),),
        "self",
        (_exec("systemctl", "start", "keepalived"),),
        note_unit="keepalived",
    ),
    Case(
        "keepalived_stopped",
        "systemctl stop keepalived",
        (_exec("systemctl", "stop", "keepalived"),),
        "peer",
        (_exec("systemctl", "start", "keepalived"),),
    ),
    Case("keepalived_restarted", "systemctl restart keepalived", (_exec("systemctl", "restart", "keepalived"),), "self"),
    Case("nginx_restarted", "systemctl restart nginx", (_exec("systemctl", "restart", "nginx"),), "self"),
    Case("reboot", "reboot (podman stop, podman start)", (["podman", "stop", "{c}"],), "peer", (["podman", "start", "{c}"],), down=True, boots=True),
]
CASE_BY_NAME = {c.name: c for c in CASES}


def select(names: str, known: dict, what: str) -> list:
    """The named entries of `known` in the given order (all of them for an empty string)."""
    picked = [n.strip() for n in names.split(",") if n.strip()] or list(known)
    unknown = [n for n in picked if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in picked]


def fill(cmd: list[str], container: str) -> list[str]:
    return [container if a == "{c}" else a for a in cmd]


# --------------------------------------------------------------------------- pure: records -> figures
def stitch_watch(segments: list[list[dict]], downs: list[float], t_end: float) -> list[dict]:
    """One node's watch records from its watcher segments (a new watcher after each restart
    of the container). Before segment k > 0 the node was down from downs[k-1]: a dead
    container holds no address. Only the last segment keeps its end record; when the last
    segment is empty (the node never came back) it ends at t_end, holding nothing."""
    out: list[dict] = []
    for k, seg in enumerate(segments):
        if k > 0:
            out.append({"t": downs[k - 1], "present": False})
        out.extend({kk: v for kk, v in r.items() if kk != "end"} if k < len(segments) - 1 else r for r in seg)
    if len(segments) > 1 and not segments[-1]:
        out.append({"t": t_end, "present": False, "end": True})
    return out


def cut_watch(recs: list[dict], t0: float | None, t1: float | None) -> list[dict]:
    """Records limited to [t0, t1]: the state at t0 first, an end record at t1."""
    recs = sorted(recs, key=lambda r: r["t"])
    if not recs:
        return []
    state = None
    out = []
    for r in recs:
        if t0 is not None and r["t"] <= t0:
            state = r["present"]
            continue
        if t1 is not None and r["t"] >= t1:
            break
        out.append({"t": r["t"], "present": r["present"]})
    if t0 is not None:
        first = state if state is not None else recs[0]["present"]
        out.insert(0, {"t": t0, "present": first})
    last_t = t1 if t1 is not None else recs[-1]["t"]
    if t1 is not None and recs[-1]["t"] < t1:
        last_t = recs[-1]["t"]  # the node was not observed up to t1
    out.append({"t": last_t, "present": out[-1]["present"] if out else recs[-1]["present"], "end": True})
    return out


def phases(trial: dict) -> list[tuple[str, float, float]]:
    """(phase, start, end) of a trial: the event up to the recovery, then the failback."""
    t_end = trial["t_end"]
    if trial.get("t_recover") is None:
        return [("event", trial["t_event"], t_end)]
    return [("event", trial["t_event"], trial["t_recover"]), ("failback", trial["t_recover"], t_end)]


CLIENTS = ("conn", "keepalive")


def trial_summaries(trial: dict) -> list[dict]:
    """One summary per phase and client (halb_probe.summarise on the phase's records)."""
    out = []
    watches = trial["watches"][VIPS[0]]
    for phase, t0, t1 in phases(trial):
        expect = (PEER if trial["after"] == "peer" else TARGET) if phase == "event" else TARGET
        cut = {node: cut_watch(recs, t0 - 5.0, t1) for node, recs in watches.items()}
        for client in CLIENTS:
            reqs = [r for r in trial["requests"].get(client, []) if (phase == "event" or r["t"] >= t0) and r["t"] < t1]
            s = probe.summarise(reqs, cut, t0, expect)
            s.update(profile=trial["profile"], case=trial["case"], trial=trial["trial"], phase=phase, client=client)
            out.append(s)
    return out


def percentile(xs: list, q: float) -> float | None:
    """Nearest-rank percentile; None (a failure that never recovered) counts as infinite."""
    vals = sorted(math.inf if x is None else float(x) for x in xs)
    if not vals:
        return None
    return vals[max(0, math.ceil(q * len(vals)) - 1)]


def aggregate(summaries: list[dict]) -> list[dict]:
    """Per profile, case and phase over the trials: both clients' figures, VIP figures."""
    groups: dict[tuple, list[dict]] = {}
    order: list[tuple] = []
    for s in summaries:
        key = (s["profile"], s["case"], s["phase"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(s)
    out = []
    for key in order:
        rows = groups[key]
        agg = {"profile": key[0], "case": key[1], "phase": key[2]}
        for client in CLIENTS:
            cs = [r for r in rows if r["client"] == client]
            win = [r["error_window_s"] for r in cs]
            agg[client] = {
                "trials": len(cs),
                "failed": sum(r["failed"] for r in cs),
                "total": sum(r["requests"] for r in cs),
                "window_p50": percentile(win, 0.5),
                "window_p95": percentile(win, 0.95),
                "window_max": percentile(win, 1.0),
            }
        vip = [r for r in rows if r["client"] == CLIENTS[0]]
        agg["trials"] = len(vip)
        for f, name in (("no_holder_s", "no_holder"), ("multi_holder_s", "two_holders")):
            agg[f"{name}_p50"] = percentile([r[f] for r in vip], 0.5)
            agg[f"{name}_p95"] = percentile([r[f] for r in vip], 0.95)
        out.append(agg)
    return out


def _f(x: float | None) -> str:
    if x is None:
        return "–"
    if math.isinf(x):
        return "never"
    return f"{x:.2f}"


def markdown_table(aggs: list[dict], abouts: dict[str, str] | None = None) -> str:
    """The table for the README: one row per case, phase and profile."""
    abouts = abouts or {}
    head = (
        "| case | phase | profile | trials | new conn failed/total | window p50 / p95 / max s "
        "| kept-alive failed/total | window p50 / p95 / max s | no holder p50 / p95 s | two holders p50 / p95 s |"
    )
    lines = [head, "|" + "---|" * 10]
    for a in aggs:
        cells = [abouts.get(a["case"], a["case"]), a["phase"], a["profile"], str(a["trials"])]
        for client in CLIENTS:
            c = a[client]
            cells.append(f"{c['failed']}/{c['total']}")
            cells.append(f"{_f(c['window_p50'])} / {_f(c['window_p95'])} / {_f(c['window_max'])}")
        cells.append(f"{_f(a['no_holder_p50'])} / {_f(a['no_holder_p95'])}")
        cells.append(f"{_f(a['two_holders_p50'])} / {_f(a['two_holders_p95'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def holding_bars(recs: list[dict], t_ref: float) -> list[tuple[float, float]]:
    """(start, length) of every span a node held the address, relative to t_ref."""
    recs = sorted(recs, key=lambda r: r["t"])
    bars = []
    since = None
    for r in recs:
        if r["present"] and since is None:
            since = r["t"]
        elif not r["present"] and since is not None:
            bars.append((since - t_ref, r["t"] - since))
            since = None
    if since is not None and recs:
        bars.append((since - t_ref, recs[-1]["t"] - since))
    return [(round(s, 3), round(d, 3)) for s, d in bars if d > 0]


def timeline_data(trial: dict) -> dict:
    """What the picture shows, times relative to the event: a bar per VIP and LB, the
    failed requests of each client, the event and recovery marks."""
    t_ref = trial["t_event"]
    rows = []
    for vip in VIPS:
        for node in (TARGET, PEER):
            rows.append({"label": f"{vip} on {node}", "bars": holding_bars(trial["watches"].get(vip, {}).get(node, []), t_ref)})
    fails = {c: [round(r["t"] - t_ref, 3) for r in trial["requests"].get(c, []) if not r.get("ok")] for c in CLIENTS}
    totals = {c: len(trial["requests"].get(c, [])) for c in CLIENTS}
    marks = [(0.0, "event")]
    if trial.get("t_event_done") is not None:
        marks.append((round(trial["t_event_done"] - t_ref, 3), "event done"))
    if trial.get("t_recover") is not None:
        marks.append((round(trial["t_recover"] - t_ref, 3), "failback"))
    t0 = min([r["t"] for c in CLIENTS for r in trial["requests"].get(c, [])] or [t_ref])
    return {
        "title": f"{trial['case']} · profile {trial['profile']} · trial {trial['trial']}",
        "rows": rows,
        "fails": fails,
        "totals": totals,
        "marks": marks,
        "xlim": (round(t0 - t_ref, 3), round(trial["t_end"] - t_ref, 3)),
    }


def representative(trials: list[dict], summaries: list[dict]) -> dict:
    """The trial whose event-phase error window (new connections) is the median one."""
    win = {s["trial"]: s["error_window_s"] for s in summaries if s["phase"] == "event" and s["client"] == "conn"}
    ranked = sorted(trials, key=lambda t: (math.inf if win.get(t["trial"]) is None else win[t["trial"]], t["trial"]))
    return ranked[(len(ranked) - 1) // 2]


class Quiet:
    """Has a condition held without a break for `quiet` seconds? Fed (time, holds) samples."""

    def __init__(self, quiet: float):
        self.quiet, self.since = quiet, None

    def update(self, t: float, holds: bool) -> bool:
        if not holds:
            self.since = None
            return False
        if self.since is None:
            self.since = t
        return t - self.since >= self.quiet


def budget_left(started: float, max_s: float, now: float, profiles_left: int) -> float:
    """Seconds the current profile may still use: an equal share of what is left."""
    return max(0.0, (max_s - (now - started)) / max(1, profiles_left))


# --------------------------------------------------------------------------- picture
def plot(data: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    names = {"conn": "new conn", "keepalive": "kept-alive"}
    labels = [r["label"] for r in rows] + [f"failed, {names[c]} ({len(data['fails'][c])}/{data['totals'][c]})" for c in CLIENTS]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    colours = {TARGET: "tab:blue", PEER: "tab:orange"}
    n = len(labels)
    for i, r in enumerate(rows):
        y = n - 1 - i
        ax.broken_barh(r["bars"], (y - 0.35, 0.7), color=colours[r["label"].split()[-1]])
    for j, c in enumerate(CLIENTS):
        y = n - 1 - len(rows) - j
        xs = data["fails"][c]
        ax.plot(xs, [y] * len(xs), "|", color="tab:red", markersize=12)
    for k, (x, what) in enumerate(data["marks"]):
        ax.axvline(x, color="black" if what == "event" else "grey", linestyle="-" if what == "event" else "--", linewidth=1)
        ax.text(x, n - 0.45 + 0.3 * (k % 2), f" {what}", fontsize=8, ha="left", va="bottom")
    ax.set_yticks(range(n))
    ax.set_yticklabels(list(reversed(labels)), fontsize=8)
    ax.set_ylim(-0.7, n + 0.5)
    ax.set_xlim(*data["xlim"])
    ax.set_xlabel("seconds from the event")
    ax.set_title(data["title"], fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- lab
def log(msg: str) -> None:
    print(f"\033[1m[bench failover]\033[0m {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)}: rc={res.returncode}: {(res.stderr or res.stdout).strip()[-500:]}")
    return res


def sh(container: str, script: str, timeout: float = 30, check: bool = True) -> str:
    return run(["podman", "exec", container, "sh", "-c", script], timeout=timeout, check=check).stdout


def parallel(fn, items):
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as ex:
        return list(ex.map(fn, items))


def cname(node: str) -> str:
    return NODES[node][0]


def teardown() -> None:
    run(["podman", "rm", "-f", "-t", "3", *(c for c, _, _ in NODES.values())], timeout=120, check=False)


def start_nodes() -> None:
    teardown()
    lib = ROOT / "lab" / "lib"
    for node, (c, ip, kind) in NODES.items():
        script = f'. {lib}/podman-env.sh && . {lib}/engine.sh && halb_run_node "$@"'
        run(["bash", "-c", script, "bash", c, f"bf-{node}", ip, LABEL, kind], timeout=120)
    for node in NODES:
        wait_systemd(cname(node), 60)
    for c, _, _ in NODES.values():
        run(["podman", "cp", str(PROBE_SRC), f"{c}:{PROBE_DST}"])
        sh(c, f"chmod 0755 {PROBE_DST}; mkdir -p {RUN_DIR}")


def wait_systemd(c: str, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        res = run(["podman", "exec", c, "systemctl", "is-system-running"], timeout=10, check=False)
        if res.stdout.strip() in ("running", "degraded"):
            return True
        time.sleep(0.3)
    return False


def write_inventory(d: pathlib.Path, pvars: dict) -> None:
    (d / "group_vars").mkdir(parents=True, exist_ok=True)
    hosts = {
        "all": {
            "vars": {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"},
            "children": {
                "lb": {"hosts": {n: {"ansible_host": cname(n)} for n in (TARGET, PEER)}},
                "web": {"hosts": {n: {"ansible_host": cname(n)} for n in ("web1", "web2")}},
            },
        }
    }
    # keepalived_vips and keepalived_vrid_base: the vars plugin gives them from the plan (plan_env)
    lb = {
        "keepalived_topology": "dual_master",
        "keepalived_interface": "eth0",
        "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": NODES[w][1], "port": 80} for w in ("web1", "web2")]}],
        "nginx_lb_servers": [{"listen": ["80"], "upstream": "web"}],
        **pvars,
    }
    # JSON is YAML: no quoting questions
    (d / "hosts.yml").write_text(json.dumps(hosts, indent=1) + "\n")
    (d / "group_vars" / "lb.yml").write_text(json.dumps(lb, indent=1) + "\n")


def plan_env(inv: pathlib.Path) -> dict[str, str]:
    """The environment that makes inv the plan user bench-failover's for the vars plugin
    lab/plugins/vars/halb_lab_plan.py (its VIPs, VRIDs and each node's lab_ip)."""
    return dict(os.environ, HALB_LAB_PLAN_USER=PLAN_USER, HALB_LAB_PLAN_INVENTORY=str(inv))


def deploy(inv: pathlib.Path, logfile: pathlib.Path) -> float:
    t0 = time.time()
    with open(logfile, "w", encoding="utf-8") as out:
        res = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), str(ROOT / "playbooks" / "site.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
            cwd=ROOT,
            env=plan_env(inv),
        )
    if res.returncode != 0:
        raise RuntimeError(f"site.yml failed (rc={res.returncode}); see {logfile}:\n" + "".join(logfile.read_text().splitlines(True)[-30:]))
    return time.time() - t0


def holders(vip: str) -> list[str]:
    return _holders.read([vip], {n: cname(n) for n in (TARGET, PEER)})[vip]


def wait_holder(vip: str, node: str, timeout: float) -> tuple[bool, float]:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if holders(vip) == [node]:
            return True, time.time() - t0
        time.sleep(0.1)
    return False, time.time() - t0


def wait_quiet(vip: str, node: str, quiet: float, timeout: float) -> bool:
    """Until `node` has held `vip` alone, with nginx and keepalived active, for `quiet` s."""
    q = Quiet(quiet)
    t0 = time.time()
    while time.time() - t0 < timeout:
        ok = holders(vip) == [node] and services_active(node)
        if q.update(time.time(), ok):
            return True
        time.sleep(0.1)
    return False


def services_active(node: str) -> bool:
    res = run(["podman", "exec", cname(node), "systemctl", "is-active", "nginx", "keepalived"], timeout=10, check=False)
    return res.returncode == 0


def healthy(timeout: float) -> bool:
    """Both LBs up with nginx and keepalived, each VIP on its own master alone."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(parallel(services_active, [TARGET, PEER])) and holders(VIPS[0]) == [TARGET] and holders(VIPS[1]) == [PEER]:
            return True
        time.sleep(0.3)
    return False


def repair() -> None:
    for node in (TARGET, PEER):
        c = cname(node)
        st = run(["podman", "inspect", "-f", "{{.State.Status}}", c], check=False).stdout.strip()
        if st == "paused":
            run(["podman", "unpause", c], check=False)
        elif st != "running":
            run(["podman", "start", c], check=False)
            wait_systemd(c, 60)
        run(["podman", "exec", c, "systemctl", "start", "nginx", "keepalived"], check=False)


class Probes:
    """The probes of one trial: two clients in the client container, a watcher per VIP on
    each LB (new segments after a node comes back)."""

    def __init__(self, tag: str, max_seconds: float, watch_interval: float = 0.02, max_count: int = 20000):
        self.tag, self.max_s, self.watch_interval, self.max_count = tag, max_seconds, watch_interval, max_count
        self.stop = f"{RUN_DIR}/{tag}.stop"
        self.segments: dict[str, int] = {TARGET: 0, PEER: 0}
        self.downs: dict[str, list[float]] = {TARGET: [], PEER: []}

    def _unit(self, c: str, unit: str, argv: list[str], out: str, interval: float, max_count: int) -> str:
        # DefaultDependencies=no: not stopped early in a shutdown, so a watcher sees keepalived
        # let go of the VIP during a reboot (it dies in the final kill, with the container)
        cmd = ["systemd-run", "--quiet", "--collect", f"--unit={unit}", "-p", "DefaultDependencies=no", "python3", PROBE_DST, *argv]
        cmd += ["--out", out, "--stop-file", self.stop]
        cmd += ["--interval", str(interval), "--max-seconds", str(self.max_s), "--max-count", str(max_count)]
        return f"systemctl reset-failed {unit} 2>/dev/null; rm -f {out}; {shlex.join(cmd)} || exit 1; "

    @staticmethod
    def _wait_first(outs: list[str]) -> str:
        return "".join(f"i=0; while [ ! -s {o} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; test -s {o} || exit 1; " for o in outs)

    def watch_file(self, node: str, vip_i: int, seg: int) -> str:
        return f"{RUN_DIR}/{self.tag}.watch{vip_i}.{seg}.jsonl"

    def start_watchers(self, node: str, attempts: int = 1) -> None:
        seg = self.segments[node]
        script, outs = f"mkdir -p {RUN_DIR}; rm -f {self.stop}; ", []
        for i, vip in enumerate(VIPS):
            out = self.watch_file(node, i, seg)
            # the first VIP closely (20 ms), the other one enough for the picture
            interval = self.watch_interval if i == 0 else max(0.1, self.watch_interval)
            script += self._unit(cname(node), f"halb-bf-watch{i}-{self.tag}-{seg}", ["watch", "--addr", vip], out, interval, self.max_count)
            outs.append(out)
        script += self._wait_first(outs)
        for n in range(attempts):
            res = run(["podman", "exec", cname(node), "sh", "-c", script], timeout=30, check=n == attempts - 1)
            if res.returncode == 0:
                return
            time.sleep(0.2)

    def start(self) -> None:
        url = f"http://{VIPS[0]}/"
        c = cname("client")
        f = {k: f"{RUN_DIR}/{self.tag}.{k}.jsonl" for k in CLIENTS}
        script = f"mkdir -p {RUN_DIR}; rm -f {self.stop}; "
        script += self._unit(c, f"halb-bf-conn-{self.tag}", ["client", "--url", url], f["conn"], 0.05, self.max_count)
        ka = ["client-keepalive", "--url", url, "--connections", "8"]
        script += self._unit(c, f"halb-bf-ka-{self.tag}", ka, f["keepalive"], 0.05, self.max_count)
        script += self._wait_first([f["conn"], f["keepalive"]])
        jobs = [lambda: self.start_watchers(TARGET), lambda: self.start_watchers(PEER), lambda: run(["podman", "exec", c, "sh", "-c", script])]
        parallel(lambda j: j(), jobs)

    def node_down(self, node: str, t: float) -> None:
        self.downs[node].append(t)
        self.segments[node] += 1

    def collect(self) -> tuple[dict, dict]:
        """Stop every probe, read its records."""

        def stop(c: str) -> str:
            return sh(
                c,
                f"touch {self.stop}; i=0; while systemctl list-units --state=active --plain --no-legend 'halb-bf-*{self.tag}*' | grep -q . "
                f"&& [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; systemctl stop 'halb-bf-*{self.tag}*' 2>/dev/null; true",
                check=False,
            )

        parallel(stop, [cname(n) for n in (TARGET, PEER, "client")])

        def read(c: str, path: str) -> list[dict]:
            return probe._read_jsonl(sh(c, f"cat {path} 2>/dev/null; true", check=False))

        requests = {k: read(cname("client"), f"{RUN_DIR}/{self.tag}.{k}.jsonl") for k in CLIENTS}
        watches: dict = {}
        for i, vip in enumerate(VIPS):
            watches[vip] = {}
            for node in (TARGET, PEER):
                segs = [read(cname(node), self.watch_file(node, i, s)) for s in range(self.segments[node] + 1)]
                watches[vip][node] = stitch_watch(segs, self.downs[node], time.time())
        for n in (TARGET, PEER, "client"):
            sh(cname(n), f"rm -f {RUN_DIR}/{self.tag}.*", check=False)
        return requests, watches


def run_trial(case: Case, profile: str, n: int, settle: float = 1.0) -> dict:
    prof = PROFILES[profile]
    c = cname(TARGET)
    tag = f"{case.name}-{profile}-{n}".replace("_", "-")
    p = Probes(tag, max_seconds=150)
    trial = {"profile": profile, "case": case.name, "trial": n, "after": case.after, "notes": {}}
    p.start()
    time.sleep(1.0)  # baseline
    trial["t_event"] = time.time()
    for cmd in case.event:
        res = run(fill(cmd, c), timeout=120, check=False)
        trial["notes"].setdefault("event_rc", []).append(res.returncode)
    trial["t_event_done"] = time.time()
    if case.down:
        p.node_down(TARGET, trial["t_event_done"])
    if case.hold == "freeze":
        time.sleep(max(0.0, prof["freeze_s"] - (time.time() - trial["t_event"])))
    elif case.after == "peer":
        ok, _waited = wait_holder(VIPS[0], PEER, prof["timeout_s"])
        trial["notes"]["event_settled"] = ok
        time.sleep(settle)
    else:
        trial["notes"]["event_settled"] = wait_quiet(VIPS[0], TARGET, prof["quiet_s"], prof["timeout_s"] + prof["quiet_s"])
    if case.note_unit:
        res = run(["podman", "exec", c, "systemctl", "is-active", case.note_unit], check=False)
        trial["notes"][f"{case.note_unit}_before_recovery"] = res.stdout.strip()
    trial["t_recover"] = None
    if case.recover:
        trial["t_recover"] = time.time()
        for cmd in case.recover:
            res = run(fill(cmd, c), timeout=120, check=False)
            trial["notes"].setdefault("recover_rc", []).append(res.returncode)
        trial["t_recover_done"] = time.time()
        if case.boots:
            p.start_watchers(TARGET, attempts=150)
            trial["notes"]["booted"] = wait_systemd(c, 60)
        ok, _waited = wait_holder(VIPS[0], TARGET, prof["timeout_s"] + (30 if case.boots else 0))
        trial["notes"]["failback_settled"] = ok
        time.sleep(settle)
    trial["t_end"] = time.time()
    trial["requests"], trial["watches"] = p.collect()
    return trial


# --------------------------------------------------------------------------- soak
def transitions(journal: str) -> list[str]:
    """keepalived's state changes in its journal ("(VI_1) Entering MASTER STATE", ...)."""
    return [line.strip() for line in journal.splitlines() if "Entering " in line and " STATE" in line.upper()]


def holder_changes(recs: list[dict]) -> int:
    """How often a watcher saw its node take or let go of the VIP (the first record is the
    state at the start, not a change)."""
    recs = sorted(recs, key=lambda r: r["t"])
    return sum(1 for a, b in itertools.pairwise(recs) if a["present"] != b["present"])


def soak(profile: str, minutes: float, out: pathlib.Path) -> dict:
    """Both LBs' CPUs saturated (one busy loop per CPU in each LB, bounded by RuntimeMaxSec)
    for `minutes`, both clients through VI_1 all along: keepalived's transitions, VIP moves
    and failed requests (the goal: none of each)."""
    secs = minutes * 60
    ncpu = os.cpu_count() or 2
    tag = f"soak-{profile}"
    t0 = time.time()
    burn = "".join(
        f"systemd-run --quiet --collect --unit=halb-bf-burn{i} -p RuntimeMaxSec={int(secs) + 5} sh -c 'while :; do :; done'; " for i in range(ncpu)
    )
    p = Probes(tag, max_seconds=secs + 60, watch_interval=0.05, max_count=int((secs + 60) / 0.05) + 100)
    p.start()
    parallel(lambda n: sh(cname(n), burn), [TARGET, PEER])
    log(f"soak {profile}: {ncpu} busy loop(s) in each LB for {minutes:g} min")
    time.sleep(secs)
    parallel(lambda n: sh(cname(n), "systemctl stop 'halb-bf-burn*' 2>/dev/null; true", check=False), [TARGET, PEER])
    requests, watches = p.collect()
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0))
    journals = {n: sh(cname(n), f"journalctl -u keepalived --since '{since}' --no-pager -o cat; true", check=False) for n in (TARGET, PEER)}
    res = {
        "profile": profile,
        "minutes": minutes,
        "cpus_burnt_per_lb": ncpu,
        "transitions": {n: transitions(j) for n, j in journals.items()},
        "vip_changes": {vip: {n: holder_changes(r) for n, r in w.items()} for vip, w in watches.items()},
        "clients": {k: {"failed": sum(1 for r in v if not r.get("ok")), "total": len(v)} for k, v in requests.items()},
    }
    (out / f"soak-{profile}.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench failover", description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--profiles", default="default,fast")
    ap.add_argument("--cases", default="")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "bench" / "failover"))
    ap.add_argument("--max-minutes", type=float, default=60.0)
    ap.add_argument("--list", action="store_true", help="list the cases and profiles, start nothing")
    ap.add_argument("--soak", type=float, default=0.0, metavar="MINUTES", help="instead of the cases: a soak of MINUTES, both LBs' CPUs saturated")
    ap.add_argument("--teardown", action="store_true", help="remove the benchmark's containers (scripts/bench's trap)")
    args = ap.parse_args(argv)
    if args.teardown:
        teardown()
        return 0
    cases = select(args.cases, CASE_BY_NAME, "case")
    profiles = [p for p in args.profiles.split(",") if p.strip()] or list(PROFILES)
    select(",".join(profiles), PROFILES, "profile")
    kd = ROOT / "roles" / "keepalived"
    role_texts = tuple((kd / f).read_text() for f in ("defaults/main.yml", "meta/argument_specs.yml") if (kd / f).exists())
    if args.list:
        for case in cases:
            print(f"{case.name:22} {case.about}")
        for prof in profiles:
            print("profile", profile_vars(prof, role_texts)[1])
        return 0
    out = pathlib.Path(args.out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    started = time.time()
    max_s = args.max_minutes * 60
    summaries: list[dict] = []
    trials_by: dict[tuple, list[dict]] = {}
    meta = {"started": started, "trials_asked": args.trials, "profiles": {}, "cases": [c.name for c in cases], "stopped_early": False}
    try:
        log("starting the benchmark's nodes: " + ", ".join(f"{n} {ip}" for n, (_, ip, _) in NODES.items()))
        start_nodes()
        for pi, prof in enumerate(profiles):
            pvars, how = profile_vars(prof, role_texts)
            log(f"profile {how}")
            with tempfile.TemporaryDirectory() as tmp:
                inv = pathlib.Path(tmp) / "inv"
                write_inventory(inv, pvars)
                took = deploy(inv, out / f"deploy-{prof}.log")
            log(f"deployed site.yml in {took:.0f} s")
            if not healthy(30):
                log("not healthy after the deploy: restarting keepalived on both")
                for node in (PEER, TARGET):
                    run(["podman", "exec", cname(node), "systemctl", "restart", "keepalived"], check=False)
                if not healthy(30):
                    raise RuntimeError(f"profile {prof}: VIPs not on their masters after the deploy: {holders(VIPS[0])} / {holders(VIPS[1])}")
            meta["profiles"][prof] = {"how": how, "vars": pvars, "trials_done": 0, "trials_run": 0}
            if args.soak > 0:
                r = soak(prof, args.soak, out)
                n_tr = sum(len(v) for v in r["transitions"].values())
                log(
                    f"soak {prof} {args.soak:g} min, CPUs saturated: {n_tr} keepalived transition(s) {r['transitions']}; "
                    f"VIP changes {r['vip_changes']}; clients "
                    + ", ".join(f"{k} {c['failed']}/{c['total']} failed" for k, c in r["clients"].items())
                )
                meta["profiles"][prof]["soak"] = r
                continue
            p_start, p_stopped = time.time(), False
            p_budget = budget_left(started, max_s, p_start, len(profiles) - pi)
            for n in range(1, args.trials + 1):
                if p_stopped:
                    break
                for case in cases:
                    if time.time() - p_start > p_budget:
                        p_stopped = meta["stopped_early"] = True
                        log(f"profile {prof}: its time ({p_budget / 60:.1f} min) is used up in round {n}, before {case.name}; stopping it")
                        break
                    if not healthy(30):
                        log("not healthy before the trial: repairing")
                        repair()
                        if not healthy(60):
                            raise RuntimeError("the pair does not come back to its healthy state")
                    trial = run_trial(case, prof, n)
                    with gzip.open(out / "raw" / f"{prof}-{case.name}-{n}.json.gz", "wt", encoding="utf-8") as fh:
                        json.dump(trial, fh)
                    ss = trial_summaries(trial)
                    for s in ss:
                        s["notes"] = trial["notes"]
                    summaries += ss
                    trials_by.setdefault((prof, case.name), []).append(trial)
                    meta["profiles"][prof]["trials_run"] += 1
                    brief = "; ".join(
                        f"{s['phase']}/{s['client']} {s['failed']}/{s['requests']} win {_f(s['error_window_s'])}"
                        f" none {_f(s['no_holder_s'])} two {_f(s['multi_holder_s'])}"
                        for s in ss
                    )
                    log(f"{prof} {case.name} #{n}: {brief} {trial['notes']}")
                if not p_stopped:
                    meta["profiles"][prof]["trials_done"] = n
    finally:
        teardown()
        aggs = aggregate(summaries)
        abouts = {c.name: c.about for c in CASES}
        table = markdown_table(aggs, abouts)
        meta["finished"] = time.time()
        meta["minutes"] = round((meta["finished"] - started) / 60, 1)
        (out / "results.json").write_text(json.dumps({"meta": meta, "aggregates": aggs, "trials": summaries}, indent=1, default=str) + "\n")
        head = "\n".join(
            f"- profile {m['how']} ({m['trials_done']} full round(s), {m['trials_run']} trial(s) in all)" for m in meta["profiles"].values()
        )
        (out / "table.md").write_text(head + "\n\n" + table)
        for (prof, case_name), trials in trials_by.items():
            pick = representative(trials, [s for s in summaries if s["profile"] == prof and s["case"] == case_name])
            try:
                plot(timeline_data(pick), out / f"{prof}-{case_name}.png")
            except Exception as exc:  # a picture must not lose the figures
                log(f"picture {prof}-{case_name}: {exc}")
        print(head + "\n\n" + table)
        log(f"{meta['minutes']} min; " + ", ".join(f"{p}: {m['trials_run']} trial(s)" for p, m in meta["profiles"].items()) + f"; written to {out}")
        if meta["stopped_early"]:
            log("stopped early: the time bound (--max-minutes) was reached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
