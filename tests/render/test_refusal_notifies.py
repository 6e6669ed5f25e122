# SPDX-License-Identifier: GPL-3.0-or-later
"""A refused nginx file never hides the files written before it (issue 9).

The real nginx role runs (tests/render/nginx_cases/render.yml) on a fresh
configuration directory whose stream {} file nginx refuses (no stream module):
nginx.conf and halb-lb.conf are written, the stream file is not, the handler
"nginx config changed" is still notified and run (skipped here: render only), and
the play then fails with nginx's error. Before, the write task failed and no
handler was notified, so the next run found the files unchanged and never reloaded.
"""

from __future__ import annotations

import re

import pytest

from tests.render.test_nginx import GOOD, NGINX, WEB2, make_conf_dir, recap, run_playbook

pytestmark = pytest.mark.skipif(not NGINX, reason="nginx is not installed on this host")
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def test_refused_stream_file_still_notifies_for_the_files_written(tmp_path):
    import os

    if os.path.exists(STREAM_MODULE):
        pytest.skip("the stream module is installed: the stream file would be accepted")
    hosts = {"nomod": {**make_conf_dir(tmp_path / "nomod"), **GOOD,
                       "nginx_lb_streams": [{"name": "pg", "listen": ["5432"], "servers": WEB2}]}}
    proc = run_playbook(tmp_path, hosts)
    out = proc.stdout
    assert recap(out)["nomod"]["failed"] == 1, out[-4000:]
    etc = tmp_path / "nomod" / "etc"
    assert (etc / "nginx.conf").exists() and (etc / "conf.d" / "halb-lb.conf").exists()
    assert not (etc / "stream.d" / "halb-stream.conf").exists()
    # the handlers ran for what was written (before the failure), then the role failed on the refusal
    handler = out.find("RUNNING HANDLER [halb.pair.nginx : Reload nginx]")
    failed = out.find("TASK [halb.pair.nginx : Fail on a refused nginx file (the live one is kept)]")
    assert 0 <= handler < failed, out[-4000:]
    assert re.search(r"halb-stream.conf was refused by its validator \(exit 1\) and not written", out)
    assert 'unknown directive \\"stream\\"' in out or 'unknown directive "stream"' in out
