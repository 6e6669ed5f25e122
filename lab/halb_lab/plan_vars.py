# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's address plan (lab/addresses.yml) as inventory variables, for the plan's users only:
the vars plugin lab/plugins/vars/halb_lab_plan.py (which holds its documentation) is this.

Not part of the collection: enabled by the repository's ansible.cfg (``vars_plugins =
lab/plugins/vars``, ``vars_plugins_enabled = ansible.builtin.host_group_vars, halb_lab_plan``)
and by lab/molecule/config.yml's env for Molecule.
"""

from __future__ import annotations

import os
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.inventory.group import Group
from ansible.inventory.host import Host
from ansible.plugins.vars import BaseVarsPlugin
from ansible.template import trust_as_template

from halb_lab import LAB, addresses

#: the group keepalived's values go to (the base's keepalived_group in every user)
PAIR_GROUP = "lb"


_cache: dict[tuple, addresses.Plan] = {}


def _plan(path: Path) -> addresses.Plan:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _cache:
        plan = addresses.load(path)
        found = addresses.problems(plan)
        if found:
            raise AnsibleError(f"{path}: the address plan has problems (scripts/lab plan):\n" + "\n".join(found))
        _cache.clear()
        _cache[key] = plan
    return _cache[key]


def _under(path: str, top: str | None) -> bool:
    if not top:
        return False
    p, t = os.path.realpath(path), os.path.realpath(top)
    return p == t or p.startswith(t.rstrip(os.sep) + os.sep)


def _trusted(value):
    """Strings as an inventory file's are (trusted): plain str from a plugin would show as
    ``{"__ansible_unsafe": ...}`` in ``ansible-inventory --list``, which lab_report reads."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def plan_user(path: str, env=os.environ) -> str | None:
    """The plan user whose inventory source is at path (a directory), or None."""
    if _under(path, str(LAB / "inventory")):
        return "lab"
    if _under(path, str(LAB / "vm" / "inventory")):
        return "vm-lvs"
    scenario = env.get("MOLECULE_SCENARIO_NAME")
    if scenario and _under(path, env.get("MOLECULE_EPHEMERAL_DIRECTORY")):
        return f"molecule-{scenario}"
    if env.get("HALB_LAB_PLAN_USER") and _under(path, env.get("HALB_LAB_PLAN_INVENTORY")):
        return env["HALB_LAB_PLAN_USER"]
    return None


class VarsModule(BaseVarsPlugin):
    REQUIRES_ENABLED = True

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        name = plan_user(path)
        if name is None:
            return {}
        plan = _plan(addresses.PLAN)
        if name not in plan.users:
            raise AnsibleError(f"{addresses.PLAN}: no user {name!r} for the inventory {path} (lab/README.md: how to add a user)")
        user = plan.users[name]
        if not isinstance(entities, list):
            entities = [entities]
        data: dict = {}
        for entity in entities:
            if isinstance(entity, Host):
                data.update(user.host_vars(entity.name))
            elif isinstance(entity, Group):
                data.update(user.group_vars(entity.name, PAIR_GROUP))
        return _trusted(data)
