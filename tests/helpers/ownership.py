# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file of another user, for the tests of code that refuses one, as root and as any user.

As root, :func:`give_away` chowns the files to ``uid`` (the real thing). Any other user can
neither chown a file away nor, in an unprivileged user namespace (one uid mapped), own a
second uid: there, ``os.stat``/``os.lstat``/``os.fstat`` report ``uid`` for exactly those
files (by device and inode) for the rest of the test, so the same checks of the code under
test run on the same files. CI runs as root and keeps the real chown.
"""

from __future__ import annotations

import os

NOBODY = 65534
_EXTRA = ("st_atime", "st_mtime", "st_ctime", "st_atime_ns", "st_mtime_ns", "st_ctime_ns", "st_blksize", "st_blocks", "st_rdev")


def owned_by(st: os.stat_result, uid: int) -> os.stat_result:
    """``st`` as if the file belonged to ``uid`` (its group too)."""
    seq = list(st)
    seq[4] = seq[5] = uid
    return os.stat_result(seq, {k: getattr(st, k) for k in _EXTRA if hasattr(st, k)})


def give_away(monkeypatch, *paths, uid: int = NOBODY) -> None:
    """``paths`` (files or directories, links not followed) now belong to ``uid``."""
    if os.geteuid() == 0:
        try:
            for p in paths:
                os.chown(p, uid, uid, follow_symlinks=False)
            return
        except OSError:  # root of a user namespace only (scripts/test as any user): uid is not mapped
            pass
    given: dict = getattr(os.fstat, "_halb_given", None)
    if given is None:
        given = {}
        for name in ("stat", "lstat", "fstat"):
            real = getattr(os, name)

            def fake(*args, _real=real, **kwargs):
                st = _real(*args, **kwargs)
                uid_now = given.get((st.st_dev, st.st_ino))
                return st if uid_now is None else owned_by(st, uid_now)

            fake._halb_given = given
            monkeypatch.setattr(os, name, fake)
    for p in paths:
        st = os.lstat(p)
        given[(st.st_dev, st.st_ino)] = uid
