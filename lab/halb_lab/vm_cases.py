"""The VM lab's LVS cases: `scripts/lab vm report` and `scripts/lab vm cases`.

The directors (lvs1, lvs2) are QEMU guests under TCG, an emulator: every time measured in
them (checker intervals, VRRP timers, a failover) runs on emulated CPUs, several times slower
than on hardware, and each printed figure says so. The real servers, the sorry server and
the client are containers; the client's requests go through the VIP (198.51.100.140 in the
plan's user `vm-lvs`): port 80 is LVS (direct routing, keepalived's HTTP_GET checks), port
8080 is the pair's nginx (proxy_next_upstream and its passive checks) to the same servers.

Cases (each prints one line of figures, and fails when its bound is not met):
  real_server_lvs    a real server's web stops: it leaves the IPVS table within
                     delay_loop x retry + connect_timeout (+ slack); restarted, it comes back
  real_server_nginx  the same failure seen through nginx (idempotent GETs should not fail)
  sorry              every real server down: the sorry server answers; back when repaired
  director_killed    the master director's QEMU SIGKILLed: the backup holds the VIP with the
                     same IPVS table, and a connection opened before (the sync daemon) works after;
                     the killed guest is booted again (its disk kept) and takes the VIP back
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import typing as t
from pathlib import Path

from ansible_collections.halb.pair.plugins.module_utils import _ipvs

from halb_lab import LAB, addresses, holders

USER = "vm-lvs"
DIRECTORS = ("lvs1", "lvs2")
REAL_SERVERS = ("rs1", "rs2")
PODMAN = str(LAB / "bin" / "podman")
VM = str(LAB / "vm" / "bin" / "vm")
PROBE = "/usr/local/bin/halb_probe.py"
TCG = "(TCG guests: emulated CPUs, not hardware timings)"


# --------------------------------------------------------------------------- pure logic
def request_figures(recs: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    """failed/total and the error window (first failed request's start to the last failed
    one's end) of a probe's records."""
    failed = [r for r in recs if not r.get("ok")]
    out: dict[str, t.Any] = {"total": len(recs), "failed": len(failed), "window_s": 0.0, "errors": {}}
    if failed:
        start = min(r["t"] for r in failed)
        end = max(r["t"] + r.get("dt", 0.0) for r in failed)
        out["window_s"] = round(end - start, 2)
        for r in failed:
            kind = (r.get("err") or f"HTTP {r.get('status')}").split(":")[0]
            out["errors"][kind] = out["errors"].get(kind, 0) + 1
    out["backends"] = sorted({r["backend"] for r in recs if r.get("ok") and r.get("backend")})
    return out


def signature(table: t.Sequence[t.Mapping[str, t.Any]]) -> list[tuple]:
    """What must be the same on both directors: each virtual server and its real servers with
    their weights (not the connection counters, which differ by node)."""
    return sorted(
        (vs["protocol"], vs["address"], vs["port"], vs["fwmark"], vs["scheduler"],
         tuple(sorted((r["address"], r["port"], r["forward"], r["weight"]) for r in vs["real_servers"])))
        for vs in table
    )


def real_server_weight(table: t.Sequence[t.Mapping[str, t.Any]], vip: str, port: int, address: str) -> int | None:
    """The weight of real server `address` under virtual server vip:port, None when absent."""
    for vs in table:
        if vs["address"] == vip and vs["port"] == port:
            for r in vs["real_servers"]:
                if r["address"] == address:
                    return int(r["weight"])
    return None


def _measured(fig: t.Mapping[str, t.Any], case: str) -> None:
    _check(fig["total"] >= 20, f"{case}: the client's probe recorded {fig['total']} requests (is halb_probe.py in the client?)")


def status_vs_lines(text: str) -> list[str]:
    """The IPVS lines of status.yml's output (YAML callback: a list item per line, long
    items folded onto indented continuation lines), one string per virtual server."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            item = line[2:].strip().strip("'")
            out.append(item)
        elif out and raw.startswith("        ") and line:
            out[-1] += " " + line.strip("'")
    return [x for x in out if " real " in x and x.split()[0] in DIRECTORS]


def figures_line(case: str, fig: t.Mapping[str, t.Any], extra: str = "") -> str:
    errs = ", ".join(f"{k} {v}" for k, v in sorted(fig["errors"].items())) or "none"
    return (f"{case:18} failed {fig['failed']}/{fig['total']}, error window {fig['window_s']:.2f} s "
            f"(errors: {errs}; served by {', '.join(fig['backends']) or '-'}){extra}")


# --------------------------------------------------------------------------- the lab
class Lab:
    def __init__(self) -> None:
        user = addresses.load().users[USER]
        self.ip = {n: node.address for n, node in user.nodes.items()}
        self.container = {n: node.container for n, node in user.nodes.items()}
        self.vip = user.vips[0].address.split("/")[0]
        cache = os.environ.get("HALB_CACHE") or str(Path.home() / ".cache" / "halb-pair")
        self.key = os.environ.get("HALB_VM_SSH_KEY") or f"{cache}/vm/id_ed25519"
        # one SSH connection per guest, reused: a handshake costs seconds on a TCG guest
        self.control = str(Path(os.environ.get("HALB_LAB_RUN") or "/run/halb-pair-lab") / "vm" / "ssh-%h")

    def ssh(self, node: str, cmd: str, timeout: float = 30, check: bool = True) -> str:
        # -n and stdin from /dev/null: ssh makes its stdin non-blocking, and a ControlPersist master
        # keeps it so; an inherited stdin would stay non-blocking for whatever runs next (ansible
        # refuses to start on one: scripts/test's stages after this one failed so)
        argv = ["ssh", "-n", "-i", self.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "ControlMaster=auto",
                "-o", f"ControlPath={self.control}", "-o", "ControlPersist=120", f"root@{self.ip[node]}", cmd]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            if check:
                raise
            return ""
        if check and p.returncode != 0:
            raise RuntimeError(f"{node}: {cmd}: rc {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def pexec(self, node: str, *argv: str, check: bool = True, detach: bool = False) -> str:
        cmd = [PODMAN, "exec", *(["-d"] if detach else []), self.container[node], *argv]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
        if check and p.returncode != 0:
            raise RuntimeError(f"{node}: {' '.join(argv)}: rc {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def holders(self, directors: t.Sequence[str] = DIRECTORS) -> list[str]:
        """The directors holding the VIP, read over SSH by the lab's one reader (halb_lab.holders)."""
        outputs = {d: self.ssh(d, "ip -j addr show dev eth0", timeout=8, check=False) for d in directors}
        return holders.holders([self.vip], outputs)[self.vip]

    def table(self, node: str) -> list[dict]:
        text = self.ssh(node, "cat /proc/net/ip_vs; echo ===; cat /boot/config-$(uname -r) | grep '^CONFIG_HZ='", check=False)
        ipvs, _, cfg = text.partition("===")
        return [dict(vs) for vs in _ipvs.parse(ipvs, _ipvs.config_hz(cfg))] if ipvs.strip() else []

    def status_lines(self) -> list[str]:
        """The virtual-server lines of `ansible-playbook playbooks/status.yml` on the VM lab."""
        repo = LAB.parent
        p = subprocess.run([str(repo / ".venv" / "bin" / "ansible-playbook"), "-i", str(LAB / "vm" / "inventory"),
                            str(repo / "playbooks" / "status.yml")], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300, check=False,
                           env={**os.environ, "ANSIBLE_CONFIG": str(repo / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}, cwd=repo)
        return status_vs_lines(p.stdout)

    def get(self, port: int, timeout: float = 3) -> str:
        """The backend that answers a GET through the VIP, or '' (curl in the client)."""
        return self.pexec("client1", "curl", "-s", "-m", str(timeout), "-o", "/dev/null", "-w", "%header{x-halb-backend}",
                          f"http://{self.vip}:{port}/", check=False).strip()

    # the client's probe: a new connection per request, every 50 ms
    def probe_start(self, tag: str, port: int) -> None:
        self.pexec("client1", "rm", "-f", f"/var/tmp/{tag}.jsonl", f"/var/tmp/{tag}.stop")
        self.pexec("client1", "python3", PROBE, "client", "--url", f"http://{self.vip}:{port}/", "--out", f"/var/tmp/{tag}.jsonl",
                   "--stop-file", f"/var/tmp/{tag}.stop", "--max-seconds", "180", "--connect-timeout", "0.5",
                   "--read-timeout", "2", detach=True)

    def probe_stop(self, tag: str) -> list[dict]:
        self.pexec("client1", "touch", f"/var/tmp/{tag}.stop")
        time.sleep(2.5)
        text = self.pexec("client1", "cat", f"/var/tmp/{tag}.jsonl", check=False)
        return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def wait_until(pred: t.Callable[[], bool], timeout: float, interval: float = 0.2) -> float | None:
    """Seconds until pred() held, or None after timeout."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return round(time.time() - t0, 2)
        time.sleep(interval)
    return None


# --------------------------------------------------------------------------- cases
class CaseFailed(AssertionError):
    pass


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise CaseFailed(what)


def _settle(lab: Lab) -> str:
    """Both real servers up and in the master's table; the master director named."""
    for rs in REAL_SERVERS:
        lab.pexec(rs, "systemctl", "start", "nginx")
    master = wait_until(lambda: lab.holders() == ["lvs1"], 120)
    _check(master is not None, f"lvs1 does not hold {lab.vip} alone (holders: {lab.holders()})")
    ok = wait_until(lambda: all((real_server_weight(lab.table("lvs1"), lab.vip, 80, lab.ip[rs]) or 0) > 0 for rs in REAL_SERVERS), 60, 0.5)
    _check(ok is not None, "the real servers are not both in lvs1's IPVS table with weight > 0")
    return "lvs1"


def case_real_server(lab: Lab, port: int, bound: float) -> str:
    master = _settle(lab)
    tag = f"rs-{port}"
    lab.probe_start(tag, port)
    time.sleep(2)
    t0 = time.time()
    lab.pexec("rs1", "systemctl", "stop", "nginx")
    removed = None
    if port == 80:
        removed = wait_until(lambda: (real_server_weight(lab.table(master), lab.vip, 80, lab.ip["rs1"]) or 0) == 0, 60, 0.2)
    seen_out = ""
    if port == 80 and removed is not None:
        # the failure as an operator sees it: ipvsadm on the master, and status.yml
        ipvsadm = lab.ssh(master, "ipvsadm -Ln")
        status = [x for x in lab.status_lines() if x.startswith(master)]
        _check(f"{lab.ip['rs1']}:80" not in ipvsadm, f"ipvsadm -Ln on {master} still lists rs1:\n{ipvsadm}")
        _check(bool(status) and all(f"{lab.ip['rs1']}:80 Route w1" not in x for x in status), f"status.yml still shows rs1 live: {status}")
        seen_out = "; ipvsadm -Ln and status.yml without it"
    time.sleep(max(0.0, t0 + 8 - time.time()))
    fig = request_figures(lab.probe_stop(tag))
    lab.pexec("rs1", "systemctl", "start", "nginx")
    _measured(fig, f"real server :{port}")
    back = None
    if port == 80:
        back = wait_until(lambda: (real_server_weight(lab.table(master), lab.vip, 80, lab.ip["rs1"]) or 0) > 0, 60, 0.2)
    if port == 80:
        _check(removed is not None and removed <= bound, f"rs1 left the IPVS table after {removed} s (bound {bound} s)")
        _check(back is not None and back <= bound, f"rs1 came back after {back} s (bound {bound} s)")
        status = [x for x in lab.status_lines() if x.startswith(master)]
        _check(any(f"{lab.ip['rs1']}:80 Route w1" in x for x in status), f"status.yml does not show rs1 back: {status}")
        extra = f"; rs1 out of the table after {removed} s{seen_out}, back {back} s after its restart (status.yml too) {TCG}"
        return figures_line("real_server_lvs", fig, extra)
    _check(fig["failed"] == 0, f"through nginx {fig['failed']} requests failed (expected none: proxy_next_upstream)")
    return figures_line("real_server_nginx", fig, f" {TCG}")


def case_sorry(lab: Lab, bound: float) -> str:
    _settle(lab)
    for rs in REAL_SERVERS:
        lab.pexec(rs, "systemctl", "stop", "nginx")
    sorry = wait_until(lambda: lab.get(80) == "sorry1", bound + 10, 0.3)
    for rs in REAL_SERVERS:
        lab.pexec(rs, "systemctl", "start", "nginx")
    back = wait_until(lambda: lab.get(80) in ("rs1", "rs2"), bound + 10, 0.3)
    _check(sorry is not None, f"no answer from the sorry server within {bound + 10} s")
    _check(back is not None, "the real servers did not take over again from the sorry server")
    return (f"{'sorry':18} sorry server answering {sorry} s after both real servers stopped, "
            f"real servers again {back} s after their restart {TCG}")


def case_director_killed(lab: Lab) -> str:
    _settle(lab)
    before = signature(lab.table("lvs1"))
    # a connection opened before the failover, through LVS to a real server
    lab.pexec("client1", "rm", "-f", "/var/tmp/hold.jsonl", "/var/tmp/hold.go")
    lab.pexec("client1", "python3", PROBE, "hold", "--url", f"http://{lab.vip}:80/", "--out", "/var/tmp/hold.jsonl",
              "--go-file", "/var/tmp/hold.go", "--max-seconds", "240", detach=True)
    first = wait_until(lambda: bool(lab.pexec("client1", "cat", "/var/tmp/hold.jsonl", check=False).strip()), 15)
    _check(first is not None, "the held connection's first request did not complete")
    synced = wait_until(lambda: _conn_on(lab, "lvs2"), 20, 0.5)
    lab.probe_start("director", 80)
    time.sleep(2)
    t0 = time.time()
    subprocess.run([VM, "kill", "lvs1"], stdin=subprocess.DEVNULL, check=True, capture_output=True, timeout=30)
    # lvs1 is dead (its QEMU is gone): ask lvs2 alone, without waiting for SSH to time out on lvs1
    moved = wait_until(lambda: lab.holders(("lvs2",)) == ["lvs2"], 60, 0.1)
    _check(moved is not None, "lvs2 did not take the VIP after lvs1 was killed")
    after = signature(lab.table("lvs2"))
    lab.pexec("client1", "touch", "/var/tmp/hold.go")
    held = wait_until(lambda: len(lab.pexec("client1", "cat", "/var/tmp/hold.jsonl", check=False).strip().splitlines()) >= 2, 30)
    time.sleep(max(0.0, t0 + moved + 4 - time.time()))
    fig = request_figures(lab.probe_stop("director"))
    _measured(fig, "director_killed")
    lines = [json.loads(x) for x in lab.pexec("client1", "cat", "/var/tmp/hold.jsonl", check=False).splitlines() if x.strip()]
    survived = held is not None and len(lines) >= 2 and lines[1].get("ok") and lines[1].get("reused")
    # the killed director boots again (its disk kept): a real reboot after a death
    t1 = time.time()
    subprocess.run([VM, "boot", "lvs1"], stdin=subprocess.DEVNULL, check=True, capture_output=True, timeout=400)
    booted = round(time.time() - t1, 1)
    back = wait_until(lambda: lab.holders() == ["lvs1"], 180, 0.5)
    _check(after == before, f"lvs2's IPVS table differs from lvs1's: {after} vs {before}")
    _check(bool(survived), f"the connection opened before the failover did not survive it: {lines}")
    _check(back is not None, "lvs1 did not take its VIP back after it was booted again")
    return (figures_line("director_killed", fig,
                         f"; lvs2 held the VIP {moved} s after the SIGKILL with the same IPVS table; the connection opened before "
                         f"(synced to lvs2: {'yes' if synced is not None else 'no'}) answered after it from {lines[1].get('backend')}; "
                         f"lvs1 booted again in {booted} s and held the VIP {back} s later {TCG}"))


def _conn_on(lab: Lab, node: str) -> bool:
    """Whether node's IPVS connection table has an established entry from the client."""
    text = lab.ssh(node, "cat /proc/net/ip_vs_conn", check=False)
    client = "".join(f"{int(o):02X}" for o in lab.ip["client1"].split("."))
    return any(line.split()[1:2] == [client] and "ESTABLISHED" in line for line in text.splitlines()[1:])


def report(lab: Lab) -> int:
    print(f"VIP {lab.vip}: held by {', '.join(lab.holders()) or 'nobody'}")
    for d in DIRECTORS:
        for vs in lab.table(d):
            print(f"{d}  {_ipvs.describe(vs)}")
    print(f"through the VIP: LVS :80 -> {lab.get(80) or 'no answer'}; nginx :8080 -> {lab.get(8080) or 'no answer'}")
    return 0


CASES = ("real_server_lvs", "real_server_nginx", "sorry", "director_killed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/lab vm", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=("report", "cases"))
    ap.add_argument("cases", nargs="*", help=f"of {', '.join(CASES)} (default: all)")
    ap.add_argument("--bound", type=float, default=15.0,
                    help="seconds for a real server to leave or rejoin the table (delay_loop 2 x retry 1 + connect_timeout 1, with slack for TCG)")
    ap.add_argument("--results", help="append one JSON line per case to this file")
    a = ap.parse_args(argv)
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}: {', '.join(CASES)}")
    lab = Lab()
    if a.command == "report":
        return report(lab)
    rc = 0
    for case in a.cases or CASES:
        t0 = time.time()
        try:
            if case == "real_server_lvs":
                line = case_real_server(lab, 80, a.bound)
            elif case == "real_server_nginx":
                line = case_real_server(lab, 8080, a.bound)
            elif case == "sorry":
                line = case_sorry(lab, a.bound)
            else:
                line = case_director_killed(lab)
            ok = True
        except (CaseFailed, RuntimeError, subprocess.SubprocessError) as e:
            line, ok, rc = f"{case:18} FAILED: {e}", False, 1
        print(f"{line} [{time.time() - t0:.0f} s]", flush=True)
        if a.results:
            with open(a.results, "a", encoding="utf-8") as f:
                f.write(json.dumps({"case": case, "ok": ok, "line": line}) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
