# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drain file and the planned-failover decisions around it.

Private and pure. The drain file (``/var/lib/halb-pair/drain``) is a keepalived
``vrrp_track_file`` with weight 1 tracked by every instance of the node: ``0`` is
active, ``-253`` pulls every instance to priority 1 so the peers take over
make-before-break (see docs/design.md).
"""

from __future__ import annotations

import re
import typing as t

DRAIN_FILE = "/var/lib/halb-pair/drain"
ACTIVE = 0
#: keepalived's largest weight of a tracked file or script, either sign: 254 - 253 = 1,
#: the lowest priority a running instance keeps. The one definition of -253 (drain,
#: hand-over) and of the check weight's range.
WEIGHT_MAX = 253
DRAINED = -WEIGHT_MAX
STATE_VALUES = {"active": ACTIVE, "drained": DRAINED}


class DrainFileError(ValueError):
    """The drain file holds something keepalived would not read as a number."""


def parse_drain(content: str | None) -> int | None:
    """The value in the drain file; None when the file does not exist.

    keepalived reads the first integer of the file; an empty file counts as 0.
    """
    if content is None:
        return None
    text = content.strip()
    if not text:
        return ACTIVE
    match = re.match(r"^[+-]?\d+", text)
    if not match:
        raise DrainFileError(f"expected an integer such as 0 or {DRAINED} in the drain file, found {text[:40]!r}")
    return int(match.group(0))


def describe(value: int | None) -> str:
    """``missing``, ``active`` (0), ``drained`` (<= -253) or ``weighted`` (anything else)."""
    if value is None:
        return "missing"
    if value == ACTIVE:
        return "active"
    if value <= DRAINED:
        return "drained"
    return "weighted"


class DrainPlan(t.TypedDict):
    changed: bool
    before: int | None
    after: int


def plan_drain(current: int | None, state: str) -> DrainPlan:
    """What to write for ``state`` (``active``/``drained``) given the current value."""
    if state not in STATE_VALUES:
        raise ValueError(f"expected state active or drained, found {state!r}")
    target = STATE_VALUES[state]
    return DrainPlan(changed=current != target, before=current, after=target)


def render(value: int) -> str:
    return f"{value}\n"


def wait_done(state: str, held: t.Iterable[str], watched: t.Iterable[str]) -> bool:
    """Is the move finished, seen from the node?

    ``drained``: the node holds none of the watched VIPs. ``active``: it holds all
    of them (the VIPs it is preferred master of).
    """
    held_set, watched_set = set(held), set(watched)
    if state == "drained":
        return not (held_set & watched_set)
    if state == "active":
        return watched_set <= held_set
    raise ValueError(f"expected state active or drained, found {state!r}")


def moved(before: t.Iterable[str], after: t.Iterable[str], watched: t.Iterable[str]) -> dict[str, list[str]]:
    """The watched VIPs the node released and acquired between two readings."""
    b, a, w = set(before), set(after), set(watched)
    return {"released": sorted((b - a) & w), "acquired": sorted((a - b) & w)}
