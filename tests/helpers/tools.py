# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible commands the tests run: those of the Python running the tests (the
.venv that lab/bin/bootstrap made, or the one ansible-test runs), then PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def tool(name: str) -> str | None:
    """The path of command ``name`` next to this Python, else on PATH, else None."""
    here = Path(sys.executable).with_name(name)
    if here.exists():
        return str(here)
    return shutil.which(name)
