# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the ``halb.pair.files`` module: what differs, how to validate.

Pure code (no Ansible imports): the module reads the node, asks these functions
what to do, and does it.
"""

from __future__ import annotations

import shlex
import typing as t
from dataclasses import dataclass


class FilesError(ValueError):
    """A request the module cannot carry out, with a message for the operator."""


@dataclass(frozen=True)
class Current:
    """What is on the node now (None: absent)."""

    content: bytes | None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class Wanted:
    content: bytes
    mode: int | None
    uid: int | None
    gid: int | None


def parse_mode(mode: t.Any) -> int | None:
    """ "0640" / "640" / 0o640 → 0o640; None stays None. Symbolic modes are refused."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    else:
        text = str(mode).strip()
        if not text or any(c not in "01234567" for c in text) or len(text) > 4:
            raise FilesError(f"mode: expected an octal string such as '0640', found {mode!r}")
        value = int(text, 8)
    if not 0 <= value <= 0o7777:
        raise FilesError(f"mode: expected 0000..7777, found {oct(value)}")
    return value


def differences(current: Current, wanted: Wanted) -> list[str]:
    """Why the node's file is not what is wanted (empty: nothing to do)."""
    if current.content is None:
        return ["absent"]
    why = []
    if current.content != wanted.content:
        why.append("content")
    if wanted.mode is not None and current.mode != wanted.mode:
        why.append("mode")
    if wanted.uid is not None and current.uid != wanted.uid:
        why.append("owner")
    if wanted.gid is not None and current.gid != wanted.gid:
        why.append("group")
    return why


def validate_argv(template: str, path: str) -> list[str]:
    """``validate`` with its single ``%s`` replaced by the candidate's path, as argv."""
    if template.count("%s") != 1:
        raise FilesError(f"validate: expected exactly one %s in {template!r}")
    before, after = template.split("%s")
    return [*shlex.split(before), path, *shlex.split(after)]


def text_diff(path: str, current: Current, wanted: Wanted) -> dict[str, str]:
    """A diff in Ansible's {before, after} form (text files only)."""
    before = "" if current.content is None else current.content.decode("utf-8", "replace")
    return {
        "before_header": path if current.content is not None else f"{path} (absent)",
        "after_header": path,
        "before": before,
        "after": wanted.content.decode("utf-8", "replace"),
    }


def effective_mode(wanted: Wanted, current: Current) -> int:
    """The mode a written file ends with: the one asked for, else the current file's, else 0644."""
    if wanted.mode is not None:
        return wanted.mode
    return current.mode if current.mode is not None else 0o644


def refusal_message(path: str, rc: int, out: str, err: str, candidate: str) -> str:
    """The validator's verdict on ``path``, its output naming the destination, not the temporary file."""
    detail = "\n".join(x for x in (out.strip(), err.strip()) if x).replace(candidate, path)
    return f"{path} was refused by its validator (exit {rc}) and not written" + (f":\n{detail}" if detail else "")


def unpredictable_message(path: str, rc: int, unseen: t.Sequence[str]) -> str:
    """Check mode: a refusal that may be wrong, because the validator sees files this run changes first."""
    return (
        f"{path}: check mode cannot predict its validation: the validator refused it (exit {rc}), but it sees "
        f"{', '.join(unseen)} as they are now, not as this run would leave them"
    )


def stale(entries: t.Iterable[tuple[str, bool]], keep: t.Iterable[str]) -> list[str]:
    """``prune``: the names of a directory's entries (``(name, is_directory)``) to remove - every
    file or link not named in ``keep``; subdirectories stay. ``keep`` holds names, not paths."""
    kept = set()
    for name in keep:
        if not name or "/" in name or name in (".", ".."):
            raise FilesError(f"prune: keep holds names of entries of the directory, found {name!r}")
        kept.add(name)
    return sorted(name for name, is_dir in entries if not is_dir and name not in kept)
