"""Every operation the README documents, end to end against the running lab, each under
holder watchers: who holds each VIP is polled every 20 ms inside both LBs (halb_probe
watch) while a client in the client container sends a request through the VIP every
50 ms. Each operation is judged by the nodes' state and the watchers, never by the
command's own output:

- two holders and no holder of either VIP during the operation: 0 s (the expected value),
  within what the watchers can resolve (RESOLUTION below);
- after it: each VIP on its preferred master alone, or on the node the operation moved it to;
- Ctrl-C on the controller during a drain over a real SSH session: lb1's drain file back
  to 0 within 10 s (the module's own timeout is 60 s);
- the LBs' watchers (halb-pair-watch) count nothing during any of them: a planned operation
  raises no alarm;
- leave.yml -e node=lb2: nothing of the keepalived role left on lb2 (service, guard table,
  files, units, VIPs), every VIP on lb1; a rerun changes nothing; site.yml brings lb2 back;
- after the failed run and its rerun: keepalived on every LB runs what the inventory asks
  (its own state dump, not the role's checksum), the guard table is there on every LB
  with both LBs' addresses.

Prints one line per operation (two-holder / no-holder seconds, failed/total requests)
and a table; exits 1 when any holder figure is above 0 or a state check fails.
nginx restarted on both nodes at once is judged like the rest: the hand-over of a
stopping node does not count a leaving peer as healthy (issue 17, finding 7), so one of
them keeps the VIPs. Its failed requests (nginx itself restarting) are printed.

  scripts/lab up && .venv/bin/python lab/halb_lab/operations.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

from halb_lab import LAB, NODE, REPO, addresses
from halb_lab import holders as _holders

PODMAN = str(LAB / "bin" / "podman")
PLAYBOOK = str(REPO / ".venv" / "bin" / "ansible-playbook")
PROBE = NODE / "halb_probe.py"
PY = sys.executable
INV = ["-i", str(LAB / "inventory")]
#: the lab's part of the address plan (lab/addresses.yml, user `lab`)
PLAN = addresses.load().users["lab"]
#: the pair's nodes -> their containers, and the client's container
LBS = {n: PLAN.nodes[n].container for n in PLAN.pair}
CLIENT = PLAN.nodes[PLAN.smtp].container
#: Each LB's address, where its watcher answers (keepalived_watch_port)
ADDRESSES = {n: PLAN.address(n) for n in LBS}
WATCH_PORT = 9654
#: VIP -> its preferred master (dual_master, lb1 first)
VIPS = {v.address: v.master for v in PLAN.vips}
RESULTS = REPO / ".cache" / "results" / "operations.jsonl"
#: What the watchers can tell from 0: each polls every 20 ms on its own node, so a VIP that
#: moves make-before-break (the new holder adds it, then the old one lets go, a few ms apart)
#: shows as up to an interval or two of two holders, or of none, where the two polls straddle it.
RESOLUTION = 0.05


def sh(*argv: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
    return res


def node(name: str, *cmd: str, check: bool = True) -> str:
    return sh(PODMAN, "exec", LBS.get(name, name), *cmd, check=check).stdout


def playbook(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(PLAYBOOK, *INV, *args, check=check)


def probe(*args: str) -> dict:
    out = sh(PY, str(PROBE), *args, "--podman", PODMAN).stdout.strip().splitlines()
    return json.loads(out[-1]) if out else {}


def watch_args() -> list[str]:
    return [a for n, c in LBS.items() for a in ("--watch", f"{n}={c}")]


def holders() -> dict[str, list[str]]:
    return _holders.read(VIPS, LBS, _holders.engine_exec(PODMAN, timeout=30))


def settle(expect: dict[str, str], timeout: float = 20) -> dict[str, list[str]]:
    """Wait until each VIP has exactly the expected holder; the holders found."""
    t0 = time.time()
    while True:
        h = holders()
        if all(h[v] == [n] for v, n in expect.items()) or time.time() - t0 > timeout:
            return h
        time.sleep(0.3)


def measured(name: str, run, expect: dict[str, str] | None = None, watchers: tuple[str, ...] = tuple(LBS)) -> dict:
    """Run one operation under the watchers of both VIPs; its figures."""
    expect = dict(VIPS if expect is None else expect)
    tags = {v: f"ops{i}" for i, v in enumerate(VIPS)}
    for v, tag in tags.items():
        probe("start", "--tag", tag, "--client", CLIENT, "--url", f"http://{v}/", "--addr", v, "--max-seconds", "400", *watch_args())
    event = {"t_event": time.time()}
    error = ""
    try:
        run()
    except Exception as exc:  # reported with the figures
        error = str(exc).splitlines()[0]
    event["t_done"] = time.time()
    found = settle(expect)
    per_vip = {}
    for v, tag in tags.items():
        per_vip[v] = probe("stop", "--tag", tag, "--client", CLIENT, "--addr", v, "--expect", expect[v],
                           "--event", json.dumps(event), "--case", name, "--phase", "operation", "--scenario", "lab", *watch_args())
    two = round(sum(s["multi_holder_s"] or 0 for s in per_vip.values()), 3)
    none = round(sum(s["no_holder_s"] or 0 for s in per_vip.values()), 3)
    failed = sum(s["failed"] for s in per_vip.values())
    total = sum(s["requests"] for s in per_vip.values())
    placed = all(found[v] == [n] for v, n in expect.items())
    alarms = watcher_events(event["t_event"], watchers)
    row = {"operation": name, "seconds": round(event["t_done"] - event["t_event"], 1), "two_holders_s": two, "no_holder_s": none,
           "failed": failed, "requests": total, "placed": placed, "holders_after": found, "error": error, "watcher_events": alarms}
    row["ok"] = two <= RESOLUTION and none <= RESOLUTION and placed and not error and not alarms
    print(f"{'ok  ' if row['ok'] else 'FAIL'} {name}: two holders {two:.2f} s, no holder {none:.2f} s, "
          f"{failed}/{total} failed, {row['seconds']} s, watcher events {len(alarms)}; after: {found}{'; ' + error if error else ''}"
          + "".join(f"\n     watcher: {a}" for a in alarms), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
    return row


def watcher_events(since: float, watchers: tuple[str, ...] = tuple(LBS)) -> list[str]:
    """What the LBs' watchers counted (a problem started or ended, a guard put back) since
    ``since``: a planned operation must raise nothing. Each of ``watchers`` must answer (a
    silent watcher would count nothing); a node taken out of its pair has none."""
    out = []
    for n in LBS:
        res = sh(PODMAN, "exec", LBS[n], "curl", "-sf", "--max-time", "2", f"http://{ADDRESSES[n]}:{WATCH_PORT}/state", check=False)
        if res.returncode != 0:
            if n in watchers:
                out.append(f"{n}: its watcher does not answer")
            continue
        for ev in json.loads(res.stdout).get("events") or []:
            if ev["at"] >= since:
                out.append(f"{n}: {ev['kind']} {ev['event']} {ev['subject']} ({ev['reason']})")
    return out


def router_id(n: str) -> str:
    """The router_id keepalived runs with, from its own data dump (SIGUSR1)."""
    node(n, "sh", "-c", "rm -f /tmp/keepalived.data; systemctl kill -s USR1 keepalived; sleep 0.5")
    m = re.search(r"Router ID\s*=\s*(\S+)", node(n, "cat", "/tmp/keepalived.data"))
    node(n, "rm", "-f", "/tmp/keepalived.data")
    return m.group(1) if m else ""


def guard_peers(n: str) -> list[str]:
    out = node(n, "nft", "list", "table", "inet", "halb_pair_vrrp", check=False)
    m = re.search(r"elements = \{ ([^}]*) \}", out)
    return sorted(a.strip() for a in m.group(1).split(",")) if m else []


def refused_upgrade() -> None:
    """upgrade.yml asked for another advert interval: refused, naming it, before any node is drained."""
    run = playbook("playbooks/upgrade.yml", "-e", "keepalived_advert_int=2", check=False)
    out = run.stdout + run.stderr
    if run.returncode == 0 or "runs other pair-wide settings" not in out or "advert_int: 1.0 -> 2.0" not in out:
        raise RuntimeError(f"upgrade.yml with a pair-wide change was not refused as expected (exit {run.returncode})")
    if "Drain the node" in out and "TASK [halb.pair._pair : Move the node to state drained]" in out:
        raise RuntimeError("upgrade.yml drained a node before refusing the pair-wide change")


DRAIN_FILE = "/var/lib/halb-pair/drain"


def drain_value(n: str) -> str:
    return node(n, "cat", DRAIN_FILE).strip()


def interrupted_drain_over_ssh() -> None:
    """Ctrl-C on the controller while vrrp_failover waits on lb1, over a real SSH session
    (pipelined, no tty: no signal reaches the module). lb1's own address is the VIP it
    waits for, so the wait lasts until the interrupt; the drain moves lb1's VIP to lb2 in
    the meantime. The drain must be put back within seconds, not at the 60 s timeout."""
    key = REPO / ".cache" / "ssh-operations" / "id"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "halb-pair-operations", "-f", str(key))
    sh(PODMAN, "cp", f"{key}.pub", f"{LBS['lb1']}:/tmp/halb-operations.pub")
    node("lb1", "sh", "-c", "install -d -m 0700 /root/.ssh && install -m 0600 /tmp/halb-operations.pub /root/.ssh/authorized_keys"
         " && rm /tmp/halb-operations.pub && systemctl start ssh")
    address = ADDRESSES["lb1"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOST_KEY_CHECKING="False")
    argv = [str(REPO / ".venv" / "bin" / "ansible"), *INV, "lb1", "-b", "-m", "halb.pair.vrrp_failover",
            "-a", f"state=drained vips={address} timeout=60",
            "-e", "ansible_connection=ssh", "-e", f"ansible_host={address}", "-e", "ansible_user=root",
            "-e", f"ansible_ssh_private_key_file={key}", "-e", "ansible_pipelining=true",
            "-e", "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null'"]
    # its own process group: the SIGINT a terminal sends on Ctrl-C goes to ansible and its ssh
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 60
        while drain_value("lb1") != "-253":
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"vrrp_failover over SSH never drained lb1: {proc.communicate()[0][-1500:]}")
            time.sleep(0.2)
        time.sleep(2)  # the peer took the VIP; the module still waits
        os.killpg(proc.pid, 2)  # SIGINT, as Ctrl-C
        t0 = time.time()
        while drain_value("lb1") != "0" and time.time() - t0 < 10:
            time.sleep(0.1)
        after = drain_value("lb1")
        print(f"     Ctrl-C over SSH: drain file back to {after} {time.time() - t0:.2f} s after the interrupt", flush=True)
        if after != "0":
            node("lb1", "sh", "-c", f"echo 0 > {DRAIN_FILE}")
            raise RuntimeError(f"lb1 stayed drained ({after}) 10 s after Ctrl-C on the controller")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
        node("lb1", "sh", "-c", "systemctl stop ssh; rm -f /root/.ssh/authorized_keys", check=False)


def left_behind(n: str) -> list[str]:
    """What of halb.pair.keepalived is still on a node that left its pair."""
    out = []
    if node(n, "systemctl", "is-active", "keepalived", check=False).strip() == "active":
        out.append("keepalived runs")
    if node(n, "systemctl", "is-active", "halb-pair-watch", check=False).strip() == "active":
        out.append("its watcher runs")
    if node(n, "nft", "list", "table", "inet", "halb_pair_vrrp", check=False).strip():
        out.append("the guard's table is loaded")
    files = node(n, "sh", "-c", "ls -d /etc/keepalived/keepalived.conf /etc/keepalived/halb-pair-* /var/lib/halb-pair/drain "
                 "/etc/systemd/system/halb-pair-* /etc/systemd/system/keepalived.service.d/* "
                 "/etc/systemd/system/nginx.service.d/halb-pair-handover.conf /etc/sysctl.d/60-halb-pair.conf "
                 "/usr/local/libexec/halb-pair/handover /usr/local/libexec/halb-pair/crash-handover "
                 "/usr/local/libexec/halb-pair/watch /usr/local/libexec/halb-pair/halb_pair "
                 "/run/halb-pair/*.loaded 2>/dev/null", check=False).split()
    out += [f"{f} is there" for f in files]
    vips = [v for v in VIPS if v in node(n, "ip", "-4", "-o", "addr", "show", "dev", "eth0")]
    out += [f"it holds {v}" for v in vips]
    return out


def leave_lb2() -> None:
    playbook("playbooks/leave.yml", "-e", "node=lb2")
    left = left_behind("lb2")
    if left:
        raise RuntimeError("after leave.yml -e node=lb2: " + "; ".join(left))


def leave_again() -> None:
    """A rerun on the node already out changes nothing on it."""
    run = playbook("playbooks/leave.yml", "-e", "node=lb2")
    m = re.search(r"^lb2\s*:.*?changed=(\d+)", run.stdout, flags=re.M)
    if not m or m.group(1) != "0":
        raise RuntimeError(f"leave.yml again changed lb2 ({m.group(0) if m else 'no recap'})")


def main() -> int:
    for c in [CLIENT, *LBS.values()]:
        sh(PODMAN, "cp", str(PROBE), f"{c}:/usr/local/bin/halb_probe.py")
    RESULTS.unlink(missing_ok=True)
    problems: list[str] = []
    rows = [
        measured("site.yml (converged)", lambda: playbook("playbooks/site.yml")),
        measured("status.yml", lambda: playbook("playbooks/status.yml")),
        measured("failover.yml -e node=lb1", lambda: playbook("playbooks/failover.yml", "-e", "node=lb1"),
                 expect=dict.fromkeys(VIPS, "lb2")),
        measured("failover.yml -e node=lb1 -e restore=true", lambda: playbook("playbooks/failover.yml", "-e", "node=lb1", "-e", "restore=true")),
        measured("Ctrl-C during a drain (vrrp_failover over SSH)", interrupted_drain_over_ssh),
        measured("upgrade.yml (1st)", lambda: playbook("playbooks/upgrade.yml")),
        measured("upgrade.yml (2nd)", lambda: playbook("playbooks/upgrade.yml")),
        measured("upgrade.yml with a pair-wide change (refused before any drain)", refused_upgrade),
        measured("site.yml --limit lb1", lambda: playbook("playbooks/site.yml", "--limit", "lb1")),
        measured("password rotation (site.yml -e keepalived_auth_pass)",
                 lambda: playbook("playbooks/site.yml", "-e", "keepalived_auth_pass=rot8-pw")),
        measured("password back (site.yml)", lambda: playbook("playbooks/site.yml")),
        measured("systemctl restart nftables on lb1", lambda: node("lb1", "systemctl", "restart", "nftables")),
        measured("site.yml after the nftables restart", lambda: playbook("playbooks/site.yml")),
        measured("nginx restarted on both nodes at once",
                 lambda: sh("sh", "-c", " & ".join(f"{PODMAN} exec {c} systemctl restart nginx" for c in LBS.values()) + " & wait")),
    ]
    # A run that fails on one node after writing keepalived.conf on both and before the
    # service tasks (a directory where lb2's pair contract goes, the task after keepalived.conf:
    # writing it fails), then the rerun: what was written must be what runs on both nodes. Not
    # a file the watcher compares with what runs (keepalived.conf, the guard): that would be a
    # real drift for as long as the run takes, counted after 30 s on a loaded machine.
    def failing_run() -> None:
        if playbook("playbooks/site.yml", "-e", "keepalived_router_id=halb_ops_a", check=False).returncode == 0:
            raise RuntimeError("the run meant to fail on lb2 passed: the case proves nothing")

    contract = "/etc/keepalived/halb-pair-contract.json"
    node("lb2", "sh", "-c", f"mv {contract} {contract}.ops && mkdir {contract}")
    try:
        failed = measured("site.yml failing on lb2 (router_id changed)", failing_run)
    finally:
        node("lb2", "sh", "-c", f"rmdir {contract} && mv {contract}.ops {contract}")
    rows.append(failed)
    rows.append(measured("the rerun", lambda: playbook("playbooks/site.yml", "-e", "keepalived_router_id=halb_ops_a")))
    for n in LBS:
        rid = router_id(n)
        if rid != "halb_ops_a":
            problems.append(f"{n}: keepalived runs router_id {rid!r} after the rerun, expected 'halb_ops_a'")
    rows.append(measured("site.yml (router_id back)", lambda: playbook("playbooks/site.yml")))
    # A node taken out of its pair (make-before-break), the rerun, and the node back by site.yml.
    lb1_alone = dict.fromkeys(VIPS, "lb1")
    rows.append(measured("leave.yml -e node=lb2", leave_lb2, expect=lb1_alone, watchers=("lb1",)))
    rows.append(measured("leave.yml -e node=lb2 again (nothing left to change)", leave_again, expect=lb1_alone, watchers=("lb1",)))
    rows.append(measured("site.yml (lb2 joins again)", lambda: playbook("playbooks/site.yml")))
    for n in LBS:
        peers = guard_peers(n)
        if peers != [ADDRESSES["lb1"], ADDRESSES["lb2"]]:
            problems.append(f"{n}: guard table lets VRRP in from {peers}, expected both LBs")
    print("\noperation                                               two holders  no holder  failed/total  watcher events")
    for r in rows:
        print(f"{r['operation'][:55]:55} {r['two_holders_s']:10.2f} s {r['no_holder_s']:8.2f} s  {r['failed']}/{r['requests']}"
              f"  {len(r['watcher_events'])}{'' if r['ok'] else '  FAILED'}")
    problems += [f"{r['operation']}: two holders {r['two_holders_s']} s, no holder {r['no_holder_s']} s, placed {r['placed']} {r['error']}"
                 f"{'; watcher: ' + ' | '.join(r['watcher_events']) if r['watcher_events'] else ''}"
                 for r in rows if not r["ok"]]
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
