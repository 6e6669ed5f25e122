"""Run the real ansible-playbook of the Python running the tests (the repo's .venv) against throw-away local hosts.

Used by the rendering and preflight tests: fake hosts lb1, lb2, ... all with
`ansible_connection: local`, so the roles' own templates and preflight run for real
while every path they write points into a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# The bin directory of the Python running the tests: the .venv lab/bin/bootstrap made, for
# scripts/test and ansible-test units alike; never a path spelled out here.
VENV_BIN = Path(sys.executable).parent
LIBEXEC = REPO / "roles" / "keepalived" / "files" / "libexec"


def default_interface() -> str:
    """The interface of the host's default route (keepalived -t checks it exists)."""
    out = subprocess.run(["ip", "-j", "route", "show", "default"], capture_output=True, text=True, check=False).stdout
    try:
        return json.loads(out)[0]["dev"]
    except (ValueError, IndexError, KeyError):
        return "lo"


@dataclass
class Run:
    rc: int
    output: str
    outdir: Path

    def conf(self, host: str, name: str = "keepalived.conf") -> str:
        return (self.outdir / host / name).read_text()


def write_inventory(tmp: Path, hosts: list[str], group_vars: dict, host_vars: dict | None = None) -> Path:
    inv = {
        "all": {
            "children": {
                "lb": {
                    "hosts": {
                        h: {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python"),
                            **(host_vars or {}).get(h, {})}
                        for h in hosts
                    },
                    "vars": group_vars,
                }
            }
        }
    }
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def safe_libexec(tmp: Path) -> Path:
    """A root-owned 0755 copy of the role's scripts (keepalived's script security
    refuses scripts in directories writable by others)."""
    d = tmp / "libexec"
    if not d.exists():
        shutil.copytree(LIBEXEC, d)
        os.chmod(d, 0o755)
        os.chmod(tmp, 0o755)
    return d


def run_playbook(tmp: Path, playbook: Path, hosts: list[str], group_vars: dict,
                 host_vars: dict | None = None, extra: list[str] | None = None,
                 inventory: Path | None = None) -> Run:
    """``inventory``: an existing inventory instead of the fake ``lb`` group (its hosts
    are then reached locally through extra vars, ``hosts`` names them for the output dirs)."""
    tmp.mkdir(parents=True, exist_ok=True)
    outdir = tmp / "out"
    for h in hosts:
        (outdir / h).mkdir(parents=True, exist_ok=True)
    if inventory is None:
        inv = write_inventory(tmp, hosts, group_vars, host_vars)
    else:
        inv = inventory
        extra = ["-e", "ansible_connection=local", "-e", f"ansible_python_interpreter={VENV_BIN / 'python'}", *(extra or [])]
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"),
        "HALB_OUT": str(outdir),
        "HALB_LIBEXEC": str(safe_libexec(tmp)),
    })
    # the keepalived role's contract file goes to each host's output directory, never to this
    # machine's /etc/keepalived (a role var: only an extra var overrides it)
    contract = ["-e", f"__keepalived_contract_file={outdir}/{{{{ inventory_hostname }}}}/halb-pair-contract.json"]
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inv), str(playbook), *contract, *(extra or [])]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return Run(proc.returncode, proc.stdout + proc.stderr, outdir)
