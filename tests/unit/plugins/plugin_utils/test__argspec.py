# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument-spec check of the preflight: Ansible's conversions, one row each, and
the refusals with their messages; then both roles' real specs against their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.halb.pair.plugins.plugin_utils._argspec import check

ROLES = Path(__file__).resolve().parents[4] / "roles"

CONVERTED = [
    pytest.param({"type": "int"}, "3", 3, id="int-from-extra-var"),
    pytest.param({"type": "int"}, " 3", 3, id="int-with-space"),
    pytest.param({"type": "int"}, 3.0, 3, id="int-from-integral-float"),
    pytest.param({"type": "float"}, "0.5", 0.5, id="float-from-str"),
    pytest.param({"type": "float"}, 1, 1.0, id="float-from-int"),
    pytest.param({"type": "bool"}, "yes", True, id="bool-yes"),
    pytest.param({"type": "bool"}, "False", False, id="bool-False"),
    pytest.param({"type": "bool"}, 0, False, id="bool-0"),
    pytest.param({"type": "str"}, 8081, "8081", id="str-from-int"),
    pytest.param({"type": "path"}, "/etc/x", "/etc/x", id="path"),
    pytest.param({"type": "list"}, ("a", "b"), ["a", "b"], id="list-from-tuple"),
    pytest.param({"type": "list", "elements": "int"}, ["1", 2], [1, 2], id="list-of-int"),
    pytest.param({"type": "raw"}, object, object, id="raw"),
    pytest.param({"type": "str", "choices": ["a", "b"]}, "b", "b", id="choice"),
    pytest.param({"type": "int", "choices": [2, 3]}, "3", 3, id="choice-after-conversion"),
    pytest.param({"type": "dict", "options": {"a": {"type": "int"}, "b": {"type": "str"}}}, {"a": "1"}, {"a": 1}, id="suboptions"),
]


@pytest.mark.parametrize(("spec", "value", "expected"), CONVERTED)
def test_converted_as_ansible_does(spec, value, expected):
    converted, problems = check({"v": spec}, {"v": value}, "lb1")
    assert problems == []
    assert converted["v"] == expected


REFUSED = [
    pytest.param({"type": "int"}, "3x", "v on lb1: found '3x' (str); allowed: an integer", id="int-word"),
    pytest.param({"type": "int"}, "1.5", "v on lb1: found '1.5' (str); allowed: an integer", id="int-fraction"),
    pytest.param({"type": "int"}, True, "v on lb1: found True (bool); allowed: an integer", id="int-bool"),
    pytest.param({"type": "int"}, [1], "v on lb1: found [1] (list); allowed: an integer", id="int-list"),
    pytest.param({"type": "float"}, "fast", "v on lb1: found 'fast' (str); allowed: a number", id="float-word"),
    pytest.param({"type": "bool"}, "maybe", "v on lb1: found 'maybe' (str); allowed: a boolean (true or false)", id="bool-word"),
    pytest.param({"type": "bool"}, 2, "v on lb1: found 2 (int); allowed: a boolean (true or false)", id="bool-2"),
    pytest.param({"type": "str"}, {"a": 1}, "v on lb1: found {'a': 1} (dict); allowed: a string", id="str-dict"),
    pytest.param({"type": "list"}, {"a": 1}, "v on lb1: found {'a': 1} (dict); allowed: a list", id="list-dict"),
    pytest.param({"type": "dict"}, "a", "v on lb1: found 'a' (str); allowed: a mapping", id="dict-str"),
    # The roles read the value as given, not as Ansible converts it: a string iterated is its characters.
    pytest.param({"type": "list"}, "a,b", "v on lb1: found 'a,b' (str); allowed: a list", id="list-comma-str"),
    pytest.param({"type": "list"}, 80, "v on lb1: found 80 (int); allowed: a list", id="list-int"),
    pytest.param({"type": "dict"}, '{"a": 1}', "v on lb1: found '{\"a\": 1}' (str); allowed: a mapping", id="dict-json-str"),
    pytest.param({"type": "str", "choices": ["a", "b"]}, "c", "v on lb1: found 'c' (str); allowed: one of a, b", id="choice"),
    pytest.param({"type": "list", "elements": "str", "choices": ["a"]}, ["a", "z"], "v[1] on lb1: found 'z' (str); allowed: one of a",
                 id="list-choice"),
    pytest.param({"type": "list", "elements": "int"}, [1, "x"], "v[1] on lb1: found 'x' (str); allowed: an integer", id="element"),
    pytest.param({"type": "list", "elements": "dict", "options": {"a": {"type": "int", "required": True}}}, [{}],
                 "v[0].a on lb1: missing; allowed: an integer (required)", id="required-suboption"),
    pytest.param({"type": "list", "elements": "dict", "options": {"a": {"type": "int", "required": True}}}, [{"a": None}],
                 "v[0].a on lb1: found None (null); allowed: an integer (required)", id="required-suboption-null"),
    pytest.param({"type": "dict", "options": {"a": {"type": "int"}}}, {"a": 1, "b": 2},
                 "v on lb1: unknown key(s) b; allowed: a", id="unknown-suboption"),
    pytest.param({"type": "list", "elements": "dict", "options": {"a": {"type": "int"}}}, ["a"],
                 "v[0] on lb1: found 'a' (str); allowed: a mapping", id="element-not-a-mapping"),
]


@pytest.mark.parametrize(("spec", "value", "message"), REFUSED)
def test_refused(spec, value, message):
    _converted, problems = check({"v": spec}, {"v": value}, "lb1")
    assert problems == [message]


def test_null_without_default_is_not_checked():
    assert check({"v": {"type": "int"}}, {"v": None}, "lb1")[1] == []


def test_absent_and_unknown_variables_are_left_alone():
    converted, problems = check({"v": {"type": "int"}}, {"other": "x"}, "lb1")
    assert (converted, problems) == ({"other": "x"}, [])


@pytest.mark.parametrize("secret", [{"secrets": ["v"]}, {}])
def test_secret_never_quoted(secret):
    spec = {"type": "int"} if secret else {"type": "int", "no_log": True}
    problems = check({"v": spec}, {"v": "hunter2!"}, "lb1", **secret)[1]
    assert problems == ["v on lb1: found <secret of 8 characters> (str); allowed: an integer"]


def test_a_scalar_for_a_mapping_that_holds_a_secret_is_not_quoted():
    # tls: "-----BEGIN PRIVATE KEY-----..." instead of tls: {key: ...}
    spec = {"tls": {"type": "dict", "options": {"name": {"type": "str"}, "key": {"type": "str", "no_log": True}}}}
    problems = check(spec, {"tls": "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n"}, "lb1")[1]
    assert problems == ["tls on lb1: found <secret of 37 characters> (str); allowed: a mapping"]
    # a mapping without secrets is quoted as before
    spec = {"d": {"type": "dict", "options": {"name": {"type": "str"}}}}
    assert check(spec, {"d": "plain"}, "lb1")[1] == ["d on lb1: found 'plain' (str); allowed: a mapping"]


def test_every_problem_at_once():
    spec = {"a": {"type": "int"}, "b": {"type": "bool"}}
    assert len(check(spec, {"a": "x", "b": "z"}, "lb1")[1]) == 2


@pytest.mark.parametrize("role", ["nginx", "keepalived"])
def test_role_defaults_pass_their_own_spec(role):
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    assert check(options, defaults, "lb1")[1] == []


def test_keepalived_check_timeout_from_extra_vars_is_an_int():
    options = yaml.safe_load((ROLES / "keepalived" / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    converted, problems = check(options, {"keepalived_check_timeout": "3"}, "lb1")
    assert (converted["keepalived_check_timeout"], problems) == (3, [])
    assert check(options, {"keepalived_check_timeout": "3s"}, "lb1")[1] == [
        "keepalived_check_timeout on lb1: found '3s' (str); allowed: an integer"
    ]
