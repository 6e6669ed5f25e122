# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip bootstrap script ansible-test downloads from
ci-files.testing.ansible.com (unreachable here): tests/helpers/run_ansible_test.py puts it
where ansible-test caches that script. ansible-test runs it in a new virtual
environment as ``python get_pip.py [pip install options] pip==X``; this installs the
pip bundled with Python (ensurepip), then the pip asked for, from the package index
pip is configured with.
"""

from __future__ import annotations

import ensurepip
import os
import runpy
import sys

# get-pip's own options, which pip install does not know
OWN = {"--no-setuptools", "--no-wheel"}

before = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
ensurepip.bootstrap()
# ensurepip turns pip's configuration off (PIP_CONFIG_FILE=/dev/null) for the rest of
# this process: the pip install below uses the configured index again
for k in [k for k in os.environ if k.startswith("PIP_")]:
    del os.environ[k]
os.environ.update(before)
sys.argv = ["pip", "install", *(a for a in sys.argv[1:] if a not in OWN)]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
