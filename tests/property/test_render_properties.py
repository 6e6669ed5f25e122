# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests (issue 9): generated inventories, hostile strings included, go
through the types (plugins/plugin_utils/_types.py) and the keepalived preflight;
every inventory they accept renders configurations whose parsed structure is exactly
what the inventory meant — no extra directive, no lost value — and that the host's
real ``keepalived -t`` / ``nginx -t`` accept.

How the templates are rendered: with Jinja directly, the way the roles do
(tests/helpers/direct_render.py), because ansible-playbook costs seconds per run and
the property runs dozens of examples; ``test_direct_render_matches_the_role`` checks
once that the direct render and the real role give the same parsed files.

The expected structure is built here from the inventory, by hand — never read back
from the rendered text. ``test_attack_without_the_types_*`` render the issue's attacks
with the types bypassed, and show the injected configuration in the parsed result
(and accepted by ``-t``): the comparison can fail, and the types are what stop it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest
from ansible_collections.halb.pair.plugins.plugin_utils import _preflight
from ansible_collections.halb.pair.plugins.plugin_utils import _types as T
from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.helpers import direct_render as R
from tests.helpers import kaconf, nginxconf
from tests.helpers.ansible_run import REPO, default_interface, run_playbook, safe_libexec
from tests.helpers.netns import UNSHARE_NET
from tests.render.test_nginx import stream_module  # noqa: F401 (a fixture: the stream module for nginx -t)

KEEPALIVED = shutil.which("keepalived")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
IFACE = default_interface()
HOSTS = ["lb1", "lb2"]
SCRIPT_USER = "nobody"  # an existing non-root user (keepalived 2.2.7's "Terminated" path, as the render tests)

# `nginx -t` binds every listen address: run it in a private network namespace with
# non-local binds allowed (as tests/render/test_nginx.py), never on the host's ports.
NETNS = [*UNSHARE_NET, "sh", "-c",
         'sysctl -q -w net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1 && exec "$@"', "netns"]

needs_keepalived = pytest.mark.skipif(KEEPALIVED is None, reason="keepalived binary missing: run lab/bin/bootstrap")
needs_nginx = pytest.mark.skipif(NGINX is None or shutil.which("unshare") is None, reason="nginx or unshare missing")

# --------------------------------------------------------------------------
# Hostile strings

HOSTILE = "\n\r\t ;{}#!\"'$\\é€\u2028"
ISSUE_ATTACKS = [
    "198.51.100.21;\n}\nserver {\n listen 8099;\n location / { root /etc; autoindex on; }\n}\nupstream halb_x {\n server 198.51.100.22",
    "80 reuseport; location /etc { alias /etc/; autoindex on; }  #",
    f"{IFACE}:1\n        198.51.100.66/24 dev {IFACE}",
    "lb1\n    vrrp_strict",
    "ab#cdefg", "ab cdefg", "ab!cdefg", "pässwört",
]


def hostile(valid: st.SearchStrategy[t.Any]) -> st.SearchStrategy[t.Any]:
    """A valid value with hostile characters before or after it, junk, or one of the issue's attacks."""
    noise = st.text(alphabet=HOSTILE + "abc019:./-_", min_size=1, max_size=12)
    mixed = st.tuples(valid.map(str), noise, st.booleans()).map(lambda x: x[0] + x[1] if x[2] else x[1] + x[0])
    return st.one_of(mixed, noise, st.sampled_from(ISSUE_ATTACKS))


class Mutator:
    """Hostile in one field of an inventory (the ``target``-th asked for), valid in the others,
    so that most hostile examples differ from a valid inventory in one value only."""

    def __init__(self, draw, mutate: bool, fields: int = 16) -> None:
        self.target = draw(st.integers(0, fields - 1)) if mutate else -1
        self.n = -1

    def __call__(self, valid: st.SearchStrategy[t.Any]) -> st.SearchStrategy[t.Any]:
        self.n += 1
        return hostile(valid) if self.n == self.target else valid


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="halb-prop-"))


# --------------------------------------------------------------------------
# keepalived

@pytest.fixture(scope="module")
def ka_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("ka")
    return {"libexec": safe_libexec(base), "base": base}


def keepalived_t(dirs, text: str) -> subprocess.CompletedProcess:
    d = Path(tempfile.mkdtemp(dir=dirs["base"]))
    conf = d / "keepalived.conf"
    conf.write_text(text)
    return subprocess.run([str(dirs["libexec"] / "keepalived-validate"), str(conf)], capture_output=True, text=True, timeout=60)


def _ka_paths(dirs) -> dict[str, str]:
    return {"keepalived_libexec_dir": str(dirs["libexec"]), "keepalived_drain_file": str(dirs["base"] / "drain"),
            "keepalived_state_dir": str(dirs["base"] / "state"), "keepalived_script_user": SCRIPT_USER,
            "keepalived_interface": IFACE}


hostnames = st.from_regex(r"[a-z](?:[a-z0-9-]{0,7}[a-z0-9])?(?:\.[a-z](?:[a-z0-9-]{0,7}[a-z0-9])?){0,2}", fullmatch=True)
label_suffix = st.from_regex(r"[A-Za-z0-9_-]{1,4}", fullmatch=True)
router_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
passwords = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#!\"'{}\\$"),
                    min_size=1, max_size=8)
emails = st.tuples(st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,8}[a-z0-9]", fullmatch=True),
                   st.sampled_from(["example.org", "mail.example.test", "lb_1"])).map("@".join)


@st.composite
def keepalived_inventories(draw, mutate: bool):
    h = Mutator(draw, mutate, fields=8)
    topology = draw(st.sampled_from(["single", "dual_master"]))
    hosts_n = draw(st.lists(st.integers(100, 199), unique=True, min_size=2 if topology == "dual_master" else 1, max_size=3))
    vips: list[t.Any] = []
    for n in hosts_n:
        cidr = f"198.51.100.{n}/24"
        if draw(st.booleans()):
            vips.append(cidr)
        else:
            vips.append({"address": cidr, "label": draw(h(label_suffix.map(lambda s: f"{IFACE}:{s}")))})
    bad_v2, bad_v3 = ([0.5, "1", True], [0.005, 41]) if mutate else ([], [])
    version, advert = draw(st.one_of(
        st.tuples(st.just(2), st.one_of(st.integers(1, 5), st.sampled_from([1, *bad_v2]))),
        st.tuples(st.just(3), st.sampled_from([0.01, 0.1, 0.25, 1, 2.5, 40.95, *bad_v3])),
    ))
    group = {
        "keepalived_topology": topology,
        "keepalived_vips": vips,
        "keepalived_vrrp_version": version,
        "keepalived_advert_int": advert,
        "keepalived_auth_pass": draw(st.one_of(st.none(), h(passwords))) if version == 2 else None,
        "keepalived_notification_email": draw(st.lists(h(emails), max_size=2)),
        # keepalived resolves smtp_server when it loads: offline, only an address or localhost passes -t
        "keepalived_smtp_server": draw(st.one_of(st.none(), h(st.sampled_from(["198.51.100.25", "2001:db8::25", "localhost"])))),
        "keepalived_check_url": draw(h(st.sampled_from(["http://127.0.0.1:8081/healthz", "http://127.0.0.1:9000/hc?x=1",
                                                         "http://[::1]:8081/healthz", "https://localhost/a_b/c-d.txt?x=1&y=%20"]))),
        "keepalived_check_timeout": draw(st.one_of(st.integers(1, 300), *([st.just("3"), st.booleans()] if mutate else []))),
    }
    lb1 = {"keepalived_router_id": draw(h(router_ids))}
    return group, lb1


def _accepts(role: str, hostvars: dict[str, dict[str, t.Any]]) -> list[str]:
    problems = []
    for h, hv in hostvars.items():
        problems += T.check_role_vars(role, h, hv)
    if role == "keepalived" and not problems:
        problems += _preflight.check(list(hostvars), hostvars)
    return problems


def _expected_keepalived(hostvars, host: str, instances: list[dict]) -> dict[str, t.Any]:
    """What keepalived.conf must say on ``host``, from the inventory (by hand)."""
    v = {**R.defaults("keepalived", host), **hostvars[host]}
    mail = v["keepalived_smtp_server"] is not None and len(v["keepalived_notification_email"]) > 0
    gdefs = [("router_id", [str(v["keepalived_router_id"])])]
    if mail:
        gdefs += [("notification_email", [e for e in v["keepalived_notification_email"]]),
                  ("notification_email_from", [v["keepalived_notification_email_from"]]),
                  ("smtp_server", [v["keepalived_smtp_server"]]), ("smtp_connect_timeout", ["30"])]
    gdefs += [("enable_script_security", []), ("script_user", [SCRIPT_USER]), ("vrrp_garp_master_delay", ["1"]),
              ("vrrp_garp_master_repeat", ["3"]), ("vrrp_garp_master_refresh", ["0"])]
    want_inst = {}
    for inst in instances:
        vips = []
        for vip in inst["vips"]:
            vips.append(f"{vip['cidr']} dev {IFACE}" + (f" label {vip['label']}" if vip["label"] else ""))
        want_inst[inst["name"]] = {
            "vips": vips,
            "auth_pass": [v["keepalived_auth_pass"]] if inst["version"] == 2 and v["keepalived_auth_pass"] else None,
            "advert_int": str(v["keepalived_advert_int"]) if v["keepalived_advert_int"] != int(v["keepalived_advert_int"])
            else str(int(v["keepalived_advert_int"])),
        }
    script = f"/usr/bin/curl -fsS -o /dev/null --max-time {v['keepalived_check_timeout']} {v['keepalived_check_url']}"
    return {"gdefs": gdefs, "instances": want_inst, "script": script, "script_timeout": str(v["keepalived_check_timeout"] + 1)}


def _parsed_keepalived(text: str) -> dict[str, t.Any]:
    tree = kaconf.parse(text)
    (gdefs,) = [c for k, _, c in tree if k == "global_defs"]
    (chk,) = [c for k, a, c in tree if k == "vrrp_script" and a == ["chk_nginx"]]
    insts = {}
    for k, a, c in tree:
        if k != "vrrp_instance":
            continue
        auth = kaconf.find(c, "authentication")
        insts[a[0]] = {
            "vips": [" ".join([kw, *args]) for kw, args, _ in kaconf.find(c, "virtual_ipaddress")[0][2]],
            "auth_pass": kaconf.find(auth[0][2], "auth_pass")[0][1] if auth else None,
            "advert_int": kaconf.value(c, "advert_int"),
        }
    return {
        "top": [k for k, _, _ in tree],
        "gdefs": [(k, [x[0] for x in c] if c is not None else a) for k, a, c in gdefs],
        "instances": insts,
        "script": kaconf.value(chk, "script"),
        "script_timeout": kaconf.value(chk, "timeout"),
    }


GOOD_KA = ({"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", {"address": "198.51.100.101/24",
            "label": f"{IFACE}:v2"}], "keepalived_vrrp_version": 2, "keepalived_advert_int": 1, "keepalived_auth_pass": "s3cr3t@",
            "keepalived_notification_email": ["ops@example.org"], "keepalived_smtp_server": "198.51.100.25",
            "keepalived_check_url": "http://127.0.0.1:8081/healthz", "keepalived_check_timeout": 3},
           {"keepalived_router_id": "lb1.dc-1"})


@needs_keepalived
@given(inv=keepalived_inventories(mutate=False))
@example(inv=GOOD_KA)
def test_keepalived_valid_inventories_are_accepted_and_render_exactly(ka_dirs, inv):
    """Values generated inside their types: all accepted, all rendered exactly."""
    hostvars = {h: {**_ka_paths(ka_dirs), **inv[0], **(inv[1] if h == "lb1" else {})} for h in HOSTS}
    assert _accepts("keepalived", hostvars) == []
    _check_keepalived_render(ka_dirs, hostvars)


@needs_keepalived
@given(inv=keepalived_inventories(mutate=True))
def test_keepalived_hostile_inventories_refused_or_rendered_exactly(ka_dirs, inv):
    group, lb1 = inv
    hostvars = {h: {**_ka_paths(ka_dirs), **group, **(lb1 if h == "lb1" else {})} for h in HOSTS}
    problems = _accepts("keepalived", hostvars)
    if not problems:  # and the values the topology derives from them
        problems = T.check_derived(R.keepalived_vars(HOSTS, hostvars, "lb1")["__keepalived_instances"])
    event("refused" if problems else "accepted")
    if problems:
        return
    _check_keepalived_render(ka_dirs, hostvars)


def _check_keepalived_render(ka_dirs, hostvars) -> None:
    for host in HOSTS:
        variables = R.keepalived_vars(HOSTS, hostvars, host)
        text = R.render("keepalived", "keepalived.conf.j2", variables)
        want = _expected_keepalived(hostvars, host, variables["__keepalived_instances"])
        got = _parsed_keepalived(text)
        n = len(variables["__keepalived_instances"])
        assert got["top"] == ["global_defs", "vrrp_script", "vrrp_track_file"] + ["vrrp_instance"] * n, text
        assert got["gdefs"] == want["gdefs"], text
        assert got["instances"] == want["instances"], text
        assert (got["script"], got["script_timeout"]) == (want["script"], want["script_timeout"])
        smtp = hostvars[host].get("keepalived_smtp_server")
        if smtp is None or smtp == "localhost" or _is_ip(smtp):
            res = keepalived_t(ka_dirs, text)
            assert res.returncode == 0, res.stderr + text
        else:
            event("smtp host name: structure only (keepalived -t would resolve it)")


# --------------------------------------------------------------------------
# nginx

def nginx_t(hostvars: dict[str, t.Any], module_so: str | None = None) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """The files rendered for ``hostvars`` in a temporary directory and the host's real nginx -t on them."""
    base = _tmp()
    try:
        files = _nginx_files(hostvars, str(base))
        etc = base / "etc"
        R.write_tree(etc, {"mime.types": "types {\n    text/html html;\n}\n", **files})
        if module_so:
            R.write_tree(etc, {"modules-enabled/50-mod-stream.conf": f"load_module {module_so};\n"})
        for d in ("modules-enabled", "sites-enabled", "conf.d", "stream.d"):
            (etc / d).mkdir(exist_ok=True)
        (base / "prefix").mkdir()
        cmd = [NGINX, "-t", "-q", "-p", f"{base}/prefix/", "-c", str(etc / "nginx.conf")]
        return subprocess.run([*NETNS, *cmd], capture_output=True, text=True, timeout=60), files
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _nginx_files(hostvars: dict[str, t.Any], base: str = "/nonexistent") -> dict[str, str]:
    v = R.nginx_vars({"nginx_lb_pid_file": f"{base}/nginx.pid", "nginx_lb_error_log": f"{base}/error.log",
                      "nginx_lb_access_log": "off", **hostvars}, "lb1")
    return {"nginx.conf": R.render("nginx", "nginx.conf.j2", v),
            "conf.d/halb-lb.conf": R.render("nginx", "halb-lb.conf.j2", v),
            "stream.d/halb-stream.conf": R.render("nginx", "halb-stream.conf.j2", v)}


durations = st.sampled_from(["2s", "100ms", "1m", "1h30m", "10", "75s"])
listen_flags = st.lists(st.sampled_from(["default_server", "reuseport", "proxy_protocol", "bind", "backlog=511"]), unique=True,
                        max_size=2)
listen_addrs = st.sampled_from(["", "127.0.0.1:", "198.51.100.100:", "*:", "[::1]:", "[2001:db8::1]:"])
server_addrs = st.one_of(st.integers(1, 254).map(lambda n: f"198.51.100.{n}"), st.integers(1, 0xFFFF).map(lambda n: f"2001:db8::{n:x}"),
                         st.just("localhost"))


@st.composite
def nginx_inventories(draw, mutate: bool):
    hostile = Mutator(draw, mutate, fields=24)
    name = draw(hostile(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)))
    method = draw(st.sampled_from(["round_robin", "least_conn", "ip_hash", "hash"]))
    up: dict[str, t.Any] = {"name": name, "servers": []}
    if method != "round_robin" or draw(st.booleans()):
        up["method"] = method
    if method == "hash":
        up["hash_key"] = draw(hostile(st.sampled_from(["$request_uri", "$remote_addr", "$host$request_uri", "$cookie_sid:$uri"])))
        if draw(st.booleans()):
            up["hash_consistent"] = True
    if draw(st.booleans()):
        up["keepalive"] = draw(hostile(st.integers(1, 64)))
    for _ in range(draw(st.integers(1, 3))):
        s: dict[str, t.Any] = {"address": draw(hostile(server_addrs))}
        for key, strat in (("port", hostile(st.integers(1, 65535))),
                           ("weight", hostile(st.integers(1, 10))),
                           ("max_fails", st.integers(0, 5)),
                           ("fail_timeout", hostile(st.sampled_from(["5s", "1m", "10", "1m30s", *(["100ms"] if mutate else [])])))):
            if draw(st.booleans()):
                s[key] = draw(strat)
        if method in ("round_robin", "least_conn") and draw(st.booleans()):
            s["backup"] = True
        if draw(st.booleans()):
            s["down"] = draw(hostile(st.booleans()))
        up["servers"].append(s)
    if not any(not s.get("backup") for s in up["servers"]):
        up["servers"][0].pop("backup", None)
    first = draw(st.integers(1, 65528).filter(lambda p: not p <= 8081 <= p + 7))  # the health server has 8081
    ports = [first + k for k in range(8)]
    servers = []
    for i in range(draw(st.integers(1, 2))):
        srv: dict[str, t.Any] = {"upstream": name if isinstance(name, str) else "web"}
        listens = []
        for j in range(draw(st.integers(1, 2))):
            valid = st.tuples(listen_addrs, listen_flags).map(
                lambda x, p=ports[2 * i + j]: " ".join([f"{x[0]}{p}", *x[1]]))
            listens.append(draw(hostile(valid)))
        srv["listen"] = listens
        if draw(st.booleans()):
            srv["server_name"] = draw(st.one_of(hostile(hostnames), st.lists(hostnames, min_size=1, max_size=3),
                                                st.just("_"), hostnames.map(lambda n: "*." + n),
                                                *([st.just("~^(?<n>.+)\\.example\\.net$")] if mutate else [])))
        for key in ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"):
            if draw(st.booleans()):
                srv[key] = draw(hostile(durations))
        if draw(st.booleans()):
            srv["proxy_next_upstream"] = draw(hostile(st.sampled_from(["error timeout", "error timeout http_502", "off"])))
        servers.append(srv)
    streams = []
    if draw(st.booleans()):
        smethod = draw(st.sampled_from(["round_robin", "least_conn", "hash"]))
        stream: dict[str, t.Any] = {"name": draw(hostile(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True))), "listen": [],
                                    "servers": [{"address": draw(hostile(server_addrs)), "port": draw(hostile(st.integers(1, 65535)))}
                                                for _ in range(draw(st.integers(1, 2)))]}
        if smethod != "round_robin":
            stream["method"] = smethod
        if smethod == "hash":
            stream["hash_key"] = draw(hostile(st.sampled_from(["$remote_addr", "$binary_remote_addr", "$remote_addr:$server_port"])))
        for j in range(draw(st.integers(1, 3))):
            flags = st.lists(st.sampled_from(["udp", "reuseport", "proxy_protocol", "bind", "backlog=511"]), unique=True, max_size=2)
            if not mutate:  # nginx: proxy_protocol and backlog are incompatible with udp
                flags = flags.filter(lambda f: "udp" not in f or not {"proxy_protocol", "backlog=511"} & set(f))
            stream["listen"].append(draw(hostile(st.tuples(listen_addrs, flags).map(
                lambda x, p=ports[4 + j]: " ".join([f"{x[0]}{p}", *x[1]])))))
        for key in ("proxy_connect_timeout", "proxy_timeout"):
            if draw(st.booleans()):
                stream[key] = draw(hostile(durations))
        streams.append(stream)
    return {"nginx_lb_upstreams": [up], "nginx_lb_servers": servers, "nginx_lb_streams": streams}


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _expected_halb_lb(hv: dict[str, t.Any]) -> list:
    """halb-lb.conf's blocks and directives, from the inventory (by hand)."""
    out: list = []
    for u in hv["nginx_lb_upstreams"]:
        entries: list = []
        method = u.get("method", "round_robin")
        if method in ("least_conn", "ip_hash"):
            entries.append(((method,), None))
        elif method == "hash":
            entries.append((("hash", u["hash_key"], *(["consistent"] if u.get("hash_consistent") else [])), None))
        for s in u["servers"]:
            words = ["server", f"{_bracket(s['address'])}:{s.get('port', 80)}"]
            words += [f"{k}={s[k]}" for k in ("weight", "max_fails", "fail_timeout") if k in s]
            words += [k for k in ("backup", "down") if s.get(k)]
            entries.append((tuple(words), None))
        if "keepalive" in u:
            entries.append((("keepalive", str(u["keepalive"])), None))
        out.append((("upstream", u["name"]), entries))
    out.append((("server",), [
        (("listen", "8081"), None), (("server_name", "_"), None), (("access_log", "off"), None),
        (("default_type", "text/plain"), None), (("add_header", "X-HALB-Node", "$hostname", "always"), None),
        (("location", "=", "/healthz"), [
            (("set", "$halb_leaving", '""'), None),
            (("if", "(-f", "/run/halb-pair/leaving)"), [(("set", "$halb_leaving", "1"), None)]),
            (("add_header", "X-HALB-Node", "$hostname", "always"), None),
            (("add_header", "X-HALB-Leaving", "$halb_leaving", "always"), None),
            (("return", "200", '"ok\\n"'), None)]),
        (("location", "/"), [(("return", "404"), None)]),
    ]))
    for srv in hv["nginx_lb_servers"]:
        names = srv.get("server_name", "_")
        names = names.split(" ") if isinstance(names, str) else names
        listens = srv.get("listen", ["80"])
        listens = [listens] if isinstance(listens, str) else listens
        loc = [(("proxy_pass", f"http://{srv['upstream']}"), None), (("proxy_http_version", "1.1"), None),
               (("proxy_set_header", "Connection", '""'), None), (("proxy_set_header", "Host", "$host"), None),
               (("proxy_set_header", "X-Real-IP", "$remote_addr"), None),
               (("proxy_set_header", "X-Forwarded-For", "$proxy_add_x_forwarded_for"), None),
               (("proxy_set_header", "X-Forwarded-Proto", "$scheme"), None),
               (("proxy_next_upstream", *srv.get("proxy_next_upstream", "error timeout http_502 http_503 http_504").split(" ")), None),
               (("proxy_connect_timeout", srv.get("proxy_connect_timeout", "2s")), None),
               (("proxy_read_timeout", srv.get("proxy_read_timeout", "60s")), None),
               (("proxy_send_timeout", srv.get("proxy_send_timeout", "60s")), None)]
        out.append((("server",), [*((("listen", *str(x).split(" ")), None) for x in listens), (("server_name", *names), None),
                                  (("add_header", "X-HALB-Node", "$hostname", "always"), None),
                                  *_expected_directives(srv.get("directives", [])), (("location", "/"), loc)]))
    return out


def _words(value: t.Any) -> tuple[str, ...]:
    """A directive value's words as the type allows them: bare, or quoted whole ("a b" is one word)."""
    return tuple(re.findall(r'"[^"]*"|\'[^\']*\'|[^ ]+', str(value)))


def _expected_directives(items: list[dict[str, t.Any]]) -> list:
    return [((d["name"], *_words(d["value"])), None) for d in items]


def _is_ip(value: str) -> bool:
    try:
        T.IP_ADDRESS(value)
        return True
    except T.TypeCheckError:
        return False


def _expected_halb_stream(hv: dict[str, t.Any]) -> list:
    """halb-stream.conf's blocks and directives, from the inventory (by hand)."""
    if not hv.get("nginx_lb_streams"):
        return []
    entries: list = []
    for st_ in hv["nginx_lb_streams"]:
        up = _expected_halb_lb({"nginx_lb_upstreams": [st_], "nginx_lb_servers": []})[0]
        entries.append(up)
        entries.append((("server",), [*((("listen", *x.split(" ")), None) for x in st_["listen"]),
                                      (("proxy_pass", st_["name"]), None),
                                      (("proxy_connect_timeout", st_.get("proxy_connect_timeout", "2s")), None),
                                      (("proxy_timeout", st_.get("proxy_timeout", "10m")), None),
                                      *_expected_directives(st_.get("directives", []))]))
    return [(("stream",), entries)]


def _resolvable(hv: dict[str, t.Any]) -> bool:
    """nginx -t resolves host names at load time: only addresses and localhost work offline."""
    for u in [*hv["nginx_lb_upstreams"], *hv.get("nginx_lb_streams", [])]:
        for s in u["servers"]:
            try:
                T.IP_ADDRESS(str(s["address"]).strip("[]"))
            except T.TypeCheckError:
                if s["address"] != "localhost":
                    return False
    return True


GOOD_NGINX = {"nginx_lb_upstreams": [{"name": "web", "method": "hash", "hash_key": "$host$request_uri", "hash_consistent": True,
                                      "keepalive": 16, "servers": [{"address": "198.51.100.21", "port": 8080, "weight": 3,
                                                                    "max_fails": 2, "fail_timeout": "1m"},
                                                                   {"address": "2001:db8::22", "down": True}]}],
              "nginx_lb_servers": [{"upstream": "web", "listen": ["198.51.100.100:80 default_server", "[::1]:8000 reuseport"],
                                    "server_name": ["www.example.test", "*.example.test"], "proxy_read_timeout": "1h30m",
                                    "proxy_next_upstream": "error timeout",
                                    "directives": [{"name": "client_max_body_size", "value": "10m"},
                                                   {"name": "add_header", "value": 'X-Test "a b" always'}]}],
              "nginx_lb_http_directives": [{"name": "server_names_hash_bucket_size", "value": 128}]}


@pytest.fixture(scope="module")
def stream_mod(request):
    """ngx_stream_module.so for nginx -t of stream {} files (tests/render/test_nginx.py finds or unpacks it)."""
    return request.getfixturevalue("stream_module")


@needs_nginx
@given(hv=nginx_inventories(mutate=False))
@example(hv=GOOD_NGINX)
def test_nginx_valid_inventories_are_accepted_and_render_exactly(stream_mod, hv):
    """Values generated inside their types: all accepted, all rendered exactly."""
    assert _accepts("nginx", {"lb1": hv}) == []
    _check_nginx_render(hv, stream_mod)


@needs_nginx
@given(hv=nginx_inventories(mutate=True))
def test_nginx_hostile_inventories_refused_or_rendered_exactly(stream_mod, hv):
    problems = _accepts("nginx", {"lb1": hv})
    event("refused" if problems else "accepted")
    if problems:
        return
    _check_nginx_render(hv, stream_mod)


def _check_nginx_render(hv, stream_mod: str | None) -> None:
    files = _nginx_files(hv)
    tree = nginxconf.parse(files["conf.d/halb-lb.conf"])
    assert tree == _expected_halb_lb(hv), files["conf.d/halb-lb.conf"]
    assert nginxconf.parse(files["stream.d/halb-stream.conf"]) == _expected_halb_stream(hv), files["stream.d/halb-stream.conf"]
    if hv.get("nginx_lb_streams") and not stream_mod:
        event("streams without the stream module: structure only")
    elif _resolvable(hv):
        res, files = nginx_t(hv, stream_mod)
        assert res.returncode == 0, res.stderr + files["conf.d/halb-lb.conf"]
    else:
        event("host names: structure only (nginx -t would resolve them)")


# --------------------------------------------------------------------------
# Directives the role does not model (nginx_lb_http_directives, directives: of servers and
# streams): whatever a value holds, it is refused or it is exactly one directive, its words
# those of the value, in the place the inventory meant, and nothing else in the file moves.
# What a directive means is for nginx -t on the host (the validator), not for this property.

directive_names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
_QUOTED = "abc 019-_=:/$.,()*"
directive_words = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:/=$,()*-]{1,12}", fullmatch=True),
    st.text(alphabet=_QUOTED + "'", max_size=10).map(lambda w: f'"{w}"'),
    st.text(alphabet=_QUOTED + '"', max_size=10).map(lambda w: f"'{w}'"),
    st.integers(0, 4096).map(str),
)
directive_values = st.one_of(st.lists(directive_words, min_size=1, max_size=4).map(" ".join), st.integers(0, 10**6))
_HTTP_OWN = [(("include", "mime.types"), None), (("default_type", "application/octet-stream"), None), (("sendfile", "on"), None),
             (("tcp_nopush", "on"), None), (("types_hash_max_size", "2048"), None), (("server_tokens", "off"), None),
             (("access_log", "off"), None)]


def _directive_inventory(where: str, items: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    hv: dict[str, t.Any] = {"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21"}]}],
                            "nginx_lb_servers": [{"upstream": "web"}]}
    if where == "http":
        hv["nginx_lb_http_directives"] = items
    elif where == "server":
        hv["nginx_lb_servers"] = [{"upstream": "web", "directives": items}]
    else:
        hv["nginx_lb_streams"] = [{"name": "pg", "listen": ["5432"], "servers": [{"address": "198.51.100.21", "port": 5432}],
                                   "directives": items}]
    return hv


def _check_directive_render(hv: dict[str, t.Any]) -> None:
    files = _nginx_files(hv)
    assert nginxconf.parse(files["conf.d/halb-lb.conf"]) == _expected_halb_lb(hv), files["conf.d/halb-lb.conf"]
    assert nginxconf.parse(files["stream.d/halb-stream.conf"]) == _expected_halb_stream(hv), files["stream.d/halb-stream.conf"]
    (http,) = nginxconf.blocks(nginxconf.parse(files["nginx.conf"]), "http")
    assert http[1] == [*_HTTP_OWN, *_expected_directives(hv.get("nginx_lb_http_directives", [])),
                       (("include", "conf.d/*.conf"), None), (("include", "sites-enabled/*"), None)], files["nginx.conf"]


@given(where=st.sampled_from(["http", "server", "stream"]),
       items=st.lists(st.fixed_dictionaries({"name": directive_names, "value": directive_values}), min_size=1, max_size=3))
def test_nginx_valid_directives_are_accepted_and_render_exactly(where, items):
    hv = _directive_inventory(where, items)
    assert T.check_role_vars("nginx", "lb1", hv) == []
    _check_directive_render(hv)


@given(where=st.sampled_from(["http", "server", "stream"]), name=hostile(directive_names), value=hostile(directive_values))
@example(where="server", name="client_max_body_size", value="1; } server {")
@example(where="server", name="client_max_body_size", value='"10m')
@example(where="http", name="gzip", value="on\\")
def test_nginx_hostile_directives_refused_or_rendered_exactly(where, name, value):
    hv = _directive_inventory(where, [{"name": "gzip", "value": "on"}, {"name": name, "value": value}])
    problems = T.check_role_vars("nginx", "lb1", hv)
    event("refused" if problems else "accepted")
    if problems:
        return
    _check_directive_render(hv)


# --------------------------------------------------------------------------
# The issue's attacks, rendered with the types bypassed: they become configuration
# (and pass -t); with the types, they are refused.

def _upstream_attack_vars() -> dict:
    return {"nginx_lb_upstreams": [{"name": "web", "servers": [{"address": ISSUE_ATTACKS[0]}]}],
            "nginx_lb_servers": [{"upstream": "web"}]}


@needs_nginx
def test_attack_without_the_types_nginx_upstream_address_adds_a_server_block():
    hv = _upstream_attack_vars()
    files = _nginx_files(hv)
    tree = nginxconf.parse(files["conf.d/halb-lb.conf"])
    injected = [c for w, c in tree if w == ("server",) and (("listen", "8099"), None) in c]
    assert injected, "the attack did not inject a server block"
    (loc,) = nginxconf.blocks(injected[0], "location")
    assert (("autoindex", "on"), None) in loc[1] and (("root", "/etc"), None) in loc[1]
    assert tree != _expected_halb_lb(hv)
    assert nginx_t(hv)[0].returncode == 0, "nginx -t accepts the injected configuration"
    assert T.check_role_vars("nginx", "lb1", hv) != []


@needs_nginx
def test_attack_without_the_types_nginx_listen_adds_a_location():
    hv = {**_upstream_attack_vars(), "nginx_lb_upstreams": [{"name": "web", "servers": [{"address": "198.51.100.21"}]}],
          "nginx_lb_servers": [{"upstream": "web", "listen": [ISSUE_ATTACKS[1]]}]}
    files = _nginx_files(hv)
    tree = nginxconf.parse(files["conf.d/halb-lb.conf"])
    server = tree[-1][1]
    assert (("location", "/etc"), [(("alias", "/etc/"), None), (("autoindex", "on"), None)]) in server
    assert nginx_t(hv)[0].returncode == 0, "nginx -t accepts the injected configuration"
    assert T.check_role_vars("nginx", "lb1", hv) != []


@needs_nginx
def test_attack_without_the_types_nginx_directive_value_adds_a_location():
    """Issue 19: a directive value pasted raw. `1m; location /etc { ... } #` passes nginx -t and
    serves /etc; `1; } server {` closes the server early and breaks the file."""
    hv = _directive_inventory("server", [{"name": "client_max_body_size", "value": "1m; location /etc { alias /etc/; autoindex on; } #"}])
    files = _nginx_files(hv)
    server = nginxconf.parse(files["conf.d/halb-lb.conf"])[-1][1]
    assert (("location", "/etc"), [(("alias", "/etc/"), None), (("autoindex", "on"), None)]) in server
    assert nginx_t(hv)[0].returncode == 0, "nginx -t accepts the injected configuration"
    assert T.check_role_vars("nginx", "lb1", hv) != []

    hv = _directive_inventory("server", [{"name": "client_max_body_size", "value": "1; } server {"}])
    with pytest.raises(nginxconf.ParseError):
        nginxconf.parse(_nginx_files(hv)["conf.d/halb-lb.conf"])
    assert nginx_t(hv)[0].returncode != 0
    assert T.check_role_vars("nginx", "lb1", hv) != []


def _ka_render(ka_dirs, group: dict, lb1: dict | None = None) -> str:
    hostvars = {h: {**_ka_paths(ka_dirs), **group, **((lb1 or {}) if h == "lb1" else {})} for h in HOSTS}
    return R.render("keepalived", "keepalived.conf.j2", R.keepalived_vars(HOSTS, hostvars, "lb1"))


@needs_keepalived
def test_attack_without_the_types_vip_label_adds_a_vip(ka_dirs):
    group = {"keepalived_vips": [{"address": "198.51.100.100/24", "label": ISSUE_ATTACKS[2]}]}
    text = _ka_render(ka_dirs, group)
    vips = kaconf.instances(text)["VI_1"]["vips"]
    assert vips == [f"198.51.100.100/24 dev {IFACE} label {IFACE}:1", f"198.51.100.66/24 dev {IFACE}"]
    assert keepalived_t(ka_dirs, text).returncode == 0, "keepalived -t accepts the second VIP"
    assert T.check_role_vars("keepalived", "lb1", group) != []


@needs_keepalived
def test_attack_without_the_types_router_id_adds_to_global_defs(ka_dirs):
    group = {"keepalived_vips": ["198.51.100.100/24"]}
    lb1 = {"keepalived_router_id": ISSUE_ATTACKS[3]}
    text = _ka_render(ka_dirs, group, lb1)
    gdefs = _parsed_keepalived(text)["gdefs"]
    assert ("router_id", ["lb1"]) in gdefs and ("vrrp_strict", []) in gdefs
    assert T.check_role_vars("keepalived", "lb1", lb1) != []


@needs_keepalived
@pytest.mark.parametrize(("password", "effective"), [("ab#cdefg", "ab"), ("ab!cdefg", "ab"), ("ab cdefg", "ab")])
def test_attack_without_the_types_auth_pass_is_cut(ka_dirs, password, effective):
    group = {"keepalived_vips": ["198.51.100.100/24"], "keepalived_auth_pass": password}
    text = _ka_render(ka_dirs, group)
    # keepalived reads the first word and stops at a comment: the password is cut
    assert _parsed_keepalived(text)["instances"]["VI_1"]["auth_pass"][0] == effective
    assert keepalived_t(ka_dirs, text).returncode == 0, "keepalived -t accepts the cut password"
    assert T.check_role_vars("keepalived", "lb1", group) != []


# --------------------------------------------------------------------------
# The direct render is the role's render

@pytest.mark.ansible
@needs_keepalived
def test_direct_render_matches_the_role_keepalived(tmp_path):
    group = {**GOOD_KA[0], "keepalived_interface": IFACE, "keepalived_script_user": SCRIPT_USER}
    run = run_playbook(tmp_path, REPO / "tests" / "render" / "render_keepalived.yml", HOSTS, group, {"lb1": GOOD_KA[1]})
    assert run.rc == 0, run.output
    paths = {"keepalived_interface": IFACE, "keepalived_script_user": SCRIPT_USER}
    for host in HOSTS:
        hostvars = {h: {**paths, **GOOD_KA[0], "keepalived_libexec_dir": str(tmp_path / "libexec" / h),
                        "keepalived_drain_file": str(run.outdir / h / "drain"),
                        "keepalived_state_dir": str(run.outdir / h), **(GOOD_KA[1] if h == "lb1" else {})} for h in HOSTS}
        direct = R.render("keepalived", "keepalived.conf.j2", R.keepalived_vars(HOSTS, hostvars, host))
        assert kaconf.parse(direct) == kaconf.parse(run.conf(host))


@pytest.mark.ansible
@needs_nginx
def test_direct_render_matches_the_role_nginx(tmp_path):
    from tests.render.test_nginx import make_conf_dir
    from tests.render.test_nginx import run_playbook as run_nginx

    hv = {**make_conf_dir(tmp_path / "lb1"), **GOOD_NGINX}
    proc = run_nginx(tmp_path, {"lb1": hv})
    assert proc.returncode == 0, proc.stdout[-3000:]
    etc = tmp_path / "lb1" / "etc"
    v = R.nginx_vars({k: hv[k] for k in hv if k.startswith("nginx_lb_")}, "lb1")
    for template, rel in (("nginx.conf.j2", "nginx.conf"), ("halb-lb.conf.j2", "conf.d/halb-lb.conf"),
                          ("halb-stream.conf.j2", "stream.d/halb-stream.conf")):
        assert nginxconf.parse(R.render("nginx", template, v)) == nginxconf.parse((etc / rel).read_text()), rel
