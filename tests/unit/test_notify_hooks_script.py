"""The keepalived role's notify hook runner (roles/keepalived/files/libexec/notify-hooks), run as
keepalived runs it on a node: a real process reading a real FIFO, with real hook scripts that
append what they were called with to a file. Lines are written into the FIFO the way
keepalived's VRRP process writes them (``INSTANCE "VI_1" MASTER 150``), in a known order,
some within the same millisecond; the hooks must see them in that order, each hook of an
event before any hook of the next.

``test_forking_one_notify_per_transition_reorders_them`` shows what the runner is for: the
same hooks started the way keepalived starts its ``notify`` scripts (a process per
transition, not waited for) see a slow hook's transition after a later one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import node_scripts

SCRIPT = node_scripts.LIBEXEC / "notify-hooks"
nh = node_scripts.load_script("notify-hooks")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the hooks must be root-owned, as keepalived's script security wants them")


def line(name: str, state: str, prio: int = 100, kind: str = "INSTANCE") -> bytes:
    return f'{kind} "{name}" {state} {prio}\n'.encode()


def hook(d: Path, tag: str, out: Path, slow_on: str = "", delay: float = 0.0, mode: int = 0o755) -> str:
    """A hook that appends ``TAG NAME STATE`` to ``out``; it sleeps ``delay`` s first when the state is ``slow_on``
    (and says it started: the file ``out.TAG-STATE``)."""
    p = d / tag
    p.write_text(f'#!/bin/sh\n: > "{out}.{tag}-$2"\n[ "$2" = "{slow_on}" ] && sleep {delay}\necho "{tag} $1 $2" >> {out}\n')
    os.chmod(p, mode)
    return str(p)


class Runner:
    def __init__(self, tmp: Path, hooks: list[str], timeout: float = 30) -> None:
        self.fifo = tmp / "events"
        self.cfg = tmp / "notify.json"
        self.cfg.write_text(json.dumps({"fifo": str(self.fifo), "hooks": hooks, "timeout": timeout}))
        self.log = tmp / "runner.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Runner:
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), "run", str(self.cfg)], stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("ab"))
        wait_for(lambda: "reading" in self.log.read_text(), "the runner to read its FIFO")
        return self

    def write(self, data: bytes, fifo: Path | None = None) -> None:
        # a writer of its own, as keepalived (the runner holds the FIFO open: this never blocks)
        fd = os.open(fifo or self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def runners():
    started: list[Runner] = []
    yield started
    for r in started:
        r.kill()


def wait_for(cond, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def lines_of(out: Path, n: int) -> list[str]:
    wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= n, f"{n} lines in {out.name}")
    time.sleep(0.2)  # nothing more may come
    return out.read_text().splitlines()


def test_every_hook_sees_the_transitions_in_keepalived_order(tmp_path, runners):
    out = tmp_path / "out"
    # h1 is slow on MASTER: a later transition arrives while it runs
    hooks = [hook(tmp_path, "h1", out, slow_on="MASTER", delay=1), hook(tmp_path, "h2", out)]
    r = Runner(tmp_path, hooks).start()
    runners.append(r)
    r.write(line("VI_1", "BACKUP", 100))
    # two transitions in one write (the same millisecond), then a third while h1 sleeps
    r.write(line("VI_1", "MASTER", 150) + line("VI_2", "FAULT", 0))
    time.sleep(0.1)
    # lines that are no instance transition are skipped
    r.write(line("G1", "MASTER", 0, kind="GROUP") + line("VI_1", "MASTER_RX_LOWER_PRI", 150) + line("VI_1", "MASTER_PRIORITY", 140))
    r.write(line("VI_1", "STOP", 0))
    assert lines_of(out, 8) == ["h1 VI_1 BACKUP", "h2 VI_1 BACKUP", "h1 VI_1 MASTER", "h2 VI_1 MASTER",
                                "h1 VI_2 FAULT", "h2 VI_2 FAULT", "h1 VI_1 STOP", "h2 VI_1 STOP"]
    assert r.stop() == 0


def test_forking_one_notify_per_transition_reorders_them(tmp_path):
    # what keepalived's `notify` does: a process per transition, not waited for
    out = tmp_path / "out"
    slow = hook(tmp_path, "h1", out, slow_on="MASTER", delay=1)
    procs = [subprocess.Popen([slow, "VI_1", state]) for state in ("MASTER", "BACKUP")]
    for p in procs:
        p.wait(timeout=30)
    assert out.read_text().splitlines() == ["h1 VI_1 BACKUP", "h1 VI_1 MASTER"]


def test_a_stop_finishes_the_transition_in_hand_and_leaves_the_rest_in_order(tmp_path, runners):
    out = tmp_path / "out"
    hooks = [hook(tmp_path, "h1", out, slow_on="MASTER", delay=1), hook(tmp_path, "h2", out)]
    r = Runner(tmp_path, hooks).start()
    runners.append(r)
    # keepalived keeps its end open across the runner's restart: the lines not taken stay in the pipe
    keepalived_end = os.open(r.fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(keepalived_end, line("VI_1", "MASTER", 150) + line("VI_1", "BACKUP", 100) + line("VI_1", "FAULT", 0))
        wait_for(lambda: Path(f"{out}.h1-MASTER").exists(), "h1 to start on MASTER")  # it sleeps 1 s, then writes
        assert r.stop() == 0  # during h1 on MASTER: h1 and h2 still run for it, then it ends
        assert out.read_text().splitlines() == ["h1 VI_1 MASTER", "h2 VI_1 MASTER"]
        again = Runner(tmp_path, hooks).start()
        runners.append(again)
        assert lines_of(out, 6)[2:] == ["h1 VI_1 BACKUP", "h2 VI_1 BACKUP", "h1 VI_1 FAULT", "h2 VI_1 FAULT"]
    finally:
        os.close(keepalived_end)


def test_a_fifo_keepalived_replaced_is_read_to_its_end_before_the_new_one(tmp_path, runners):
    out = tmp_path / "out"
    hooks = [hook(tmp_path, "h1", out, slow_on="MASTER", delay=1)]
    r = Runner(tmp_path, hooks).start()
    runners.append(r)
    old = os.open(r.fifo, os.O_RDWR | os.O_NONBLOCK)  # keepalived's end of the FIFO it made
    try:
        os.write(old, line("VI_1", "MASTER", 150))
        time.sleep(0.2)  # h1 runs for MASTER
        os.write(old, line("VI_1", "BACKUP", 100))
        # a reload: keepalived removes the FIFO it made, closes it and makes a new one
        r.fifo.unlink()
    finally:
        os.close(old)
    os.mkfifo(r.fifo, 0o600)
    new = os.open(r.fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(new, line("VI_1", "FAULT", 0))
        assert lines_of(out, 3) == ["h1 VI_1 MASTER", "h1 VI_1 BACKUP", "h1 VI_1 FAULT"]
        assert "was replaced or removed" in r.log.read_text()
    finally:
        os.close(new)
    # a stop of keepalived removes the FIFO it made: the runner makes its own, which keepalived's next start uses
    r.fifo.unlink()
    wait_for(lambda: r.fifo.exists() and stat.S_ISFIFO(os.lstat(r.fifo).st_mode), "the runner to make the FIFO again")
    r.write(line("VI_2", "BACKUP", 100))
    assert lines_of(out, 4)[3] == "h1 VI_2 BACKUP"


def test_an_unsafe_hook_is_not_run_and_said(tmp_path, runners):
    out = tmp_path / "out"
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)  # anyone could swap the hook in it (no sticky bit)
    hooks = [hook(tmp_path, "writable", out, mode=0o757), hook(open_dir, "in_open_dir", out), hook(tmp_path, "fine", out),
             str(tmp_path / "missing")]
    r = Runner(tmp_path, hooks).start()
    runners.append(r)
    r.write(line("VI_1", "MASTER", 150))
    assert lines_of(out, 1) == ["fine VI_1 MASTER"]
    wait_for(lambda: "missing" in r.log.read_text(), "the missing hook to be said")
    said = r.log.read_text()
    assert f"VI_1 MASTER: {tmp_path}/writable not run: {tmp_path}/writable is writable by others" in said
    assert f"VI_1 MASTER: {open_dir}/in_open_dir not run: {open_dir} is writable by others" in said
    assert f"{tmp_path}/missing not run: {tmp_path}/missing: No such file or directory" in said


def test_a_hook_that_hangs_is_killed_at_its_timeout_and_the_next_runs(tmp_path, runners):
    out = tmp_path / "out"
    hooks = [hook(tmp_path, "hangs", out, slow_on="MASTER", delay=60), hook(tmp_path, "next", out)]
    r = Runner(tmp_path, hooks, timeout=0.5).start()
    runners.append(r)
    r.write(line("VI_1", "MASTER", 150) + line("VI_1", "BACKUP", 100))
    assert lines_of(out, 3) == ["next VI_1 MASTER", "hangs VI_1 BACKUP", "next VI_1 BACKUP"]
    assert f"VI_1 MASTER: {tmp_path}/hangs killed after 0.5 s" in r.log.read_text()


@pytest.mark.parametrize(("cfg", "fragment"), [
    ({"fifo": "/var/lib/halb-pair-notify/events", "hooks": ["/usr/local/bin/h"], "timeout": 30}, None),
    ({"fifo": "events", "hooks": ["/usr/local/bin/h"], "timeout": 30}, "fifo: expected an absolute path"),
    ({"fifo": "/run/x", "hooks": [], "timeout": 30}, "hooks: expected a non-empty list"),
    ({"fifo": "/run/x", "hooks": ["/usr/local/bin/h x"], "timeout": 30}, "hooks[0]: expected an absolute path"),
    ({"fifo": "/run/x", "hooks": ["/h"], "timeout": 0}, "timeout: expected seconds"),
    ({"fifo": "/run/x", "hooks": ["/h"], "timeout": 1, "user": "root"}, "unknown keys ['user']"),
])
def test_check(tmp_path, cfg, fragment):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    res = subprocess.run([sys.executable, str(SCRIPT), "check", str(path)], capture_output=True, text=True, timeout=30)
    if fragment is None:
        assert (res.returncode, res.stderr) == (0, "")
    else:
        assert res.returncode == 1 and fragment in res.stderr, res.stderr


def test_fifo_makes_the_fifo_and_refuses_something_else_there(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"fifo": str(tmp_path / "events"), "hooks": ["/bin/true"], "timeout": 1}))
    for _ in range(2):  # a second run leaves it as it is
        assert subprocess.run([sys.executable, str(SCRIPT), "fifo", str(cfg)], timeout=30).returncode == 0
        st = os.lstat(tmp_path / "events")
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    (tmp_path / "events").unlink()
    (tmp_path / "events").write_text("")
    res = subprocess.run([sys.executable, str(SCRIPT), "fifo", str(cfg)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "exists and is not a FIFO" in res.stderr


@pytest.mark.parametrize(("raw", "event"), [
    (b'INSTANCE "VI_1" MASTER 150', ("VI_1", "MASTER")),
    (b'INSTANCE "VI_2" STOP 0', ("VI_2", "STOP")),
    (b'INSTANCE "VI_1" DELETED 0', None),
    (b'GROUP "G" MASTER 0', None),
    (b'INSTANCE "VI 1" MASTER 150', None),
    (b'INSTANCE "VI_1" MASTER 150 extra', None),
    (b"\xff", None),
])
def test_parse(raw, event):
    assert nh.parse(raw) == event


def test_the_unit_records_what_it_loaded_and_a_change_is_seen(tmp_path):
    # the unit's ExecStartPost, run as systemd runs it; then the role's comparison (service.yml)
    from tests.helpers import direct_render

    run_dir = tmp_path / "run" / "halb-pair"
    script, cfg = tmp_path / "notify-hooks", tmp_path / "notify.json"
    script.write_text("#!/usr/bin/python3\n")
    cfg.write_text('{"fifo": "/var/lib/halb-pair-notify/events", "hooks": ["/usr/local/bin/a"], "timeout": 30}\n')
    stamp = run_dir / "notify.loaded"
    text = direct_render.render("keepalived", "halb-pair-notify.service.j2", {
        "__keepalived_service": "keepalived", "keepalived_script_user": "keepalived_script", "keepalived_libexec_dir": str(tmp_path),
        "__keepalived_notify_config": str(cfg), "__keepalived_loaded_dir": str(run_dir),
        "__keepalived_notify_paths": [str(script), str(cfg)], "__keepalived_notify_stamp": str(stamp),
        "__keepalived_notify": {"fifo": "/var/lib/halb-pair-notify/events", "hooks": ["/usr/local/bin/a"], "timeout": 30},
    })
    (post,) = re.findall(r"^ExecStartPost=-\+/bin/sh -c (.+)$", text, flags=re.M)
    subprocess.run(["/bin/sh", "-c", f"umask 022; {shlex.split(post)[0]}"], check=True)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o755 and stat.S_IMODE(stamp.stat().st_mode) == 0o600
    compare = ["sha256sum", "--check", "--status", str(stamp)]
    assert subprocess.run(compare).returncode == 0  # what runs is what is written: no restart
    cfg.write_text('{"fifo": "/var/lib/halb-pair-notify/events", "hooks": ["/usr/local/bin/b"], "timeout": 30}\n')
    assert subprocess.run(compare).returncode != 0  # a new hook list: the role restarts the runner
    assert "TimeoutStopSec=40\n" in text and "User=keepalived_script\n" in text
