# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own module_utils files, as files to write on a node: the node-side
scripts import the very code the modules and filters run (one source)."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

from ansible.errors import AnsibleFilterError

DOCUMENTATION = """
  name: node_files
  short_description: The collection's module_utils files to install on a node, as halb.pair.files entries
  version_added: 0.2.0
  description:
    - For each name (C(_placement), C(_watch) ...) the content of the collection's own
      C(plugins/module_utils/NAME.py), to be written as C(DIRECTORY/NAME.py), root-owned, mode 0644.
    - The keepalived role installs the watcher's modules with it (a package next to the watcher),
      so the node judges placement with the code C(status.yml) runs.
  positional: directory
  options:
    _input:
      description: Module names, each C(_) followed by lower-case letters, digits and C(_).
      type: list
      elements: str
      required: true
    directory:
      description: The absolute directory on the node.
      type: str
      required: true
"""

EXAMPLES = """
- name: The watcher's modules
  halb.pair.files:
    files: "{{ ['_placement', '_ipaddr'] | halb.pair.node_files('/usr/local/libexec/halb-pair/halb_pair') }}"
"""

RETURN = """
  _value:
    description: One entry per module - C(path), C(content), C(owner), C(group), C(mode).
    type: list
    elements: dict
"""

MODULE_UTILS = Path(__file__).resolve().parents[1] / "module_utils"
NAME = re.compile(r"_[a-z][a-z0-9_]*")


def node_files(modules: t.Sequence[str], directory: str) -> list[dict[str, str]]:
    if not isinstance(directory, str) or not directory.startswith("/"):
        raise AnsibleFilterError(f"node_files: expected an absolute directory, found {directory!r}")
    out = []
    for name in modules:
        path = MODULE_UTILS / f"{name}.py"
        if not isinstance(name, str) or not NAME.fullmatch(name) or not path.is_file():
            raise AnsibleFilterError(f"node_files: expected the name of a module of {MODULE_UTILS}, found {name!r}")
        out.append({"path": f"{directory.rstrip('/')}/{name}.py", "content": path.read_text(encoding="utf-8"),
                    "owner": "root", "group": "root", "mode": "0644"})
    return out


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"node_files": node_files}
