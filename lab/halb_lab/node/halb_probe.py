#!/usr/bin/env python3
"""halb_probe: measure a VIP failover from the client's and the nodes' point of view.

Stdlib only; runs inside the lab/Molecule containers (Python 3.11) and on the
controller. Every loop is bounded in count and time, and stops early on a stop file.

In a container:
  client  --url URL --out FILE --stop-file F   HTTP GET every --interval (50 ms) with a
                                               --connect-timeout (200 ms); one JSON line
                                               per request: t, dt, ok, status, node, backend, err
  client-keepalive --url URL --out FILE ...    --connections (8) kept-alive HTTP/1.1
                                               connections, each a GET every --interval;
                                               reconnects after an error; same lines plus
                                               conn (index) and reused (sent on a kept one)
  watch   --addr A --out FILE --stop-file F    polls `ip -j addr` every --interval (20 ms);
                                               one JSON line at start, on every change, at end
  hold    --url URL --out FILE --go-file F     one kept-alive connection: a request, then another
                                               on it once F exists (a connection held across a move)
  event   -- CMD ...                           runs CMD, prints {"t_event", "t_done", "rc", "out"}
  tls     --host VIP --cafile CA               one HTTPS GET, the certificate verified against CA:
                                               prints {"tls", "alpn", "sha256", "status", "node"}
On the controller (drives containers with `podman exec`, or `docker exec` when HALB_ENGINE=docker):
  start   --tag T --client CONTAINER --url URL --watch NODE=CONTAINER ... --addr A
  wait    --addr A --expect NODE --watch NODE=CONTAINER ... --timeout S
          (until exactly NODE holds A; prints {"ok", "t", "holders"})
  stop    --tag T --client CONTAINER --watch NODE=CONTAINER ... --event JSON --expect NODE
          [--case C --phase P --scenario S --results FILE]
          stops the probes, reads their files, prints the summary as one JSON line (and
          appends it to --results)
The summary logic (summarise and helpers) is pure and tested in lab/tests/.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
import time
import urllib.parse

PROBE_PATH = "/usr/local/bin/halb_probe.py"
RUN_DIR = "/var/tmp/halb-probe"  # not /run: the files of a killed or stopped node survive it


# --------------------------------------------------------------------------- pure logic
def holder_timeline(watches: dict[str, list[dict]]) -> tuple[list[tuple[float, frozenset]], float]:
    """Merge per-node watch records into [(t, holders)] change points and the common end time.

    A watch record is {"t": epoch, "present": bool} (first record = state at start,
    optional "end": true on the last one). The end is the earliest last record of all nodes,
    so that the timeline only covers the time every node was observed.
    """
    points: list[tuple[float, str, bool]] = []
    ends = []
    for node, recs in watches.items():
        recs = sorted(recs, key=lambda r: r["t"])
        if not recs:
            continue
        ends.append(recs[-1]["t"])
        for r in recs:
            points.append((r["t"], node, bool(r["present"])))
    points.sort(key=lambda p: p[0])
    state: dict[str, bool] = {}
    timeline: list[tuple[float, frozenset]] = []
    for t, node, present in points:
        state[node] = present
        holders = frozenset(n for n, p in state.items() if p)
        if timeline and timeline[-1][0] == t:
            timeline[-1] = (t, holders)
        elif not timeline or timeline[-1][1] != holders:
            timeline.append((t, holders))
    return timeline, (min(ends) if ends else 0.0)


def holders_at(timeline: list[tuple[float, frozenset]], t: float) -> frozenset:
    cur: frozenset = frozenset()
    for tt, h in timeline:
        if tt > t:
            break
        cur = h
    return cur


def _since(timeline, pred, t_event: float) -> float | None:
    """Seconds from t_event to the start of the last run of states matching pred that
    lasts to the end of the timeline (0 if it already held at t_event); None if the
    final state does not match."""
    since = None
    for t, h in timeline:
        if pred(h):
            if since is None:
                since = t
        else:
            since = None
    if since is None:
        return None
    return max(0.0, since - t_event)


def _durations(timeline, t0: float, t_end: float) -> tuple[float, float]:
    """Seconds with no holder and with two or more holders in [t0, t_end]."""
    none = multi = 0.0
    segs = [(max(t, t0), h) for t, h in timeline if t < t_end]
    # the state at t0 is the last change at or before t0
    start_state = holders_at(timeline, t0)
    segs = [(t0, start_state)] + [(t, h) for t, h in segs if t > t0]
    for i, (t, h) in enumerate(segs):
        nxt = segs[i + 1][0] if i + 1 < len(segs) else t_end
        d = max(0.0, nxt - t)
        if not h:
            none += d
        elif len(h) > 1:
            multi += d
    return none, multi


def down_records(recs: list[dict], t_down: float, t_end: float) -> list[dict]:
    """A node's watch records when its container went down (killed or stopped) at t_down:
    what its watcher wrote until it died (any end record dropped: it ended with the node),
    then no address from t_down (a container that is not running holds none) up to t_end.
    A node whose watcher wrote nothing is taken as holding nothing at all."""
    kept = [{k: v for k, v in r.items() if k != "end"} for r in sorted(recs, key=lambda r: r["t"]) if r["t"] < t_down]
    return [*kept, {"t": t_down, "present": False}, {"t": max(t_end, t_down), "present": False, "end": True}]


def summarise(requests: list[dict], watches: dict[str, list[dict]], t_event: float, expect: str, mark: float | None = None) -> dict:
    """Figures of one measured phase.

    requests: client records {"t", "dt", "ok", "node", "backend", ...} (t = send time)
    watches:  {node: [watch records]} for the VIP
    t_event:  when the disruptive command was started (epoch seconds)
    expect:   the node that should hold the VIP alone at the end
    mark:     optional second moment of the phase (e.g. a frozen node thawed): the failed
              requests sent from it and the no-holder / two-holder seconds from it on
    """
    reqs = sorted(requests, key=lambda r: r["t"])
    total = len(reqs)
    failed = sum(1 for r in reqs if not r.get("ok"))
    ok_before = [r for r in reqs if r.get("ok") and r["t"] < t_event]
    oks = [r for r in reqs if r.get("ok")]
    # The first failure of a request still running at the event or sent after it.
    fails_after = [r for r in reqs if not r.get("ok") and r["t"] + r.get("dt", 0.0) >= t_event]
    window = first_fail = recovered = None
    if fails_after:
        f = fails_after[0]
        last_ok = [r for r in reqs if r.get("ok") and r["t"] < f["t"]]
        next_ok = [r for r in reqs if r.get("ok") and r["t"] > f["t"]]
        first_fail = f["t"] - t_event
        start = last_ok[-1]["t"] if last_ok else f["t"]
        if next_ok:
            recovered = next_ok[0]["t"] - t_event
            window = next_ok[0]["t"] - start
    served: dict[str, int] = {}
    for r in oks:
        served[r.get("node") or "?"] = served.get(r.get("node") or "?", 0) + 1

    timeline, t_end = holder_timeline(watches)
    before = holders_at(timeline, t_event)
    after = holders_at(timeline, t_end) if timeline else frozenset()
    # moved: since when `expect` holds the VIP without a break up to the end;
    # single: since when it holds it alone (nobody else) up to the end.
    moved = _since(timeline, lambda h: expect in h, t_event)
    settled = _since(timeline, lambda h: h == frozenset([expect]), t_event)
    none_s, multi_s = _durations(timeline, t_event, t_end) if timeline else (0.0, 0.0)

    def rnd(x):
        return None if x is None else round(x, 3)

    since_mark = {}
    if mark is not None:
        m_none, m_multi = _durations(timeline, mark, t_end) if timeline else (0.0, 0.0)
        since_mark = {
            "mark_s": rnd(mark - t_event),
            "failed_since_mark": sum(1 for r in reqs if not r.get("ok") and r["t"] >= mark),
            "no_holder_since_mark_s": rnd(m_none),
            "multi_holder_since_mark_s": rnd(m_multi),
        }

    return since_mark | {
        "requests": total,
        "failed": failed,
        "failed_after_event": len(fails_after),
        "first_failure_s": rnd(first_fail),
        "recovered_s": rnd(recovered),
        "error_window_s": rnd(window) if fails_after else 0.0,
        "served_before": ok_before[-1].get("node") if ok_before else None,
        "served_after": oks[-1].get("node") if oks and oks[-1]["t"] >= t_event else None,
        "backend_after": oks[-1].get("backend") if oks and oks[-1]["t"] >= t_event else None,
        "served_counts": served,
        "holders_before": sorted(before),
        "holders_after": sorted(after),
        "expect": expect,
        "vip_moved_s": rnd(moved),
        "vip_single_s": rnd(settled),
        "no_holder_s": rnd(none_s),
        "multi_holder_s": rnd(multi_s),
    }


HOLDER_FIGURES = ("vip_moved_s", "vip_single_s", "no_holder_s", "multi_holder_s", "no_holder_since_mark_s", "multi_holder_since_mark_s")


def unwatched(s: dict, nodes: list[str]) -> dict:
    """A summary of a phase in which some LBs had no watcher (a node booting: it has none
    until it runs): the holder figures would count its time with the VIP as time without a
    holder, so they are unknown (None); the client's figures stand."""
    out = dict(s) | {k: None for k in HOLDER_FIGURES if k in s}
    out["unwatched"] = sorted(nodes)
    return out


def render(s: dict) -> str:
    """One human line per phase."""

    def f(x):
        return "-" if x is None else f"{x:.2f}s" if isinstance(x, float) else str(x)

    return (
        f"{s.get('scenario', '')}/{s.get('case', '')}/{s.get('phase', '')}: "
        f"VIP {s.get('vip', '')} on {s['expect']} after {f(s['vip_moved_s'])} "
        f"(alone after {f(s['vip_single_s'])}; no holder {f(s['no_holder_s'])}, "
        f"two holders {f(s['multi_holder_s'])}); client: {s['failed']}/{s['requests']} failed, "
        f"error window {f(s['error_window_s'])}; served by {s['served_before'] or '-'} -> "
        f"{s['served_after'] or '-'} (backend {s['backend_after'] or '-'})"
        + (
            f"; from the mark (+{f(s['mark_s'])}): {s['failed_since_mark']} failed, no holder "
            f"{f(s['no_holder_since_mark_s'])}, two holders {f(s['multi_holder_since_mark_s'])}"
            if "mark_s" in s
            else ""
        )
    )


# --------------------------------------------------------------------------- node side
def _bounded(args):
    deadline = time.time() + args.max_seconds
    for i in range(args.max_count):
        if time.time() >= deadline or os.path.exists(args.stop_file):
            return
        yield i


def _sleep_until(t: float) -> None:
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def one_request(url: str, connect_timeout: float, read_timeout: float) -> dict:
    u = urllib.parse.urlsplit(url)
    t = time.time()
    rec = {"t": t, "ok": False, "status": None, "node": None, "backend": None, "err": None}
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=connect_timeout)
    try:
        conn.connect()
        conn.sock.settimeout(read_timeout)
        conn.request("GET", u.path or "/", headers={"Connection": "close", "User-Agent": "halb-probe"})
        resp = conn.getresponse()
        resp.read()
        rec.update(status=resp.status, ok=resp.status == 200, node=resp.getheader("X-HALB-Node"), backend=resp.getheader("X-HALB-Backend"))
    except (OSError, http.client.HTTPException) as exc:
        rec["err"] = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    finally:
        conn.close()
    rec["dt"] = round(time.time() - t, 4)
    return rec


def cmd_client(args) -> int:
    start = time.time()
    with open(args.out, "w", encoding="utf-8") as out:
        for i in _bounded(args):
            _sleep_until(start + i * args.interval)
            out.write(json.dumps(one_request(args.url, args.connect_timeout, args.read_timeout)) + "\n")
            out.flush()
    return 0


class KeptConnection:
    """One kept-alive HTTP/1.1 connection: a request on it when asked; after an error it
    is closed, and the next request opens a new one (with the connect timeout).

    `factory(host, port, timeout)` makes the connection (http.client.HTTPConnection;
    a stand-in in the tests); `clock` gives the time."""

    def __init__(self, url: str, index: int, connect_timeout: float, read_timeout: float, factory=None, clock=time.time):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path or "/"
        self.index, self.connect_timeout, self.read_timeout = index, connect_timeout, read_timeout
        self.factory = factory or http.client.HTTPConnection
        self.clock = clock
        self.conn = None
        self.connects = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(self) -> dict:
        t = self.clock()
        reused = self.conn is not None and self.conn.sock is not None
        rec = {"t": t, "ok": False, "status": None, "node": None, "backend": None, "err": None, "conn": self.index, "reused": reused}
        try:
            if not reused:
                self.close()
                self.conn = self.factory(self.host, self.port, timeout=self.connect_timeout)
                self.conn.connect()
                self.connects += 1
                self.conn.sock.settimeout(self.read_timeout)
            self.conn.request("GET", self.path, headers={"User-Agent": "halb-probe-keepalive"})
            resp = self.conn.getresponse()
            resp.read()
            rec.update(status=resp.status, ok=resp.status == 200, node=resp.getheader("X-HALB-Node"), backend=resp.getheader("X-HALB-Backend"))
            if resp.will_close:
                self.close()  # the server ends this connection (keepalive_requests, reload): a new one next time
        except (OSError, http.client.HTTPException) as exc:
            rec["err"] = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            self.close()
        rec["dt"] = round(self.clock() - t, 4)
        return rec


def cmd_client_keepalive(args) -> int:
    import threading

    start = time.time()
    lock = threading.Lock()
    with open(args.out, "w", encoding="utf-8") as out:

        def run(index: int) -> None:
            kc = KeptConnection(args.url, index, args.connect_timeout, args.read_timeout)
            # the connections' requests spread evenly over one interval
            offset = index * args.interval / args.connections
            try:
                for i in _bounded(args):
                    _sleep_until(start + offset + i * args.interval)
                    line = json.dumps(kc.request()) + "\n"
                    with lock:
                        out.write(line)
                        out.flush()
            finally:
                kc.close()

        threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(args.connections)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    return 0


def cmd_hold(args) -> int:
    """One kept-alive connection held across an event: a request, then (when --go-file
    appears, bounded by --max-seconds) a second request on the same connection. Two JSON
    lines; the second's "reused" says whether the connection opened before survived."""
    kc = KeptConnection(args.url, 0, args.connect_timeout, args.read_timeout)
    deadline = time.time() + args.max_seconds
    with open(args.out, "w", encoding="utf-8") as out:
        try:
            first = kc.request()
            first["local_port"] = kc.conn.sock.getsockname()[1] if kc.conn is not None and kc.conn.sock else None
            out.write(json.dumps(first) + "\n")
            out.flush()
            while not os.path.exists(args.go_file) and time.time() < deadline:
                time.sleep(0.05)
            second = kc.request()
            second["local_port"] = first["local_port"]
            out.write(json.dumps(second) + "\n")
        finally:
            kc.close()
    return 0


def _has_addr(dev: str, addr: str) -> bool:
    res = subprocess.run(["ip", "-j", "addr", "show", "dev", dev], capture_output=True, text=True, timeout=2)
    try:
        links = json.loads(res.stdout or "[]")
    except ValueError:
        return False
    return any(a.get("local") == addr for link in links for a in link.get("addr_info", []))


def cmd_watch(args) -> int:
    start = time.time()
    last = None
    with open(args.out, "w", encoding="utf-8") as out:
        for i in _bounded(args):
            _sleep_until(start + i * args.interval)
            t = time.time()
            present = _has_addr(args.dev, args.addr)
            if present != last:
                out.write(json.dumps({"t": t, "present": present}) + "\n")
                out.flush()
                last = present
        out.write(json.dumps({"t": time.time(), "present": _has_addr(args.dev, args.addr), "end": True}) + "\n")
    return 0


def cmd_event(args) -> int:
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    t1 = time.time()
    print(json.dumps({"t_event": t0, "t_done": t1, "rc": res.returncode, "out": (res.stdout + res.stderr)[-2000:]}))
    return 0


# --------------------------------------------------------------------------- controller side
def _podman(args, container: str, *cmd: str, check: bool = True, timeout: float = 30) -> str:
    res = subprocess.run([args.podman, "exec", container, *cmd], capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise SystemExit(f"podman exec {container} {' '.join(cmd)}: rc={res.returncode}: {res.stderr.strip()}")
    return res.stdout


def _watch_pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        node, _, container = it.partition("=")
        out[node] = container or node
    return out


def _files(tag: str) -> dict[str, str]:
    return {"stop": f"{RUN_DIR}/{tag}.stop", "client": f"{RUN_DIR}/{tag}.client.jsonl", "watch": f"{RUN_DIR}/{tag}.watch.jsonl"}


def _parallel(args, jobs: list[tuple[str, str]], timeout: float = 30) -> list[str]:
    """Run one `sh -c SCRIPT` per container, all at once; their stdouts in order."""
    procs = [
        subprocess.Popen([args.podman, "exec", c, "sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c, script in jobs
    ]
    outs = []
    for (c, script), p in zip(jobs, procs, strict=True):
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise SystemExit(f"podman exec {c} sh -c {script!r}: rc={p.returncode}: {err.strip()}")
        outs.append(out)
    return outs


def _probes(args) -> list[tuple[str, str, str, list[str]]]:
    """(role, container, unit, probe argv) of every probe of this tag."""
    f = _files(args.tag)
    out = [("client", args.client, ["client", "--url", getattr(args, "url", ""), "--out", f["client"]])]
    out += [("watch", c, ["watch", "--addr", args.addr, "--dev", args.dev, "--out", f["watch"]]) for c in _watch_pairs(args.watch).values()]
    return [(role, c, f"halb-probe-{role}-{args.tag}", cmd) for role, c, cmd in out]


def cmd_start(args) -> int:
    f = _files(args.tag)
    jobs = []
    for role, container, unit, cmd in _probes(args):
        interval = args.client_interval if role == "client" else args.watch_interval
        # DefaultDependencies=no: not stopped early in a shutdown, so a watcher sees keepalived
        # let go of the VIP while its node reboots (it dies in the final kill, with the container)
        argv = ["systemd-run", "--quiet", "--collect", f"--unit={unit}", "-p", "DefaultDependencies=no", "python3", PROBE_PATH, *cmd]
        argv += ["--interval", str(interval), "--max-seconds", str(args.max_seconds), "--stop-file", f["stop"]]
        out = shlex.quote(f[role])
        # one exec per container: clean up, start the probe, wait (<= 10 s) for its first line
        jobs.append(
            (
                container,
                (
                    f"mkdir -p {RUN_DIR}; rm -f {f['stop']} {out}; systemctl reset-failed {unit} 2>/dev/null; "
                    f"{shlex.join(argv)} || exit 1; "
                    f"i=0; while [ ! -s {out} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; test -s {out}"
                ),
            )
        )
    _parallel(args, jobs)
    time.sleep(args.baseline)
    print(json.dumps({"started": args.tag, "t": time.time()}))
    return 0


def _holders(args, watch: dict[str, str]) -> list[str]:
    return sorted(
        n
        for n, c in watch.items()
        if any(
            a.get("local") == args.addr
            for link in json.loads(_podman(args, c, "ip", "-j", "addr", "show", "dev", args.dev) or "[]")
            for a in link.get("addr_info", [])
        )
    )


def cmd_wait(args) -> int:
    watch = _watch_pairs(args.watch)
    t0 = time.time()
    holders: list[str] = []
    while time.time() - t0 < args.timeout:
        holders = _holders(args, watch)
        if holders == [args.expect]:
            print(json.dumps({"ok": True, "t": time.time(), "waited_s": round(time.time() - t0, 3), "holders": holders}))
            return 0
        time.sleep(0.2)
    print(json.dumps({"ok": False, "t": time.time(), "waited_s": round(time.time() - t0, 3), "holders": holders}))
    return 0


def _read_jsonl(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line cut by the stop
    return out


def _copy_out(args, container: str, path: str) -> str:
    """A file of a container that is not running (podman cp reads its storage): its text,
    or "" when it is not there."""
    res = subprocess.run([args.podman, "cp", f"{container}:{path}", "-"], capture_output=True, timeout=30)
    if res.returncode != 0:
        return ""
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        data = tar.extractfile(member).read() if member else b""
    return data.decode("utf-8", "replace")


def cmd_stop(args) -> int:
    f = _files(args.tag)
    watch = _watch_pairs(args.watch)
    down = set(args.down)
    unknown = down - set(watch)
    if unknown:
        raise SystemExit(f"--down {', '.join(sorted(unknown))}: not a watched node")
    gone = {watch[n] for n in down}  # not running: their files are copied out below
    time.sleep(args.settle)
    jobs = []
    for role, container, unit, _cmd in _probes(args):
        if role == "watch" and container in gone:
            continue
        # one exec per container: stop file, wait (<= 5 s) for the probe to end, print, clean up
        jobs.append(
            (
                container,
                (
                    f"touch {f['stop']}; i=0; while systemctl -q is-active {unit} && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; "
                    f"systemctl stop {unit} 2>/dev/null; cat {f[role]} 2>/dev/null; rm -f {RUN_DIR}/{args.tag}.*; true"
                ),
            )
        )
    outs = dict(zip([c for c, _s in jobs], _parallel(args, jobs), strict=True))
    event = json.loads(args.event) if args.event else {}
    t_end = time.time()
    requests = _read_jsonl(outs[args.client])
    watches = {}
    for n, c in watch.items():
        if n in down:
            watches[n] = down_records(_read_jsonl(_copy_out(args, c, f["watch"])), float(event.get("t_done", t_end)), t_end)
        else:
            watches[n] = _read_jsonl(outs[c])
    mark = json.loads(args.mark)["t_event"] if args.mark else None
    s = summarise(requests, watches, float(event.get("t_event", time.time())), args.expect, mark)
    if args.unwatched:
        s = unwatched(s, args.unwatched)
    s.update(
        scenario=args.scenario,
        case=args.case,
        phase=args.phase,
        vip=args.addr,
        event_cmd_s=round(event["t_done"] - event["t_event"], 3) if "t_done" in event else None,
    )
    s["text"] = render(s)
    if args.results:
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "a", encoding="utf-8") as out:
            out.write(json.dumps({k: v for k, v in s.items() if k != "text"}, sort_keys=True) + "\n")
    print(json.dumps(s, sort_keys=True))
    return 0


def tls_get(host: str, port: int, cafile: str, timeout: float = 3.0) -> dict:
    """One HTTPS request to host:port, the certificate verified against cafile (names too: an IP
    host is checked against the certificate's IP names): the TLS version, the protocol ALPN chose
    when h2 is offered, the certificate's SHA-256, the status and X-HALB-Node. Raises on a
    certificate the CA did not sign or that does not name the host."""
    import hashlib
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((host, port), timeout=timeout) as raw, ctx.wrap_socket(raw, server_hostname=host) as s:
        alpn, version, der = s.selected_alpn_protocol(), s.version(), s.getpeercert(binary_form=True)
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context(cafile=cafile))
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        status, node = resp.status, resp.getheader("X-HALB-Node")
    finally:
        conn.close()
    return {"tls": version, "alpn": alpn, "sha256": hashlib.sha256(der or b"").hexdigest(), "status": status, "node": node}


def cmd_tls(args: argparse.Namespace) -> int:
    print(json.dumps(tls_get(args.host, args.port, args.cafile, args.timeout)))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="halb_probe", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def bounds(sp, interval):
        sp.add_argument("--out", required=True)
        sp.add_argument("--stop-file", required=True)
        sp.add_argument("--interval", type=float, default=interval)
        sp.add_argument("--max-seconds", type=float, default=60.0)
        sp.add_argument("--max-count", type=int, default=5000)

    sp = sub.add_parser("client")
    bounds(sp, 0.05)
    sp.add_argument("--url", required=True)
    sp.add_argument("--connect-timeout", type=float, default=0.2)
    sp.add_argument("--read-timeout", type=float, default=1.0)
    sp.set_defaults(func=cmd_client)

    sp = sub.add_parser("client-keepalive")
    bounds(sp, 0.05)
    sp.add_argument("--url", required=True)
    sp.add_argument("--connections", type=int, default=8)
    sp.add_argument("--connect-timeout", type=float, default=0.2)
    sp.add_argument("--read-timeout", type=float, default=1.0)
    sp.set_defaults(func=cmd_client_keepalive)

    sp = sub.add_parser("hold")
    sp.add_argument("--url", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--go-file", required=True)
    sp.add_argument("--max-seconds", type=float, default=300.0)
    sp.add_argument("--connect-timeout", type=float, default=2.0)
    sp.add_argument("--read-timeout", type=float, default=15.0)
    sp.set_defaults(func=cmd_hold)

    sp = sub.add_parser("tls")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, default=443)
    sp.add_argument("--cafile", required=True)
    sp.add_argument("--timeout", type=float, default=3.0)
    sp.set_defaults(func=cmd_tls)

    sp = sub.add_parser("watch")
    bounds(sp, 0.02)
    sp.add_argument("--addr", required=True)
    sp.add_argument("--dev", default="eth0")
    sp.set_defaults(func=cmd_watch)

    sp = sub.add_parser("event")
    sp.add_argument("--timeout", type=float, default=60.0)
    sp.add_argument("cmd", nargs=argparse.REMAINDER)
    sp.set_defaults(func=cmd_event)

    for name, func in (("start", cmd_start), ("wait", cmd_wait), ("stop", cmd_stop)):
        sp = sub.add_parser(name)
        # the engine's CLI: HALB_ENGINE (podman or docker, from the Molecule base config)
        sp.add_argument("--podman", default=os.environ.get("HALB_ENGINE") or os.environ.get("MOLECULE_PODMAN_EXECUTABLE", "podman"))
        sp.add_argument("--addr", required=True)
        sp.add_argument("--dev", default="eth0")
        sp.add_argument("--watch", action="append", default=[], help="NODE=CONTAINER")
        sp.set_defaults(func=func)
        if name in ("start", "stop"):
            sp.add_argument("--tag", required=True)
            sp.add_argument("--client", required=True)
        if name == "start":
            sp.add_argument("--url", required=True)
            sp.add_argument("--client-interval", type=float, default=0.05)
            sp.add_argument("--watch-interval", type=float, default=0.02)
            sp.add_argument("--max-seconds", type=float, default=60.0)
            sp.add_argument("--baseline", type=float, default=0.5)
        if name == "wait":
            sp.add_argument("--expect", required=True)
            sp.add_argument("--timeout", type=float, default=20.0)
        if name == "stop":
            sp.add_argument("--expect", required=True)
            sp.add_argument("--event", default="")
            sp.add_argument("--settle", type=float, default=0.5)
            sp.add_argument("--scenario", default="")
            sp.add_argument("--case", default="")
            sp.add_argument("--phase", default="")
            sp.add_argument("--results", default="")
            sp.add_argument("--down", action="append", default=[], help="a watched NODE whose container went down at the event")
            sp.add_argument("--mark", default="", help="a second event (JSON as --event): figures from it on too")
            sp.add_argument("--unwatched", action="append", default=[], help="an LB without a watcher in this phase")
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
