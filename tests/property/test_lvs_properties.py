# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests of the LVS virtual servers, as tests/property/test_render_properties.py does
for the VRRP side: generated ``keepalived_virtual_servers`` (a hostile value in one field of
some) go through the types and the preflight; every inventory they accept renders
``virtual_server`` blocks whose parsed structure is exactly what the inventory meant (built
here by hand from the inventory and the argument spec's documented defaults, never read
back from the rendered text), and that the real ``keepalived -t`` accepts.
"""

from __future__ import annotations

import typing as t

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.helpers import direct_render as R
from tests.helpers import kaconf
from tests.property.test_render_properties import (
    HOSTS,
    IFACE,
    Mutator,
    _accepts,
    _ka_paths,
    ka_dirs,  # noqa: F401 (a fixture)
    keepalived_t,
    needs_keepalived,
)

VIPS = ["198.51.100.100", "198.51.100.101"]
GROUP = {"keepalived_topology": "dual_master", "keepalived_vips": [f"{v}/25" for v in VIPS], "keepalived_interface": IFACE}
# documented defaults (roles/keepalived/meta/argument_specs.yml), written out by hand
DEFAULTS = {"delay_loop": 6, "lb_algo": "rr", "lb_kind": "DR", "protocol": "TCP", "weight": 1, "type": "TCP_CHECK", "path": "/",
            "status_code": 200, "connect_timeout": 3, "retry": 3, "delay_before_retry": 1}


def _maybe(draw, key: str, strategy: st.SearchStrategy[t.Any], out: dict[str, t.Any]) -> None:
    if draw(st.booleans()):
        out[key] = draw(strategy)


@st.composite
def virtual_servers(draw, mutate: bool):
    h = Mutator(draw, mutate, fields=8)
    out = []
    ports = draw(st.lists(st.integers(1, 65535), min_size=1, max_size=2, unique=True))
    for i, port in enumerate(ports):
        kind = draw(st.sampled_from(["DR", "NAT"]))
        fwmark = draw(st.one_of(st.none(), st.integers(1, 2**32 - 1))) if i == 0 else None
        fw_dr = fwmark is not None and kind == "DR"
        vs: dict[str, t.Any] = {"lb_kind": kind} if kind == "NAT" or draw(st.booleans()) else {}
        if fwmark is not None:
            vs["fwmark"] = fwmark
        else:
            vs.update({"address": draw(st.sampled_from(VIPS)), "port": draw(h(st.just(port)))})
        _maybe(draw, "lb_algo", h(st.sampled_from(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh"])), vs)
        if fwmark is None:
            _maybe(draw, "protocol", st.sampled_from(["TCP", "UDP"]), vs)
        _maybe(draw, "persistence_timeout", st.integers(1, 2678400), vs)
        _maybe(draw, "delay_loop", st.integers(1, 86400), vs)
        _maybe(draw, "inhibit_on_failure", st.booleans(), vs)
        hosts = draw(st.lists(st.integers(2, 99), min_size=1, max_size=3, unique=True))
        rss = []
        for n in hosts:
            rs: dict[str, t.Any] = {"address": draw(h(st.just(f"198.51.100.{n}" if kind == "DR" else f"198.51.100.{n + 128}")))}
            if kind == "NAT":
                rs["gateway"] = draw(st.sampled_from(VIPS))
                if fwmark is not None or draw(st.booleans()):
                    rs["port"] = draw(st.integers(1, 65535))
            _maybe(draw, "weight", st.integers(1, 65535), rs)
            rss.append(rs)
        vs["real_servers"] = rss
        check: dict[str, t.Any] = {}
        kind_of_check = draw(st.sampled_from(["HTTP_GET", "TCP_CHECK", "MISC_CHECK", "none", None]))
        if kind_of_check is not None:
            check["type"] = kind_of_check
        if kind_of_check == "HTTP_GET":
            _maybe(draw, "path", h(st.from_regex(r"/[a-z0-9._~/-]{0,12}", fullmatch=True)), check)
            _maybe(draw, "status_code", st.integers(100, 599), check)
        if kind_of_check == "MISC_CHECK":
            check["script"] = draw(h(st.from_regex(r"/usr/local/libexec/[a-z][a-z0-9-]{0,10}", fullmatch=True)))
            _maybe(draw, "misc_timeout", st.integers(1, 3600), check)
        if kind_of_check in ("HTTP_GET", "TCP_CHECK", None):
            _maybe(draw, "connect_timeout", st.integers(1, 3600), check)
            if fw_dr:
                check["port"] = draw(st.integers(1, 65535))
            else:
                _maybe(draw, "port", st.integers(1, 65535), check)
        _maybe(draw, "retry", st.integers(1, 100), check)
        _maybe(draw, "delay_before_retry", st.integers(0, 3600), check)
        if check or draw(st.booleans()):
            vs["check"] = check
        if draw(st.booleans()):
            sorry: dict[str, t.Any] = {"address": draw(h(st.sampled_from(["198.51.100.50", "198.51.100.51"])))}
            if not fw_dr:
                sorry["port"] = vs.get("port", port) if kind == "DR" else draw(st.integers(1, 65535))
            vs["sorry_server"] = sorry
        out.append(vs)
    return out


def _expected(vss: list[dict[str, t.Any]]) -> list[tuple[t.Any, ...]]:
    """The virtual_server blocks the inventory means, by hand."""
    want = []
    for vs in vss:
        d = {**DEFAULTS, **vs}
        fw_dr = "fwmark" in vs and d["lb_kind"] == "DR"
        head = ["fwmark", str(vs["fwmark"])] if "fwmark" in vs else [vs["address"], str(vs["port"])]
        body: list[tuple[str, list[str]]] = [("delay_loop", [str(d["delay_loop"])]), ("lb_algo", [d["lb_algo"]]),
                                             ("lb_kind", [d["lb_kind"]])]
        if "fwmark" not in vs:
            body.append(("protocol", [d["protocol"]]))
        if "persistence_timeout" in vs:
            body.append(("persistence_timeout", [str(vs["persistence_timeout"])]))
        if "sorry_server" in vs:
            s = vs["sorry_server"]
            body.append(("sorry_server", [s["address"]] + ([] if fw_dr else [str(s["port"])])))
        c = {**DEFAULTS, **(vs.get("check") or {})}
        checker: tuple[t.Any, ...] = ()
        common = [("retry", str(c["retry"])), ("delay_before_retry", str(c["delay_before_retry"]))]
        connect = [("connect_timeout", str(c["connect_timeout"]))] + ([("connect_port", str(c["port"]))] if "port" in c else [])
        if c["type"] == "HTTP_GET":
            checker = ("HTTP_GET", [("path", c["path"]), ("status_code", str(c["status_code"]))], connect + common)
        elif c["type"] == "TCP_CHECK":
            checker = ("TCP_CHECK", [], connect + common)
        elif c["type"] == "MISC_CHECK":
            misc = [("misc_path", c["script"])] + ([("misc_timeout", str(c["misc_timeout"]))] if "misc_timeout" in c else [])
            checker = ("MISC_CHECK", [], misc + common)
        rss = []
        for rs in vs["real_servers"]:
            args = [rs["address"]] + ([] if fw_dr else [str(rs.get("port", vs.get("port")))])
            rss.append((args, str(rs.get("weight", 1)), bool(vs.get("inhibit_on_failure")), checker))
        want.append((head, body, rss))
    return want


def _parsed(text: str) -> list[tuple[t.Any, ...]]:
    got = []
    for kw, args, children in kaconf.parse(text):
        if kw != "virtual_server":
            continue
        body = [(k, a) for k, a, c in children if c is None]
        rss = []
        for k, a, c in children:
            if k != "real_server":
                continue
            checkers = [(ck, cc) for ck, _ca, cc in c if cc is not None]
            checker: tuple[t.Any, ...] = ()
            if checkers:
                (ck, cc), = checkers
                url = [(uk, " ".join(ua)) for _k, _a, uc in cc if _k == "url" for uk, ua, _ in uc]
                checker = (ck, url, [(k2, " ".join(a2)) for k2, a2, c2 in cc if c2 is None])
            rss.append((a, kaconf.value(c, "weight"), bool(kaconf.find(c, "inhibit_on_failure")), checker))
            assert [k2 for k2, _a2, _c2 in c if k2 not in ("weight", "inhibit_on_failure")] == [x[0] for x in checkers]
        got.append((args, body, rss))
    return got


def _check(dirs, vss: list[dict[str, t.Any]]) -> None:
    hostvars = {h: {**_ka_paths(dirs), **GROUP, "keepalived_virtual_servers": vss} for h in HOSTS}
    problems = _accepts("keepalived", hostvars)
    event("refused" if problems else "accepted")
    if problems:
        return
    for host in HOSTS:
        text = R.render("keepalived", "keepalived.conf.j2", R.keepalived_vars(HOSTS, hostvars, host))
        assert _parsed(text) == _expected(vss), text
        res = keepalived_t(dirs, text)
        assert res.returncode == 0, res.stderr + text


@needs_keepalived
@settings(max_examples=40, deadline=None)
@given(vss=virtual_servers(mutate=False))
def test_valid_virtual_servers_are_accepted_and_render_exactly(ka_dirs, vss):  # noqa: F811
    hostvars = {h: {**_ka_paths(ka_dirs), **GROUP, "keepalived_virtual_servers": vss} for h in HOSTS}
    assert _accepts("keepalived", hostvars) == []
    _check(ka_dirs, vss)


@needs_keepalived
@settings(max_examples=60, deadline=None)
@given(vss=virtual_servers(mutate=True))
def test_hostile_virtual_servers_refused_or_rendered_exactly(ka_dirs, vss):  # noqa: F811
    _check(ka_dirs, vss)
