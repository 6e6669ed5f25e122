"""The watcher's benchmark, against the running lab (scripts/lab up): what it costs and how
fast it finds what it is for. Prints figures; asserts nothing about time.

  scripts/bench watch [--trials N] [--soak MINUTES] [--cpu SECONDS] [--out FILE]

- cost: each LB's watcher over --cpu seconds (default 60): CPU time of the process and of
  the commands it runs (/proc/PID/stat utime+stime+cutime+cstime), as % of one core, and
  its resident memory (VmRSS, VmHWM);
- the lab's rate limit allows what the trials send (lab/inventory: 200 alerts per 10 minutes);
- split brain, N trials (default 10): VRRP dropped on lb2 (the backup of VI_1): from the
  moment lb2 enters MASTER of VI_1 (its state feed) to lb1's watcher counting split_brain
  (`detected`), to the mail in the client's Maildir (`mail`), to Prometheus (in the client,
  scraping every second) firing HalbPairSplitBrain (`alert`, the rule's for: is 5 s); then
  undone and waited out (ended, mail, resolved, lb1 alone);
- flushed guard, N trials: `nft flush table inet halb_pair_vrrp` on lb1: to the watcher's
  `restored` event (the guard whole again), the number of events per flush (goal: 1), the mail;
- soak (--soak MINUTES, default 10; 0 skips it): the pair redeployed with
  keepalived_profile=fast, both LBs' CPUs saturated (one busy loop per CPU in each LB) for
  the whole time, no fault made: the watchers' events (false alarms, goal 0), the alerts
  Prometheus fired, keepalived's transitions; the pair deployed again as the inventory says.

Writes every figure as JSON to --out (default .cache/bench/watch.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from halb_lab.operations import ADDRESSES, CLIENT, LBS, PODMAN, REPO, VIPS, WATCH_PORT, playbook, settle, sh

#: the first VIP (VI_1, mastered by lb1): the address plan's (lab/addresses.yml)
VIP1 = next(iter(VIPS))
WAIT = ["python3", "/usr/local/bin/watch_wait.py"]
PROM = "http://127.0.0.1:9090"
MAILDIR = "/var/mail/halb-lab"


def ex(container: str, *cmd: str, check: bool = True, timeout: float = 120) -> str:
    return sh(PODMAN, "exec", container, *cmd, check=check, timeout=timeout).stdout


def state(n: str) -> dict:
    return json.loads(ex(CLIENT, "curl", "-sf", "--max-time", "2", f"http://{ADDRESSES[n]}:{WATCH_PORT}/state"))


def wait(*args: str, timeout: float) -> dict:
    out = sh(PODMAN, "exec", CLIENT, *WAIT, *args, str(timeout), check=False, timeout=timeout + 30)
    data = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
    data["ok"] = out.returncode == 0
    return data


def pct(values: list[float], q: float) -> float | None:
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    return round(v[min(len(v) - 1, max(0, round(q * (len(v) - 1))))], 3)


def line(name: str, values: list[float]) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return f"{name}: no figure"
    return f"{name}: p50 {statistics.median(v):.2f} s, p95 {pct(v, 0.95):.2f} s, max {max(v):.2f} s ({len(v)} trials)"


def cost(seconds: float) -> dict:
    out = {}
    for n, c in LBS.items():
        script = ("pid=$(systemctl show -p MainPID --value halb-pair-watch); "
                  "a=$(awk '{print $14+$15+$16+$17}' /proc/$pid/stat); "
                  f"sleep {seconds}; "
                  "b=$(awk '{print $14+$15+$16+$17}' /proc/$pid/stat); "
                  "echo $((b-a)) $(getconf CLK_TCK) $(awk '/VmRSS|VmHWM/ {print $2}' /proc/$pid/status | xargs)")
        ticks, hz, rss, hwm = ex(c, "sh", "-c", script, timeout=seconds + 30).split()[:4]
        out[n] = {"cpu_percent": round(100.0 * int(ticks) / int(hz) / seconds, 2), "rss_mb": round(int(rss) / 1024, 1),
                  "hwm_mb": round(int(hwm) / 1024, 1)}
        print(f"cost {n}: {out[n]['cpu_percent']}% of a core over {seconds:.0f} s, RSS {out[n]['rss_mb']} MB "
              f"(peak {out[n]['hwm_mb']} MB)", flush=True)
    return out


DROP = ("nft add table inet halb_bench_sb; nft add chain inet halb_bench_sb input '{ type filter hook input priority -10; }'; "
        "nft add rule inet halb_bench_sb input ip protocol 112 drop")


def split_brain(i: int) -> dict:
    t0 = time.time()
    ex(LBS["lb2"], "sh", "-ec", DROP)
    try:
        # the three waits at once: each is timed on its own
        with ThreadPoolExecutor(3) as pool:
            f_got = pool.submit(wait, "state", f"http://{ADDRESSES['lb1']}:{WATCH_PORT}/state", "split_brain", VIP1, "present", timeout=30)
            f_mail = pool.submit(wait, "mail", MAILDIR, "split_brain", VIP1, "started", str(t0), timeout=30)
            f_alert = pool.submit(wait, "alert", PROM, "HalbPairSplitBrain", "firing", timeout=30)
            got, mail, alert = f_got.result(), f_mail.result(), f_alert.result()
        lb2 = state("lb2")
    finally:
        ex(LBS["lb2"], "nft", "delete", "table", "inet", "halb_bench_sb", check=False)
    start = next((x.get("last_transition") for x in lb2["report"]["instances"] if x["name"] == "VI_1"), None)
    problem = got.get("problem") or {}
    row = {"trial": i, "start": start,
           "detected": round(problem["at"] - start, 3) if problem and start else None,
           "first_seen": round(problem["since"] - start, 3) if problem and start else None,
           "mail": round(mail["received"] - start, 3) if mail.get("ok") and start else None,
           "alert": round(alert["seen"] - start, 3) if alert.get("ok") and start else None}
    ended = wait("state", f"http://{ADDRESSES['lb1']}:{WATCH_PORT}/state", "split_brain", VIP1, "absent", timeout=30)
    wait("mail", MAILDIR, "split_brain", VIP1, "ended", str(t0), timeout=20)
    resolved = wait("alert", PROM, "HalbPairSplitBrain", "resolved", timeout=60)
    row["ended_ok"], row["resolved_ok"] = ended["ok"], resolved["ok"]
    settle(VIPS, timeout=30)
    print(f"split brain {i}: detected {row['detected']} s (first seen {row['first_seen']} s), mail {row['mail']} s, "
          f"alert {row['alert']} s after lb2 became MASTER; ended {row['ended_ok']}, resolved {row['resolved_ok']}", flush=True)
    return row


def guard(i: int) -> dict:
    before = len([e for e in state("lb1")["events"] if e["event"] == "restored"])
    t0 = time.time()
    ex(LBS["lb1"], "nft", "flush", "table", "inet", "halb_pair_vrrp")
    deadline = time.time() + 15
    restored = None
    while time.time() < deadline:
        evs = [e for e in state("lb1")["events"] if e["event"] == "restored" and e["at"] >= t0]
        if evs:
            restored = evs
            break
        time.sleep(0.1)
    mail = wait("mail", MAILDIR, "guard_missing", "lb1", "restored", str(t0), timeout=15)
    time.sleep(2)  # a second event for the same flush would show by now
    evs = [e for e in state("lb1")["events"] if e["event"] == "restored" and e["at"] >= t0]
    whole = "vrrp_other\" drop" in ex(LBS["lb1"], "nft", "list", "table", "inet", "halb_pair_vrrp", check=False)
    row = {"trial": i, "restored": round(restored[0]["at"] - t0, 3) if restored else None, "events": len(evs),
           "mail": round(mail["received"] - t0, 3) if mail.get("ok") else None, "whole_again": whole,
           "restored_before": before}
    print(f"guard {i}: restored {row['restored']} s after the flush, {row['events']} event(s), mail {row['mail']} s, "
          f"table whole {whole}", flush=True)
    return row


def soak(minutes: float) -> dict:
    print(f"soak: redeploying with keepalived_profile=fast, then {minutes:g} min with both LBs' CPUs saturated", flush=True)
    # fast is VRRPv3, which has no authentication: the lab's password goes for the soak
    playbook("playbooks/site.yml", "-e", json.dumps({"keepalived_profile": "fast", "keepalived_auth_pass": None}))
    settle(VIPS, timeout=60)
    time.sleep(15)  # the watchers' settle time after keepalived's restart
    t0 = time.time()
    trans0 = {n: transitions(n) for n in LBS}
    seconds = int(minutes * 60)
    burn = f"for i in $(seq $(nproc)); do timeout {seconds} sh -c 'while :; do :; done' & done; wait"
    procs = [subprocess.Popen([PODMAN, "exec", c, "sh", "-c", burn]) for c in LBS.values()]
    for p in procs:
        p.wait(timeout=seconds + 60)
    window = time.time() - t0
    events = [f"{n}: {e['kind']} {e['event']} {e['subject']}" for n in LBS for e in state(n)["events"] if e["at"] >= t0]
    fired = json.loads(ex(CLIENT, "curl", "-sf", "--max-time", "5", "--data-urlencode",
                          f'query=count_over_time(ALERTS{{alertstate="firing"}}[{int(window) + 5}s])', f"{PROM}/api/v1/query"))
    trans = {n: transitions(n) - trans0[n] for n in LBS}
    row = {"minutes": round(window / 60, 2), "watcher_events": events, "alerts_fired": fired["data"]["result"], "transitions": trans}
    print(f"soak: {row['minutes']} min, both CPUs of both LBs saturated: {len(events)} watcher events, "
          f"{len(row['alerts_fired'])} alerts fired, keepalived transitions {trans}", flush=True)
    playbook("playbooks/site.yml")
    settle(VIPS, timeout=60)
    return row


def transitions(n: str) -> int:
    text = ex(CLIENT, "curl", "-sf", "--max-time", "2", f"http://{ADDRESSES[n]}:{WATCH_PORT}/metrics")
    return sum(int(float(x.split()[-1])) for x in text.splitlines() if x.startswith("halb_vrrp_transitions_total{"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench watch", description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--soak", type=float, default=10.0, metavar="MINUTES")
    ap.add_argument("--cpu", type=float, default=60.0, metavar="SECONDS")
    ap.add_argument("--out", default=str(REPO / ".cache" / "bench" / "watch.json"))
    a = ap.parse_args(argv)
    result: dict = {"cost": cost(a.cpu) if a.cpu > 0 else {}}
    result["split_brain"] = [split_brain(i) for i in range(1, a.trials + 1)]
    result["guard"] = [guard(i) for i in range(1, a.trials + 1)]
    if a.soak > 0:
        result["soak"] = soak(a.soak)
    sb, g = result["split_brain"], result["guard"]
    print("\nsummary")
    for n, c in result["cost"].items():
        print(f"  watcher on {n}: {c['cpu_percent']}% of a core, RSS {c['rss_mb']} MB (peak {c['hwm_mb']} MB)")
    print("  split brain, from the second holder: " + line("counted", [r["detected"] for r in sb]))
    print("  split brain: " + line("first seen", [r["first_seen"] for r in sb]))
    print("  split brain: " + line("mail delivered", [r["mail"] for r in sb]))
    print("  split brain: " + line("Prometheus firing (for: 5s)", [r["alert"] for r in sb]))
    print("  flushed guard: " + line("restored", [r["restored"] for r in g]) + f"; events per flush {[r['events'] for r in g]}")
    print("  flushed guard: " + line("mail delivered", [r["mail"] for r in g]))
    if "soak" in result:
        s = result["soak"]
        print(f"  soak ({s['minutes']} min, fast profile, CPUs saturated): {len(s['watcher_events'])} false alarms, "
              f"{len(s['alerts_fired'])} alerts fired, transitions {s['transitions']}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"  figures: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
