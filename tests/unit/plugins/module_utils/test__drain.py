# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.module_utils._drain import (
    DrainFileError,
    describe,
    moved,
    parse_drain,
    plan_drain,
    render,
    wait_done,
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, None),
        ("", 0),
        ("\n", 0),
        ("0\n", 0),
        ("-253\n", -253),
        ("  -253  ", -253),
        ("+5", 5),
        ("-60 lowered for maintenance\n", -60),
    ],
)
def test_parse_drain(content, expected):
    assert parse_drain(content) == expected


@pytest.mark.parametrize("content", ["drained", "x0", "--1"])
def test_parse_drain_rejects(content):
    with pytest.raises(DrainFileError, match="expected an integer"):
        parse_drain(content)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "missing"), (0, "active"), (-253, "drained"), (-254, "drained"), (-60, "weighted"), (10, "weighted")],
)
def test_describe(value, expected):
    assert describe(value) == expected


@pytest.mark.parametrize(
    ("current", "state", "changed", "after"),
    [
        (0, "drained", True, -253),
        (-253, "drained", False, -253),
        (-60, "drained", True, -253),
        (-253, "active", True, 0),
        (0, "active", False, 0),
        (None, "active", True, 0),
    ],
)
def test_plan_drain(current, state, changed, after):
    plan = plan_drain(current, state)
    assert (plan["changed"], plan["before"], plan["after"]) == (changed, current, after)


def test_plan_drain_rejects_unknown_state():
    with pytest.raises(ValueError, match="expected state"):
        plan_drain(0, "maintenance")


def test_render():
    assert render(-253) == "-253\n"


@pytest.mark.parametrize(
    ("state", "held", "watched", "done"),
    [
        ("drained", ["198.51.100.100"], ["198.51.100.100", "198.51.100.101"], False),
        ("drained", [], ["198.51.100.100"], True),
        ("drained", ["198.51.100.7"], ["198.51.100.100"], True),
        ("drained", [], [], True),
        ("active", ["198.51.100.100"], ["198.51.100.100"], True),
        ("active", ["198.51.100.100"], ["198.51.100.100", "198.51.100.101"], False),
        ("active", [], [], True),
    ],
)
def test_wait_done(state, held, watched, done):
    assert wait_done(state, held, watched) is done


def test_wait_done_rejects_unknown_state():
    with pytest.raises(ValueError):
        wait_done("gone", [], [])


def test_moved_only_watched():
    assert moved(["198.51.100.100", "198.51.100.11"], ["198.51.100.101"], ["198.51.100.100", "198.51.100.101"]) == {
        "released": ["198.51.100.100"],
        "acquired": ["198.51.100.101"],
    }
