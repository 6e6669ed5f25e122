# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a role's variables against its ``meta/argument_specs.yml``, in the preflight.

Ansible checks a role's argument spec only when the role's ``main`` runs, after
the plays before it changed their hosts. The preflight calls :func:`check` on the
controller first, so a wrong type is refused before any host is touched, with a
message in the house style: the variable (with its path inside lists and
mappings), the host, the value found and what is allowed.

The conversions of scalars follow Ansible's own (``ansible.module_utils.common.validation``):
``"3"`` is an int, ``"yes"`` a bool, so an extra var (a string) is accepted where
the role's own validation accepts it. Stricter than Ansible, because the converted
value is not what the roles then read (Ansible does not write it back): a string is
not taken for a list (``"a,b"``) or a mapping (JSON text), a number not for a list,
a bool not for an int or a float, and a list or a mapping not for a string.

Stricter types per value slot in through ``value_checks``: a mapping from an
option path (``nginx_lb_upstreams[].servers[].port``) to a function that gets the
converted value and returns ``None`` (fine) or the text of what is allowed.

Pure code: no Ansible imports.
"""

from __future__ import annotations

import decimal
import typing as t

#: ``value -> None | "what is allowed"``, run after the spec's own type check.
ValueCheck = t.Callable[[t.Any], "str | None"]

TRUE = frozenset(("y", "yes", "on", "1", "true", "t", 1, 1.0, True))
FALSE = frozenset(("n", "no", "off", "0", "false", "f", 0, 0.0, False))

ALLOWED = {
    "str": "a string",
    "path": "a path (a string)",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "list": "a list",
    "dict": "a mapping",
    "raw": "any value",
}


class _Refused(ValueError):
    pass


def _to_str(value: t.Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        raise _Refused(ALLOWED["str"])
    return str(value)


def _to_int(value: t.Any) -> int:
    if isinstance(value, bool):
        raise _Refused(ALLOWED["int"])
    if isinstance(value, int):
        return value
    number = None
    if isinstance(value, (str, float)):
        try:
            number = decimal.Decimal(value.strip() if isinstance(value, str) else repr(value))
        except decimal.DecimalException:
            number = None
    if number is None or not number.is_finite() or number != int(number):
        raise _Refused(ALLOWED["int"])
    return int(number)


def _to_float(value: t.Any) -> float:
    if isinstance(value, bool):
        raise _Refused(ALLOWED["float"])
    if isinstance(value, float):
        return value
    if isinstance(value, (int, str)):
        try:
            return float(value)
        except ValueError:
            pass
    raise _Refused(ALLOWED["float"])


def _to_bool(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    key = value.lower().strip() if isinstance(value, str) else value
    if isinstance(key, (str, int, float)):
        if key in TRUE:
            return True
        if key in FALSE:
            return False
    raise _Refused(ALLOWED["bool"])


def _to_list(value: t.Any) -> list[t.Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise _Refused(ALLOWED["list"])


def _to_dict(value: t.Any) -> dict[t.Any, t.Any]:
    if isinstance(value, t.Mapping):
        return dict(value)
    raise _Refused(ALLOWED["dict"])


CONVERT: dict[str, t.Callable[[t.Any], t.Any]] = {
    "str": _to_str,
    "path": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "list": _to_list,
    "dict": _to_dict,
    "raw": lambda value: value,
}


def _type_name(value: t.Any) -> str:
    for kind, name in ((type(None), "null"), (bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list")):
        if isinstance(value, kind):
            return name
    return "dict" if isinstance(value, t.Mapping) else type(value).__name__


class Checker:
    """One role's options checked for one host; collects every problem."""

    def __init__(
        self,
        host: str,
        secrets: t.Collection[str] = (),
        value_checks: t.Mapping[str, ValueCheck] | None = None,
    ) -> None:
        self.host = host
        self.secrets = set(secrets)
        self.value_checks = dict(value_checks or {})
        self.problems: list[str] = []

    def _show(self, name: str, value: t.Any, secret: bool) -> str:
        if secret:
            return f"<secret of {len(str(value))} characters>" if value is not None else "null"
        text = repr(value)
        return text if len(text) <= 200 else text[:197] + "..."

    def _refuse(self, path: str, value: t.Any, secret: bool, allowed: str) -> None:
        self.problems.append(
            f"{path} on {self.host}: found {self._show(path, value, secret)} ({_type_name(value)}); allowed: {allowed}"
        )

    def value(self, path: str, pattern: str, spec: t.Mapping[str, t.Any], value: t.Any, secret: bool = False) -> t.Any:
        """The converted value, or ``value`` unchanged after recording a problem."""
        secret = secret or bool(spec.get("no_log"))
        kind = spec.get("type", "str")
        convert = CONVERT.get(kind)
        if convert is None:
            raise ValueError(f"{path}: the argument spec names type {kind!r}, which the preflight does not know")
        try:
            converted = convert(value)
        except _Refused as exc:
            # a mapping that holds a secret (tls: {key}) given as a scalar may be that secret
            holds_secret = kind == "dict" and any(o.get("no_log") for o in (spec.get("options") or {}).values())
            self._refuse(path, value, secret or holds_secret, str(exc))
            return value
        elements = spec.get("elements")
        if kind == "list" and elements:
            element_spec = {"type": elements, **({"options": spec["options"]} if "options" in spec else {})}
            if "choices" in spec:
                element_spec["choices"] = spec["choices"]
            converted = [
                self.value(f"{path}[{i}]", f"{pattern}[]", element_spec, item, secret) for i, item in enumerate(converted)
            ]
        elif kind == "dict" and "options" in spec:
            converted = self.options(path, pattern, spec["options"], converted, secret)
        elif "choices" in spec and converted not in spec["choices"]:
            choices = ", ".join(str(c) for c in spec["choices"])
            self._refuse(path, value, secret, f"one of {choices}")
            return value
        check = self.value_checks.get(pattern)
        if check is not None:
            allowed = check(converted)
            if allowed:
                self._refuse(path, value, secret, allowed)
        return converted

    def options(
        self, path: str, pattern: str, options: t.Mapping[str, t.Mapping[str, t.Any]], values: t.Any, secret: bool = False
    ) -> t.Any:
        """A mapping checked against ``options``: known keys only, required ones present."""
        if not isinstance(values, t.Mapping):
            self._refuse(path, values, secret, ALLOWED["dict"])
            return values
        unknown = sorted(str(k) for k in values if k not in options)
        if unknown:
            self.problems.append(
                f"{path} on {self.host}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(options))}"
            )
        out = dict(values)
        for name, spec in options.items():
            sub, subpattern = f"{path}.{name}", f"{pattern}.{name}"
            if name not in values:
                if spec.get("required"):
                    self.problems.append(f"{sub} on {self.host}: missing; allowed: {_allowed(spec)} (required)")
                continue
            if values[name] is None and not spec.get("required") and spec.get("default") is None:
                continue
            if values[name] is None:
                self._refuse(sub, None, secret, f"{_allowed(spec)} (required)")
                continue
            out[name] = self.value(sub, subpattern, spec, values[name], secret)
        return out


def _allowed(spec: t.Mapping[str, t.Any]) -> str:
    text = ALLOWED.get(spec.get("type", "str"), str(spec.get("type")))
    if spec.get("elements"):
        text += f" of {ALLOWED.get(spec['elements'], spec['elements'])}"
    if "choices" in spec:
        text += ", one of " + ", ".join(str(c) for c in spec["choices"])
    return text


def check(
    options: t.Mapping[str, t.Mapping[str, t.Any]],
    values: t.Mapping[str, t.Any],
    host: str,
    secrets: t.Collection[str] = (),
    value_checks: t.Mapping[str, ValueCheck] | None = None,
) -> tuple[dict[str, t.Any], list[str]]:
    """Check the role variables ``values`` (as the host sees them) against the spec's ``options``.

    Returns the values converted as Ansible converts them, and every problem found
    (empty: all fine). Variables the spec does not name are passed through
    unchecked; options absent from ``values`` are skipped (their defaults apply).
    ``secrets`` names options never quoted (``no_log: true`` in the spec counts too).
    """
    checker = Checker(host, secrets, value_checks)
    out = dict(values)
    for name, spec in options.items():
        if name not in values:
            continue
        value = values[name]
        if value is None and not spec.get("required") and spec.get("default") is None:
            continue
        out[name] = checker.value(name, name, spec, value, name in checker.secrets)
    return out, checker.problems
