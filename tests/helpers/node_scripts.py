# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tests of the keepalived role's node scripts (files/libexec) share: the script
loaded as a module, and a real HTTP health endpoint on loopback standing in for a peer's
nginx."""

from __future__ import annotations

import contextlib
import http.server
import importlib.machinery
import importlib.util
import os
import pathlib
import shutil
import subprocess
import threading
import time
import types
import typing as t

LIBEXEC = pathlib.Path(__file__).resolve().parents[2] / "roles" / "keepalived" / "files" / "libexec"


def load_script(name: str) -> types.ModuleType:
    """roles/keepalived/files/libexec/<name> (no .py suffix) as a module."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(LIBEXEC / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.server.on_request:
            self.server.on_request()
        self.send_response(self.server.status)
        leaving = self.server.leaving
        # as nginx's health server: the header while the node's leaving file exists
        if leaving is True or (isinstance(leaving, (str, pathlib.Path)) and os.path.exists(leaving)):
            self.send_header("X-HALB-Leaving", "1")
        self.end_headers()

    def log_message(self, *a):
        pass


@contextlib.contextmanager
def health_endpoint() -> t.Iterator[http.server.ThreadingHTTPServer]:
    """A server answering every GET with its ``status`` (200; set it to fail the check),
    ``url`` its /healthz. ``leaving``: True, or a path whose existence (as nginx's
    ``if (-f ...)``) adds ``X-HALB-Leaving: 1``; ``on_request``: called before each answer."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    srv.status = 200
    srv.leaving = False
    srv.on_request = None
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/healthz"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


#: The process name the tests give their stand-in for keepalived (never "keepalived" itself:
#: no process of that name is started on the host running the tests).
FAKE_KEEPALIVED = "halb-fake-ka"


@contextlib.contextmanager
def process(directory: pathlib.Path, name: str = "sleep") -> t.Iterator[subprocess.Popen]:
    """A live process (``sleep 60``) whose program, and so its ``comm``, is ``name``;
    killed at the end. ``name="sleep"`` is an unrelated process that must never be signalled."""
    exe = pathlib.Path(shutil.which("sleep") or "/bin/sleep")
    if name != exe.name:
        copy = directory / name
        shutil.copy(exe, copy)
        exe = copy
    proc = subprocess.Popen([str(exe), "60"])
    try:
        for _ in range(100):  # until exec has replaced the forked Python's name
            with contextlib.suppress(OSError):
                if pathlib.Path(f"/proc/{proc.pid}/comm").read_text().strip() == name[:15]:
                    break
            time.sleep(0.01)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def alive(proc: subprocess.Popen) -> bool:
    """Still running: not signalled to death."""
    return proc.poll() is None
