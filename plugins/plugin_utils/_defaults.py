# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' defaults, read from the roles themselves: the one source.

``roles/keepalived/defaults/main.yml`` and ``roles/nginx/defaults/main.yml`` are what a
user reads (and what ``meta/argument_specs.yml`` mirrors, checked by a test); the pair
model (``_pair``, ``_topology``) reads its defaults from those files in the collection's
own tree instead of keeping a copy. Only literal values are taken: a default the model
needs must not be a Jinja expression (the controller-side model cannot template it).

Pure code: no Ansible imports; runs on the controller only (filters, the lab scripts).
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

#: The collection's roles directory (…/ansible_collections/halb/pair/roles).
ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
#: The roles whose defaults the model reads, in the order they are merged.
ROLES = ("keepalived", "nginx")


class DefaultsError(ValueError):
    """A defaults file is missing or holds something the model cannot use."""


def _templated(value: t.Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def read_defaults(roles_dir: Path | str = ROLES_DIR, roles: t.Sequence[str] = ROLES) -> dict[str, t.Any]:
    """Every role's ``defaults/main.yml`` merged; templated values are left out
    (the model never needs them, and cannot evaluate them)."""
    # PyYAML is on the controller (Ansible needs it), not necessarily on a node: import it
    # here, where only the controller's filters call, not when a module imports this file
    import yaml  # pylint: disable=import-outside-toplevel

    out: dict[str, t.Any] = {}
    for role in roles:
        path = Path(roles_dir) / role / "defaults" / "main.yml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise DefaultsError(f"cannot read the defaults of role {role}: {path}: {exc.strerror}") from None
        if not isinstance(data, dict):
            raise DefaultsError(f"{path}: expected a mapping of variables, found {type(data).__name__}")
        for key, value in data.items():
            if not _templated(value):
                out[key] = value
    return out


@functools.cache
def role_defaults() -> dict[str, t.Any]:
    """The collection's own role defaults (read once per process)."""
    return read_defaults()


@functools.cache
def role_options(role: str, roles_dir: Path | str = ROLES_DIR) -> dict[str, t.Any]:
    """The options of a role's ``main`` entry point, its ``meta/argument_specs.yml``: the one
    declaration of each role variable (the settings the model reads and the strict types
    of the simple ones derive from it)."""
    import yaml  # pylint: disable=import-outside-toplevel  # controller only, as above

    path = Path(roles_dir) / role / "meta" / "argument_specs.yml"
    try:
        return dict(yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"])
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise DefaultsError(f"expected the argument spec of role {role} in {path}, found {exc!r}") from None


def pick(defaults: t.Mapping[str, t.Any], keys: t.Iterable[str]) -> dict[str, t.Any]:
    """The defaults of ``keys``; a key the roles do not define literally is an error."""
    missing = [k for k in keys if k not in defaults]
    if missing:
        raise DefaultsError(f"the role defaults define no literal value for {missing!r}")
    return {k: defaults[k] for k in keys}
