"""Run the lab commands of docs/lab.md as written, in a new shell, against a running lab.

Every fenced block after a `<!-- lab-commands NAME ... -->` marker in docs/lab.md (the
lab's page, linked from the README) is run
line by line with `bash -c` in the repository's top directory and an environment as
bare as a new login's (HOME, a standard PATH, nothing of the lab exported). A `. FILE`
or `source FILE` line is kept for the lines after it, as in a shell.

What a line claims is checked against the lab itself (`ip -j addr` on the LBs through
lab/bin/podman), never against the command's own output:
- after every line, each VIP has exactly one holder (within 15 s);
- `failover.yml -e node=N`: N holds no VIP; `-e restore=true`: every VIP is back where it
  was before that node's drain;
- `systemctl stop keepalived` on N: N holds no VIP; `systemctl start keepalived` with a
  comment `back on N`: the VIPs N held before the stop are on N again;
- a comment `# N answers`: the command's output names N (X-HALB-Node).

  scripts/lab up && .venv/bin/python lab/halb_lab/readme_commands.py [docs/lab.md]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from halb_lab import LAB, REPO, addresses
from halb_lab import holders as _holders

PODMAN = LAB / "bin" / "podman"
#: the page whose lab-commands blocks run (the README points to it)
LAB_DOC = REPO / "docs" / "lab.md"
MARKER = re.compile(r"<!--\s*lab-commands\s+([\w-]+).*?-->\s*\n```(?:sh|bash)?\n(.*?)\n```", re.S)
NEW_SHELL_ENV = {
    "HOME": os.environ.get("HOME", "/root"),
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}


def blocks(readme: str) -> list[tuple[str, list[str]]]:
    out = []
    for name, body in MARKER.findall(readme):
        lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        out.append((name, lines))
    return out


def lab_inventory() -> tuple[dict[str, str], list[str]]:
    """LB name -> container, and the VIPs (addresses), from the address plan (user `lab`)."""
    lab = addresses.load().users["lab"]
    return {n: lab.nodes[n].container for n in lab.pair}, [v.address for v in lab.vips]


def holders(lbs: dict[str, str], vips: list[str]) -> dict[str, list[str]]:
    return _holders.read(vips, lbs, _holders.engine_exec(str(PODMAN), timeout=20))


def wait_for(what: str, pred, lbs, vips, timeout: float = 15.0) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        h = holders(lbs, vips)
        if pred(h):
            return h
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout:.0f} s; holders now {h}")
        time.sleep(0.5)


def one_holder(h: dict[str, list[str]]) -> bool:
    return all(len(v) == 1 for v in h.values())


def released_by(node: str):
    return lambda h: one_holder(h) and all(node not in v for v in h.values())


def main(argv: list[str]) -> int:
    readme = Path(argv[1]) if len(argv) > 1 else LAB_DOC
    found = blocks(readme.read_text())
    if not found:
        print(f"no lab-commands blocks in {readme}", file=sys.stderr)
        return 1
    lbs, vips = lab_inventory()
    ran = failed = 0
    for name, lines in found:
        prelude: list[str] = []
        before: dict[str, dict[str, list[str]]] = {}
        for line in lines:
            if re.match(r"^(\.|source)\s", line.strip()):
                prelude.append(line.split("#", 1)[0].strip())
                continue
            ran += 1
            script = "; ".join([*prelude, "set -o pipefail", line.split(" #", 1)[0]])
            comment = line.split(" #", 1)[1].strip() if " #" in line else ""
            now = holders(lbs, vips)
            m_node = re.search(r"-e node=(\w+)", line)
            m_ka = re.search(r"shell (\w+) systemctl (stop|start) keepalived", line)
            if m_node and "restore=true" not in line:
                before[m_node.group(1)] = now
            if m_ka and m_ka.group(2) == "stop":
                before[m_ka.group(1)] = now
            t0 = time.monotonic()
            proc = subprocess.run(
                ["bash", "-c", script],
                cwd=REPO,
                env=NEW_SHELL_ENV,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            took = time.monotonic() - t0
            status = "ok"
            try:
                if proc.returncode != 0:
                    raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
                m_ans = re.search(r"\b(\w+) answers\b", comment)
                if m_ans and not re.search(rf"X-HALB-Node:\s*{m_ans.group(1)}\b", proc.stdout, re.I):
                    raise AssertionError(f"docs/lab.md says {m_ans.group(1)} answers; the output was:\n{proc.stdout}")
                if m_node and "restore=true" in line:
                    want = before.get(m_node.group(1))
                    if want is None:
                        raise AssertionError("a restore without a drain before it in the same block")
                    wait_for(f"every VIP back as before the drain of {m_node.group(1)} {want}", lambda h, w=want: h == w, lbs, vips)
                elif m_node:
                    node = m_node.group(1)
                    wait_for(f"{node} holds no VIP after its drain", released_by(node), lbs, vips)
                elif m_ka and m_ka.group(2) == "stop":
                    node = m_ka.group(1)
                    wait_for(f"{node} holds no VIP after keepalived stopped", released_by(node), lbs, vips)
                elif m_ka and m_ka.group(2) == "start":
                    node = m_ka.group(1)
                    want = before.get(node)
                    if want is None:
                        raise AssertionError("a start without a stop before it in the same block")
                    wait_for(f"{node}'s VIPs back on {node} ({comment})", lambda h, w=want: h == w, lbs, vips)
                wait_for("each VIP has exactly one holder", one_holder, lbs, vips)
            except AssertionError as e:
                failed += 1
                status = f"FAILED: {e}"
            print(f"[{name}] {took:6.1f} s  {line}\n          {status}", flush=True)
            if failed:
                break
        if failed:
            break
    print(f"lab commands of {readme.name}: {ran - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
