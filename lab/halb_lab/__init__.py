# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""halb.pair's proving ground: the lab's Python (its report, the README's operations under
holder watchers, the benchmarks, the address plan), importable by name. Not shipped: the
collection's tarball leaves ``lab/`` out (galaxy.yml). ``lab/lib/podman-env.sh`` and
pytest (pyproject.toml) put ``lab/`` and the collections path on ``PYTHONPATH``.

``halb_lab.node`` holds the scripts that run inside the lab's nodes (the probe, the VRRP
attacker, the watchers' waiter, the Maildir reader): standalone, stdlib only, copied
into containers by the cases and importable here for their unit tests.
"""

from __future__ import annotations

from pathlib import Path

#: the lab's own folder, and the checkout it belongs to
LAB = Path(__file__).resolve().parent.parent
REPO = LAB.parent
#: the scripts the lab copies into its nodes
NODE = Path(__file__).resolve().parent / "node"
