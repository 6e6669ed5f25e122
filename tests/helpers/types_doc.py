"""docs/types.md from plugins/plugin_utils/_types.py (one source: a unit test keeps them equal)."""

from __future__ import annotations

from ansible_collections.halb.pair.plugins.plugin_utils import _types as T

HEAD = """# Types of the values that reach a configuration file

Generated from `plugins/plugin_utils/_types.py` (`table(role, explicit_only=True)`); a unit
test keeps this page equal to it (`.venv/bin/python -m tests.helpers.types_doc > docs/types.md`
rewrites it). Every role variable that a template renders is one of these types, or refused
before any host changes (`check_role_vars(role, host, hostvars)`), with the variable, the
host, the value found (never a secret's) and what is allowed.

A variable whose argument spec states its type (`type: bool`, `choices`, or `type: int` /
`float` with its range `C(LO)..C(HI)` in its description: an integer or seconds within it,
or null when it has no default) is typed from its spec and not listed here: see
`ansible-doc -t role halb.pair.keepalived` (or `halb.pair.nginx`).
"""


def _types(spec, found: dict) -> None:
    if isinstance(spec, T.Type):
        found.setdefault(spec.name, spec)
    elif isinstance(spec, T.ListOf):
        _types(spec.item, found)
    elif isinstance(spec, T.MapOf):
        _types(spec.key, found)
        _types(spec.value, found)
    elif isinstance(spec, T.Record):
        for sub in spec.fields.values():
            _types(sub, found)
    elif isinstance(spec, T.Vip):
        _types(T._VIP_RECORD, found)
    elif isinstance(spec, T.ScalarOr):
        _types(spec.scalar, found)
        _types(spec.record, found)


def render() -> str:
    out = [HEAD]
    for role in T.EXPLICIT:
        out += [f"\n## {role}\n", "| variable path | type |", "|---|---|"]
        out += [f"| `{path}` | {ty} |" for path, ty in T.table(role, explicit_only=True)]
    found: dict = {ty.name: ty for ty in (T.ADVERT_INT_V2, T.ADVERT_INT_V3)}
    for role in T.EXPLICIT.values():
        for spec in role.values():
            _types(spec, found)
    types = [found[k] for k in sorted(found)]
    out += ["\n## The types\n", "| type | allowed |", "|---|---|"]
    out += [f"| {ty.name} | {ty.allowed.replace('|', '/')} |" for ty in types]
    out += ["\n## Not rendered (no type needed)\n", "| variable | why |", "|---|---|"]
    out += [f"| `{k}` | {why} |" for k, why in T.NOT_RENDERED.items()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
