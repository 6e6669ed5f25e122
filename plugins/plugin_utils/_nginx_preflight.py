# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx role's preflight: rules across its variables, for one host.

The variables are first checked against ``roles/nginx/meta/argument_specs.yml``
(``_argspec.check``, which also converts them as Ansible does); the rules below then
read the converted values. Every message names the variable, the host, the value
found and what is allowed (the same texts as the Jinja asserts this replaces).

Pure code: no Ansible imports.
"""

from __future__ import annotations

import re
import typing as t

from ._argspec import ValueCheck
from ._argspec import check as check_types
from ._types import URI_PATH, check_role_vars

DEFAULT_METHOD = "round_robin"
DEFAULT_PORT = 80
DEFAULT_LISTEN = "80"
STREAM_METHODS = ("round_robin", "least_conn", "hash")
UPSTREAM_METHODS = (*STREAM_METHODS, "ip_hash")
BACKUP_METHODS = ("round_robin", "least_conn")
_DIGITS = re.compile(r"[0-9]+")

#: Stricter checks per value (see ``_argspec``); empty until values are typed further.
VALUE_CHECKS: dict[str, ValueCheck] = {}
#: The variable a message is about (its first word: ``nginx_lb_servers[0].listen[0] on lb1: ...``).
_VAR = re.compile(r"^[a-z][a-z0-9_]*")


def _entries(values: t.Mapping[str, t.Any], name: str) -> list[t.Mapping[str, t.Any]]:
    """The mappings of a list variable (entries of a wrong type were refused by the type check)."""
    raw = values.get(name) or []
    return [e for e in raw if isinstance(e, t.Mapping)] if isinstance(raw, list) else []


def _port_ok(text: str) -> bool:
    return bool(_DIGITS.fullmatch(text)) and 1 <= int(text) <= 65535


def listen_port(listen: t.Any) -> str:
    """The port of a listen value: ``PORT``, ``ADDRESS:PORT`` or ``[IPV6]:PORT``, then parameters."""
    words = str(listen).split()
    return (words[0] if words else "").rsplit(":", 1)[-1]


def _something_to_balance(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    if values.get("nginx_lb_servers") or values.get("nginx_lb_streams"):
        return []
    return [f"nginx_lb_servers and nginx_lb_streams are both empty on {host}: define at least one HTTP server or one TCP stream."]


def _unique_names(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    errors = []
    for var in ("nginx_lb_upstreams", "nginx_lb_streams"):
        names = [str(e.get("name")) for e in _entries(values, var)]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            errors.append(f"{var} on {host} names more than one entry {', '.join(dups)}; every name must be unique.")
    return errors


def _methods_and_servers(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    errors = []
    for var, methods in (("nginx_lb_upstreams", UPSTREAM_METHODS), ("nginx_lb_streams", STREAM_METHODS)):
        for entry in _entries(values, var):
            method = entry.get("method") or DEFAULT_METHOD
            servers = entry.get("servers") or []
            backups = [s for s in servers if isinstance(s, t.Mapping) and s.get("backup")]
            hash_key = entry.get("hash_key")
            ok = (
                method in methods
                and (method != "hash" or bool(str(hash_key or "")))
                and len(servers) > 0
                and (method not in ("hash", "ip_hash") or not backups)
            )
            if not ok:
                errors.append(
                    f"{var} entry {entry.get('name')} on {host}: method={method} "
                    f"hash_key={'(none)' if 'hash_key' not in entry else hash_key} servers={len(servers)}. "
                    f"Allowed: method one of {', '.join(methods)}; hash needs a non-empty hash_key; "
                    "at least one server; backup servers only with round_robin or least_conn."
                )
    return errors


def _server_addresses(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    errors = []
    for var in ("nginx_lb_upstreams", "nginx_lb_streams"):
        for entry in _entries(values, var):
            for server in entry.get("servers") or []:
                if not isinstance(server, t.Mapping):
                    continue
                address = server.get("address")
                port = server.get("port", DEFAULT_PORT)
                if str(address or "") and _port_ok(str(port)):
                    continue
                errors.append(
                    f"{var} entry {entry.get('name')} on {host} has a server with "
                    f"address={'(none)' if 'address' not in server else address} port={port}. "
                    "Allowed: a non-empty address and an integer port in 1..65535."
                )
    return errors


def _upstream_references(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    names = [e.get("name") for e in _entries(values, "nginx_lb_upstreams")]
    errors = []
    for server in _entries(values, "nginx_lb_servers"):
        if server.get("upstream", "") in names:
            continue
        errors.append(
            f"nginx_lb_servers entry {server.get('server_name', '_')} on {host} "
            f"references upstream '{server.get('upstream', '(none)')}'. "
            f"Allowed: one of the names in nginx_lb_upstreams ({', '.join(str(n) for n in names)})."
        )
    return errors


def _listens(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    items: list[tuple[str, t.Any]] = [("nginx_lb_health_listen", values.get("nginx_lb_health_listen", ""))]
    for server in _entries(values, "nginx_lb_servers"):
        items += [("nginx_lb_servers", v) for v in server.get("listen", [DEFAULT_LISTEN]) or []]
    for stream in _entries(values, "nginx_lb_streams"):
        # A stream needs at least one listen: none counts as an empty one.
        items += [("nginx_lb_streams", v) for v in stream.get("listen") or [""]]
    errors = []
    for var, listen in items:
        port = listen_port(listen)
        if not _port_ok(port):
            errors.append(
                f"{var} on {host} has listen '{listen}' (port '{port}'). "
                "Allowed: PORT, ADDRESS:PORT or [IPV6]:PORT with PORT in 1..65535, optionally followed by parameters."
            )
    return errors


def _health_listen(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    """The health listen must be reachable by the peers (their hand-over requests it): the
    pair model's rule (``_pair.health_listen_problem``), here without the node's address
    (the keepalived preflight checks that one against it)."""
    from ._pair import HEALTH_LISTEN_ALLOWED, health_listen_problem  # pylint: disable=import-outside-toplevel

    listen = str(values.get("nginx_lb_health_listen", "")).strip()
    problem, _bound, port = health_listen_problem(listen, None)
    if not problem or port is None:  # a port that is no port: _listens says so
        return []
    return [f"nginx_lb_health_listen on {host} is '{listen}': {problem}. Allowed: {HEALTH_LISTEN_ALLOWED}."]


def _health_path(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    path = values.get("nginx_lb_health_path", "")
    if isinstance(path, str) and URI_PATH.accepts(path):  # the type the pair model checks it with too
        return []
    return [f"nginx_lb_health_path on {host} is '{path}'. Allowed: {URI_PATH.allowed} (keepalived requests it)."]


#: Directives the role writes itself in each block, and what sets them instead: refused in the
#: escape hatch, where a second one would be added silently (nginx accepts two access_log, listen
#: or server_name) and pass around the role's own checks (a listen's type, the VIP sysctl).
#: Other directives the role writes once (sendfile, proxy_timeout, ...) nginx -t refuses as
#: duplicates before the file is written.
MODELED_DIRECTIVES: dict[str, dict[str, str]] = {
    "nginx_lb_http_directives": {"access_log": "nginx_lb_access_log"},
    "nginx_lb_servers": {"listen": "the server's listen", "server_name": "the server's server_name",
                         "ssl_certificate": "the server's tls", "ssl_certificate_key": "the server's tls"},
    "nginx_lb_streams": {"listen": "the stream's listen", "proxy_pass": "the stream's servers"},
}


def _directives(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    """No directive the role writes itself in that block (the paths as the types name them)."""
    blocks: list[tuple[str, str, t.Any]] = [("nginx_lb_http_directives", "nginx_lb_http_directives", values.get("nginx_lb_http_directives"))]
    for var, label in (("nginx_lb_servers", "upstream"), ("nginx_lb_streams", "name")):
        raw = values.get(var)
        for j, entry in enumerate(raw if isinstance(raw, list) else []):
            if isinstance(entry, t.Mapping):
                blocks.append((var, f"{var}[{j}] ({entry.get(label)}).directives", entry.get("directives")))
    errors = []
    for var, where, items in blocks:
        for i, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("name") if isinstance(item, t.Mapping) else None
            use = MODELED_DIRECTIVES[var].get(name) if isinstance(name, str) else None
            if use:
                errors.append(f"{where}[{i}] ({name}) on {host}: the role writes {name} itself. "
                              f"Allowed: a directive the role does not write; set {use} instead.")
    return errors


def _where(listen: t.Any) -> tuple[str, str]:
    """(address, port) of a listen, the wildcard forms as one: ``80``, ``*:80`` and ``0.0.0.0:80``."""
    first = (str(listen).split() or [""])[0]
    address, _sep, port = first.rpartition(":")
    return ("*" if address in ("", "*", "0.0.0.0") else address.lower()), port


def _names(server: t.Mapping[str, t.Any]) -> set[str]:
    raw = server.get("server_name", "_")
    return set(raw.split() if isinstance(raw, str) else [str(n) for n in raw or []])


def _tls(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    """TLS servers: one pair per name; plain and TLS servers never share an address and port
    (nginx would make the port TLS for both); a port-80 redirect never shares an address, port
    and name with another server (nginx would answer only one of them)."""
    from ._nginx_tls import DEFAULT_LISTEN, key_matches, material_id, redirect_listen  # pylint: disable=import-outside-toplevel
    from ._types import PEM_CERTIFICATE, PEM_PRIVATE_KEY  # pylint: disable=import-outside-toplevel

    errors = []
    raw = values.get("nginx_lb_servers")
    servers = [(j, e) for j, e in enumerate(raw if isinstance(raw, list) else []) if isinstance(e, t.Mapping)]
    pairs: dict[str, tuple[str, str]] = {}
    # (address, port) -> [(what, is_tls, names)] of every server nginx would get, the health server too
    sockets: dict[tuple[str, str], list[tuple[str, bool, set[str]]]] = {}
    health = values.get("nginx_lb_health_listen", "")
    sockets.setdefault(_where(health), []).append(("nginx_lb_health_listen", False, {"_"}))
    for j, server in servers:
        what = f"nginx_lb_servers[{j}] ({server.get('upstream')})"
        tls = server.get("tls")
        if not isinstance(tls, t.Mapping):
            for listen in server.get("listen") or ["80"]:
                sockets.setdefault(_where(listen), []).append((what, False, _names(server)))
            continue
        name = str(tls.get("name"))
        certificate, key = tls.get("certificate"), tls.get("key")
        if PEM_CERTIFICATE.accepts(certificate) and PEM_PRIVATE_KEY.accepts(key) and key_matches(certificate, key) is False:
            errors.append(f"{what} on {host}: tls.key ({name}) is not the private key of the first certificate in "
                          "tls.certificate. Allowed: the key of the server's certificate, the certificate first in the chain.")
        ident = material_id(str(certificate or ""), str(key or ""))
        first = pairs.setdefault(name, (what, ident))
        if first[1] != ident:
            errors.append(f"{what} on {host}: tls.name {name} is also the name of {first[0]}'s certificate and key, and "
                          "these differ. Allowed: one name per certificate and key (the files are named after it).")
        listens = server.get("listen") or [DEFAULT_LISTEN]
        for listen in listens:
            sockets.setdefault(_where(listen), []).append((what, True, _names(server)))
        if tls.get("redirect_http"):
            on_80 = [str(x) for x in listens if _where(x)[1] == "80"]
            if on_80:
                errors.append(f"{what} on {host} has tls.redirect_http and the TLS listen '{on_80[0]}' on port 80, where "
                              "the redirect listens. Allowed: redirect_http with TLS listens on other ports.")
            for where in dict.fromkeys(_where(redirect_listen(str(x))) for x in listens):
                sockets.setdefault(where, []).append((f"{what}'s redirect_http", False, _names(server)))
    for (address, port), users in sockets.items():
        for i, (what, is_tls, names) in enumerate(users):
            for other, other_tls, other_names in users[:i]:
                if is_tls != other_tls:
                    errors.append(f"{what} on {host} listens on {address}:{port} with{'' if is_tls else 'out'} TLS, "
                                  f"{other} with{'' if other_tls else 'out'}: nginx would make that port TLS for both. "
                                  "Allowed: plain and TLS servers on different ports or addresses.")
                elif "redirect_http" in what + other and names & other_names:
                    errors.append(f"{what} on {host} listens on {address}:{port} for {', '.join(sorted(names & other_names))}, "
                                  f"as {other} does: nginx would answer only one of them. Allowed: the redirect's port 80 "
                                  "free of other servers with the same server_name.")
    return errors


def _status_path(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    """The stub_status page is a second exact location of the health server: not the health path."""
    status = values.get("nginx_lb_status_path")
    if status is None or status != values.get("nginx_lb_health_path"):
        return []
    return [f"nginx_lb_status_path on {host} is '{status}', the health path too. "
            "Allowed: null (no status page) or another path than nginx_lb_health_path."]


#: The rules in the order their messages are listed.
RULES: tuple[t.Callable[[str, t.Mapping[str, t.Any]], list[str]], ...] = (
    _something_to_balance,
    _unique_names,
    _methods_and_servers,
    _server_addresses,
    _upstream_references,
    _listens,
    _health_listen,
    _health_path,
    _status_path,
    _directives,
    _tls,
)


def check_rules(host: str, values: t.Mapping[str, t.Any]) -> list[str]:
    """Every rule ``values`` (converted role variables of ``host``) break."""
    errors: list[str] = []
    for rule in RULES:
        errors.extend(rule(host, values))
    return errors


def check(
    host: str,
    values: t.Mapping[str, t.Any],
    options: t.Mapping[str, t.Mapping[str, t.Any]],
    value_checks: t.Mapping[str, ValueCheck] | None = None,
) -> list[str]:
    """The host's nginx preflight: types from the argument spec ``options``, then the rules.

    The rules read the converted values; they run only when the types are right
    (a rule over a wrong type would only repeat the type's message less clearly).
    """
    converted, problems = check_types(options, values, host, value_checks=VALUE_CHECKS if value_checks is None else value_checks)
    if problems:
        return problems
    # The rules first (their messages say what is meant); then the strict type of every
    # value that reaches an nginx file (``_types``), for the variables no rule spoke of.
    errors = check_rules(host, converted)
    spoken = {_VAR.match(e).group(0) for e in errors if _VAR.match(e)}
    return errors + [e for e in check_role_vars("nginx", host, converted) if not (_VAR.match(e) and _VAR.match(e).group(0) in spoken)]
