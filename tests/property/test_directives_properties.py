# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests of the directives the role does not model (keepalived_global_defs_directives,
keepalived_instance_directives), as tests/property/test_render_properties.py does for the
VRRP side: generated lists of ``{name, value}`` - hostile strings in some - go through the
types and the preflight; every inventory they accept renders a keepalived.conf whose parsed
structure is the one rendered without them plus exactly one ``name value`` line per
directive, in order, at the end of global_defs and of every vrrp_instance (built here by
hand, never read back from the rendered text); those made of real keywords with sound values
pass the real ``keepalived -t``.

``test_attack_without_the_types_*`` render hostile values with the types bypassed and show
what they would do: a new vrrp_instance that claims a VIP at priority 254, a value cut at a
comment character - both accepted by ``keepalived -t``.
"""

from __future__ import annotations

import typing as t

from ansible_collections.halb.pair.plugins.plugin_utils import _types as T
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tests.helpers import direct_render as R
from tests.helpers import kaconf
from tests.property.test_render_properties import (
    HOSTILE,
    HOSTS,
    IFACE,
    _accepts,
    _ka_paths,
    ka_dirs,  # noqa: F401 (a fixture)
    keepalived_t,
    needs_keepalived,
)

G, INST = "keepalived_global_defs_directives", "keepalived_instance_directives"
GROUP = {"keepalived_topology": "dual_master", "keepalived_vips": ["198.51.100.100/24", "198.51.100.101/24"]}

# real keywords keepalived 2.2.7 accepts, each with values it accepts (a value of None: a flag)
_INT = st.integers(0, 100)
GLOBAL_KEYWORDS: dict[str, st.SearchStrategy[t.Any]] = {
    "vrrp_garp_interval": st.sampled_from([0.001, 0.01, 0.5, "0.25", 1]),
    "vrrp_gna_interval": st.sampled_from([0.001, "0.5", 1]),
    "vrrp_garp_lower_prio_repeat": _INT,
    "vrrp_garp_lower_prio_delay": _INT,
    "vrrp_garp_master_refresh_repeat": st.integers(1, 10),
    "vrrp_skip_check_adv_addr": st.none(),
    "vrrp_check_unicast_src": st.none(),
    "vrrp_lower_prio_no_advert": st.none(),
    "vrrp_higher_prio_send_advert": st.none(),
    "vrrp_min_garp": st.none(),
}
INSTANCE_KEYWORDS: dict[str, st.SearchStrategy[t.Any]] = {
    "garp_lower_prio_repeat": _INT,
    "garp_lower_prio_delay": _INT,
    "garp_master_delay": st.integers(0, 60),
    "garp_master_refresh": st.integers(0, 60),
    "lower_prio_no_advert": st.none(),
    "higher_prio_send_advert": st.none(),
    "skip_check_adv_addr": st.none(),
}
ATTACKS = [
    "2\n}\nvrrp_instance EVIL {\n    state MASTER\n    interface eth0\n    virtual_router_id 99\n    priority 254",
    "1 # 0.001", "1 ! 0.001", '"0.001"', "0.001 \\", "${X}", "0.001\r\nvrrp_strict", "{", "}",
]


def _item(name: str, value: t.Any) -> dict[str, t.Any]:
    return {"name": name} if value is None else {"name": name, "value": value}


@st.composite
def directives(draw, keywords: dict[str, st.SearchStrategy[t.Any]], hostile: bool) -> list[dict[str, t.Any]]:
    names = draw(st.lists(st.sampled_from(sorted(keywords)), unique=True, max_size=4))
    out = [_item(n, draw(keywords[n])) for n in names]
    if hostile and out and draw(st.booleans()):
        i = draw(st.integers(0, len(out) - 1))
        noise = st.text(alphabet=HOSTILE + "abc019:./-_", min_size=1, max_size=12)
        valid = st.just(str(out[i].get("value", "")))
        bad = st.one_of(st.sampled_from(ATTACKS), noise, st.tuples(valid, noise).map("".join),
                        st.tuples(noise, valid).map("".join))
        if draw(st.booleans()):
            out[i] = {**out[i], "value": draw(bad)}
        else:
            out[i] = {**out[i], "name": draw(st.one_of(bad, st.sampled_from(["router_id", "priority", "vrrp_strict", "notify"])))}
    return out


def _hostvars(dirs, gdefs: list, inst: list) -> dict[str, dict[str, t.Any]]:
    return {h: {**_ka_paths(dirs), **GROUP, G: gdefs, INST: inst} for h in HOSTS}


def _structure(text: str) -> tuple[list[str], list[tuple[str, list[str]]], dict[str, list[tuple[str, list[str]]]]]:
    tree = kaconf.parse(text)
    (gdefs,) = [c for k, _a, c in tree if k == "global_defs"]
    return ([k for k, _a, _c in tree], [(k, a) for k, a, _c in gdefs],
            {a[0]: [(k, a2) for k, a2, _c in c] for k, a, c in tree if k == "vrrp_instance"})


def _lines(items: list[dict[str, t.Any]]) -> list[tuple[str, list[str]]]:
    """The lines the inventory means, by hand: the keyword, then the value's words (none for a flag)."""
    out = []
    for d in items:
        value = d.get("value", "")
        words = [] if value == "" else (repr(value) if isinstance(value, float) else str(value)).split(" ")
        out.append((d["name"], words))
    return out


def _check(dirs, gdefs: list, inst: list, run_t: bool) -> None:
    hostvars = _hostvars(dirs, gdefs, inst)
    problems = _accepts("keepalived", hostvars)
    event("refused" if problems else "accepted")
    if problems:
        return
    for host in HOSTS:
        text = R.render("keepalived", "keepalived.conf.j2", R.keepalived_vars(HOSTS, hostvars, host))
        base = R.render("keepalived", "keepalived.conf.j2", R.keepalived_vars(HOSTS, _hostvars(dirs, [], []), host))
        (top, g, insts), (btop, bg, binsts) = _structure(text), _structure(base)
        assert top == btop, text  # no block added or lost
        assert g == bg + _lines(gdefs), text
        assert insts == {name: children + _lines(inst) for name, children in binsts.items()}, text
        if run_t:
            res = keepalived_t(dirs, text)
            assert res.returncode == 0, res.stderr + text


GOOD = ([{"name": "vrrp_garp_interval", "value": 0.001}, {"name": "vrrp_skip_check_adv_addr"}],
        [{"name": "garp_lower_prio_repeat", "value": 2}])


@needs_keepalived
@settings(max_examples=30, deadline=None)
@given(gdefs=directives(GLOBAL_KEYWORDS, hostile=False), inst=directives(INSTANCE_KEYWORDS, hostile=False))
@example(gdefs=GOOD[0], inst=GOOD[1])
def test_real_directives_are_accepted_and_render_exactly(ka_dirs, gdefs, inst):  # noqa: F811
    assert _accepts("keepalived", _hostvars(ka_dirs, gdefs, inst)) == []
    _check(ka_dirs, gdefs, inst, run_t=True)


@needs_keepalived
@settings(max_examples=60, deadline=None)
@given(gdefs=directives(GLOBAL_KEYWORDS, hostile=True), inst=directives(INSTANCE_KEYWORDS, hostile=True))
def test_hostile_directives_refused_or_rendered_exactly(ka_dirs, gdefs, inst):  # noqa: F811
    _check(ka_dirs, gdefs, inst, run_t=False)


# --------------------------------------------------------------------------
# Without the types: what a hostile value does to the file (and keepalived -t accepts)

def _render_untyped(dirs, gdefs: list, inst: list) -> str:
    return R.render("keepalived", "keepalived.conf.j2", R.keepalived_vars(HOSTS, _hostvars(dirs, gdefs, inst), "lb1"))


@needs_keepalived
def test_attack_without_the_types_an_instance_directive_adds_a_vrrp_instance(ka_dirs):  # noqa: F811
    attack = (f"2\n}}\nvrrp_instance EVIL {{\n    state MASTER\n    interface {IFACE}\n    virtual_router_id 99\n"
              "    priority 254\n    virtual_ipaddress {\n        198.51.100.66/24\n    }")
    inst = [{"name": "garp_lower_prio_repeat", "value": attack}]
    text = _render_untyped(ka_dirs, [], inst)
    tree = kaconf.parse(text)
    insts = [(a[0], c) for k, a, c in tree if k == "vrrp_instance"]
    assert [name for name, _c in insts] == ["VI_1", "EVIL", "VI_2", "EVIL"]  # each of the node's instances ends in one more
    evil = insts[1][1]
    assert (kaconf.value(evil, "priority"), [k for k, _a, _c in kaconf.find(evil, "virtual_ipaddress")[0][2]]) == (
        "254", ["198.51.100.66/24"])
    # one of them is enough for keepalived (two instances cannot share a name and a VRID)
    once = text.replace("vrrp_instance EVIL", "vrrp_instance EVIL2", 1).replace("virtual_router_id 99", "virtual_router_id 98", 1)
    res = keepalived_t(ka_dirs, once)
    assert res.returncode == 0, res.stderr + once  # a file keepalived runs: a VIP claimed at priority 254
    problems = T.check_role_vars("keepalived", "lb1", {INST: inst})
    assert problems and "(garp_lower_prio_repeat).value on lb1" in problems[0] and "a line break" in problems[0]


@needs_keepalived
def test_attack_without_the_types_a_comment_cuts_the_value(ka_dirs):  # noqa: F811
    gdefs = [{"name": "vrrp_garp_interval", "value": "1 # 0.001"}]
    text = _render_untyped(ka_dirs, gdefs, [])
    # keepalived reads `vrrp_garp_interval 1`: the value meant is silently gone (kaconf strips comments as keepalived does)
    assert ("vrrp_garp_interval", ["1"]) in _structure(text)[1]
    assert keepalived_t(ka_dirs, text).returncode == 0
    assert T.check_role_vars("keepalived", "lb1", {G: gdefs}) != []
