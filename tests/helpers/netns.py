# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network namespaces for the tests, as root and as any other user alike.

As root, a test's namespace is a plain ``unshare --net`` or ``ip netns``. Any other user
(scripts/test --quick needs no root) gets the same through an unprivileged user namespace
(``unshare --map-root-user``, which Debian's kernels allow): inside it the user is root over
the namespaces it made, and only over those; the host's network is never touched either way.
scripts/test runs pytest under fakeroot for such a user (the role chowns its files to root
and to keepalived's script user): fakeroot's root is no root for the kernel, so these
commands run without its LD_PRELOAD, as that user, through a user namespace too.

``ip netns`` keeps its namespaces under /run/netns, which only the machine's root may write
(and returns to the namespace it started in, which must be the user's own): for another user,
also one that is root in a user namespace only, :class:`IpNetns` holds a user, mount and network namespace of its own with a private
tmpfs on /run, and runs every ``ip`` command inside it (``nsenter``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

FAKEROOT = "FAKEROOTKEY" in os.environ  # under fakeroot: geteuid() says 0, the kernel says otherwise
ROOT = os.geteuid() == 0 and not FAKEROOT  # root for the kernel, perhaps only in a user namespace
#: a command prefix that leaves fakeroot (its LD_PRELOAD) behind
PLAIN = ["env", "-u", "LD_PRELOAD", "-u", "FAKEROOTKEY"] if FAKEROOT else []


def _initial_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


#: root of the machine itself: /run/netns is its own
REAL_ROOT = ROOT and _initial_user_namespace()
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
IP = shutil.which("ip") or "/usr/sbin/ip"

#: The prefix that runs a command in a network namespace of its own.
UNSHARE_NET = [UNSHARE, "--net"] if ROOT else [*PLAIN, UNSHARE, "--map-root-user", "--net"]
#: the same, as words of a shell command
UNSHARE_NET_SH = " ".join(UNSHARE_NET)


class IpNetns:
    """``ip`` (``.ip``, a command prefix) for a test's own ``ip netns`` namespaces; for a
    non-root user, inside a holder of its own, ended by :meth:`close`."""

    def __init__(self) -> None:
        self.holder: subprocess.Popen | None = None
        if REAL_ROOT:
            self.ip = [IP]
            return
        setup = "mount -t tmpfs halb-netns /run && mkdir -p /run/netns && echo ready && exec sleep infinity"
        self.holder = subprocess.Popen([*PLAIN, UNSHARE, "--map-root-user", "--mount", "--net", "sh", "-c", setup],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline() if self.holder.stdout else ""
        if line.strip() != "ready":
            self.close()
            raise OSError(f"cannot make a user namespace for ip netns: {line.strip()}")
        self.ip = [*PLAIN, NSENTER, f"--target={self.holder.pid}", "--user", "--mount", "--net", "--preserve-credentials", IP]

    def close(self) -> None:
        if self.holder is not None:
            self.holder.kill()
            deadline = time.monotonic() + 10
            while self.holder.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            self.holder = None
