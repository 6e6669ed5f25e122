# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one node's state: the thin I/O layer under vip_info and vrrp_failover.

Private. Unlike the parsers this does I/O (commands, files, signals, one local HTTP
request), but never through AnsibleModule: commands go through an injected
``run(argv) -> (rc, stdout, stderr)`` (``module.run_command`` in the modules, a fake
in the tests), and the clock and sleep are injectable too. Errors are raised as
``NodeError`` with expected-vs-found text; the module turns them into ``fail_json``.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import stat
import time
import typing as t
import urllib.error
import urllib.request

from . import _drain, _ipaddr, _ipvs, _keepalived_state

Runner = t.Callable[[list[str]], tuple[int, str, str]]

#: The options of every module that reads the node's keepalived (vip_info, vrrp_failover).
#: Documented once, in plugins/doc_fragments/keepalived_node.py; a unit test keeps the two equal.
NODE_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "keepalived_bin": {"type": "path", "default": "keepalived"},
    "pid_file": {"type": "path", "default": "/run/keepalived.pid"},
    "dump_dir": {"type": "path", "default": "/tmp"},
    "drain_file": {"type": "path", "default": _drain.DRAIN_FILE},
}

#: The dumps keepalived writes into ``dump_dir`` on ``--signum=JSON`` / ``--signum=DATA``, and their parsers.
DUMPS: dict[str, tuple[str, t.Callable[[str], list[_keepalived_state.InstanceState]]]] = {
    "json": ("keepalived.json", _keepalived_state.parse_json_dump),
    "data": ("keepalived.data", _keepalived_state.parse_data_dump),
}


class NodeError(RuntimeError):
    """Reading the node failed; the message says what was expected and what was found."""


#: keepalived's process name (``/proc/PID/comm``, and the name of ``/proc/PID/exe``).
KEEPALIVED_COMM = "keepalived"
#: The most this layer reads from one file (a state line, a pid, a drain value, a dump).
MAX_READ = 4 * 1024 * 1024
#: How much older than the signal a fresh dump's mtime may look (coarse file-system clocks).
MTIME_SLACK = 0.05


def trusted_owners() -> frozenset[int]:
    """Who may own a file root reads and acts on: root, and the user this runs as."""
    return frozenset((0, os.geteuid()))


def file_problem(mode: int, uid: int, owners: t.Collection[int]) -> str | None:
    """Why a file (its ``lstat``/``fstat`` mode and owner) must not be trusted, or None.

    Only a regular file owned by one of ``owners`` is read: never a symbolic link, a FIFO
    (a read would block), a device or a file another user could have planted.
    """
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if not stat.S_ISREG(mode):
        return "a special file"
    if uid not in owners:
        return f"a file of uid {uid}, not of {' or '.join(str(o) for o in sorted(owners))}"
    return None


def read_trusted(path: str, owners: t.Collection[int] | None = None, dir_fd: int | None = None) -> str | None:
    """A file's text, or None when it does not exist; never through a link, a FIFO or a foreign file.

    Opened with ``O_NOFOLLOW | O_NONBLOCK`` (a planted link fails, a planted FIFO does not
    block), then checked on the open descriptor (``file_problem``) before a byte is read.
    """
    owners = trusted_owners() if owners is None else owners
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NodeError(f"expected {path} to be a regular file, found a symbolic link") from None
        raise NodeError(f"expected to read {path}, found {exc.strerror}") from None
    st = os.fstat(fd)
    problem = file_problem(st.st_mode, st.st_uid, owners)
    if problem:
        os.close(fd)
        raise NodeError(f"expected to read {path}, a regular file owned by root, found {problem}")
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_READ).decode("utf-8", errors="replace")


def read_text(path: str) -> str | None:
    """A file's text, or None when it does not exist (a root-owned file: ``read_trusted``)."""
    return read_trusted(path)


def read_addresses(run: Runner, ip: str = "ip") -> list[_ipaddr.Address]:
    rc, out, err = run([ip, "-j", "addr", "show"])
    if rc != 0:
        raise NodeError(f"expected `{ip} -j addr show` to exit 0, found rc={rc}: {err.strip() or out.strip()}")
    try:
        return _ipaddr.parse_ip_addr_json(out)
    except _ipaddr.IpAddrParseError as exc:
        raise NodeError(str(exc)) from None


def read_ipvs(path: str = _ipvs.PROC_IP_VS, boot: str = "/boot") -> list[_ipvs.VirtualServer] | None:
    """The node's IPVS virtual servers (``_ipvs.parse``), or None when ``path`` is missing (ip_vs not loaded).

    The persistence timeouts are turned into seconds with ``CONFIG_HZ`` from
    ``BOOT/config-RELEASE`` (Debian and EL ship it); without that file they are None.
    """
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(MAX_READ)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NodeError(f"expected to read {path}, found {exc.strerror}") from None
    try:
        with open(os.path.join(boot, f"config-{os.uname().release}"), encoding="utf-8", errors="replace") as handle:
            hz = _ipvs.config_hz(handle.read(MAX_READ))
    except OSError:
        hz = None
    try:
        return _ipvs.parse(text, hz)
    except _ipvs.IpvsParseError as exc:
        raise NodeError(f"{path}: {exc}") from None


def held_vips(run: Runner, vips: t.Iterable[str], ip: str = "ip") -> list[str]:
    """The VIPs of ``vips`` the node holds now, normalised, in the order given."""
    held = _ipaddr.held_addresses(read_addresses(run, ip), vips)
    return [vip for vip, entry in held.items() if entry is not None]


def process_problem(comm: str | None, exe: str | None, uid: int | None, owners: t.Collection[int]) -> str | None:
    """Why a live process is not keepalived's own, or None.

    ``comm`` is ``/proc/PID/comm``, ``exe`` the target of ``/proc/PID/exe`` (None when it
    cannot be read), ``uid`` the real uid from ``/proc/PID/status``. A stale pid file
    naming a reused pid names some other program: it is never signalled.
    """
    if comm is None or uid is None:
        return "no such process"
    if comm.strip() != KEEPALIVED_COMM:
        return f"a process named {comm.strip()!r}, not {KEEPALIVED_COMM}"
    if exe is not None:
        name = os.path.basename(exe.removesuffix(" (deleted)"))
        if name != KEEPALIVED_COMM:
            return f"a process running {exe!r}, not {KEEPALIVED_COMM}"
    if uid not in owners:
        return f"a process of uid {uid}, not of {' or '.join(str(o) for o in sorted(owners))}"
    return None


def _proc(pid: int, proc: str) -> tuple[str | None, str | None, int | None]:
    """(comm, exe, real uid) of ``pid`` from ``proc``; None for what cannot be read."""
    base = os.path.join(proc, str(pid))
    try:
        with open(os.path.join(base, "comm"), encoding="utf-8", errors="replace") as handle:
            comm = handle.read()
        with open(os.path.join(base, "status"), encoding="utf-8", errors="replace") as handle:
            uid = next((int(line.split()[1]) for line in handle if line.startswith("Uid:")), None)
    except (OSError, ValueError, IndexError):
        return None, None, None
    try:
        exe: str | None = os.readlink(os.path.join(base, "exe"))
    except OSError:
        exe = None
    return comm, exe, uid


def keepalived_process(pid_file: str, proc: str = "/proc") -> tuple[int | None, str | None]:
    """(keepalived's pid, None) when the pid file names keepalived's own live process, else (None, why not).

    The pid file must be a regular root-owned file (not a link); the process it names must
    be called keepalived, run the keepalived binary and belong to root. A stale pid file whose
    pid was reused by another program gives None: nothing is ever signalled then.
    """
    try:
        text = read_trusted(pid_file)
    except NodeError as exc:
        return None, str(exc)
    if text is None:
        return None, f"no {pid_file}"
    if not text.strip().isdigit() or int(text.strip()) <= 0:
        return None, f"no pid in {pid_file}"
    pid = int(text.strip())
    problem = process_problem(*_proc(pid, proc), trusted_owners())
    return (None, f"{pid_file} names pid {pid}: {problem}") if problem else (pid, None)


def keepalived_pid(pid_file: str, proc: str = "/proc") -> int | None:
    """keepalived's pid when the pid file names keepalived's own live process (``keepalived_process``), else None."""
    return keepalived_process(pid_file, proc)[0]


def signal_keepalived(pid: int, sig: int, proc: str = "/proc") -> None:
    """Send ``sig`` to ``pid`` only if it is (still) keepalived's own process.

    The process is pinned with a pidfd before its identity is checked, so a pid that is
    reused between the check and the signal is never signalled. Raises ``OSError``.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    send = getattr(signal, "pidfd_send_signal", None)
    fd = None
    if pidfd_open is not None and send is not None:
        try:
            fd = pidfd_open(pid)
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EINVAL):
                raise
    try:
        problem = process_problem(*_proc(pid, proc), trusted_owners())
        if problem:
            raise OSError(errno.ESRCH, f"pid {pid} is {problem}")
        if fd is not None and send is not None:
            send(fd, sig)
        else:
            os.kill(pid, sig)
    finally:
        if fd is not None:
            os.close(fd)


def keepalived_version(run: Runner, binary: str = "keepalived") -> str | None:
    try:
        _rc, out, err = run([binary, "--version"])
    except OSError:
        return None
    # keepalived prints its version on stderr; accept stdout too.
    return _keepalived_state.parse_version(err) or _keepalived_state.parse_version(out)


def signum(run: Runner, binary: str, name: str) -> int | None:
    try:
        rc, out, _err = run([binary, f"--signum={name}"])
    except OSError:
        return None
    return _keepalived_state.parse_signum(out) if rc == 0 else None


def _remove(path: str) -> None:
    """Remove whatever non-directory sits at ``path`` (a dump holds the VRRP password)."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise NodeError(f"expected to remove {path}, found {exc.strerror}") from None


def _fresh_dump(path: str, since: float, owners: t.Collection[int]) -> tuple[str | None, str]:
    """(the dump's text, "") when ``path`` is a regular file of ``owners`` written at or after
    ``since`` (wall clock), else (None, what was found). Never follows a link, never blocks."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, "no new file"
    except OSError as exc:
        return None, "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
    st = os.fstat(fd)
    problem = file_problem(st.st_mode, st.st_uid, owners)
    if problem or st.st_mtime_ns / 1e9 < since - MTIME_SLACK:
        os.close(fd)
        return None, problem or "no new file"
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_READ).decode("utf-8", errors="replace"), ""


def request_dump(
    pid: int,
    sig: int,
    path: str,
    parse: t.Callable[[str], list[_keepalived_state.InstanceState]],
    timeout: float = 3.0,
    interval: float = 0.05,
    kill: t.Callable[[int, int], None] = signal_keepalived,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    wall: t.Callable[[], float] = time.time,
    owners: t.Collection[int] | None = None,
) -> list[_keepalived_state.InstanceState]:
    """Signal keepalived to write a dump to ``path`` and parse it once it is new and whole.

    keepalived writes to a fixed name, usually in the shared ``/tmp``: whatever is there
    before the signal (an older dump, or a file someone planted) is removed first, and only
    a regular file owned by root (not a link, not a FIFO) written after the signal is read.
    The dump holds the VRRP password: it is removed once read, and when the wait ends
    without one. A file that does not parse yet (being written) is read again until ``timeout``.
    """
    owners = trusted_owners() if owners is None else owners
    _remove(path)
    since = wall()
    try:
        kill(pid, sig)
    except OSError as exc:
        raise NodeError(f"expected to signal keepalived (pid {pid}) with {sig}, found {exc.strerror}") from None
    deadline = clock() + timeout
    try:
        while True:
            text, found = _fresh_dump(path, since, owners)
            if text is not None:
                try:
                    return parse(text)
                except _keepalived_state.KeepalivedStateError as exc:
                    found = str(exc)
            if clock() >= deadline:
                raise NodeError(f"expected keepalived to write a fresh {path} within {timeout:g} s of the signal, found {found}")
            sleep(interval)
    finally:
        _remove(path)


def read_dump(
    run: Runner, source: str, pid: int, binary: str, dump_dir: str, timeout: float = 3.0
) -> list[_keepalived_state.InstanceState]:
    """Ask the running keepalived (``pid``) for its ``json`` or ``data`` dump and parse it.

    The one reader of keepalived's dumps. The parsers drop the VRRP password
    (``auth_data``, ``Password = ...``) before anything else reads the text.
    """
    filename, parse = DUMPS[source]
    name = source.upper()
    if not os.path.isabs(binary):
        raise NodeError(f"expected the keepalived binary for a {source} dump, found no {binary} in PATH")
    sig = signum(run, binary, name)
    if sig is None:
        raise NodeError(f"expected `{binary} --signum={name}` to print a signal number, found none (build without {name}?)")
    return request_dump(pid, sig, os.path.join(dump_dir, filename), parse, timeout=timeout)


def read_states(
    run: Runner,
    order: t.Sequence[str],
    pid: int | None,
    *,
    binary: str,
    pid_file: str,
    dump_dir: str,
    state_dir: str,
    timeout: float = 3.0,
) -> tuple[str | None, list[_keepalived_state.InstanceState], list[str]]:
    """Try keepalived's state sources in ``order``; return (the source read, its instances, why the others failed)."""
    errors = []
    for source in order:
        try:
            if source == "feed":
                return source, _keepalived_state.parse_feed(read_feed(state_dir)), errors
            if pid is None:
                raise NodeError(f"expected keepalived to run for a {source} dump, found no live process in {pid_file}")
            return source, read_dump(run, source, pid, binary, dump_dir, timeout), errors
        except (NodeError, _keepalived_state.KeepalivedStateError) as exc:
            errors.append(f"{source}: {exc}")
    return None, [], errors


def vips_of(instances: t.Iterable[_keepalived_state.InstanceState]) -> list[str]:
    """The VIPs of the instances, each once, in order."""
    vips: list[str] = []
    for instance in instances:
        vips += [v for v in instance["vips"] if v not in vips]
    return vips


def read_feed(directory: str) -> dict[str, str]:
    """State feed files (instance name -> content); empty when the directory is missing.

    The directory belongs to keepalived's script user, who could plant links or FIFOs in
    it: it is opened without following a link, and only regular files owned by root or by
    the directory's owner are read (``read_trusted``); anything else is left out.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        dir_fd = os.open(directory, flags)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        why = "a symbolic link or not a directory" if exc.errno in (errno.ELOOP, errno.ENOTDIR) else exc.strerror
        raise NodeError(f"expected to list {directory}, found {why}") from None
    try:
        owners = trusted_owners() | {os.fstat(dir_fd).st_uid}
        result = {}
        for name in sorted(os.listdir(dir_fd)):
            if name.startswith("."):
                continue
            try:
                text = read_trusted(name, owners, dir_fd=dir_fd)
            except NodeError:
                continue
            if text is not None:
                result[name] = text
        return result
    finally:
        os.close(dir_fd)


class Health(t.TypedDict):
    url: str
    status: int | None
    latency_ms: float | None
    node: str | None
    healthy: bool
    error: str | None


def http_health(
    url: str, header: str = "X-HALB-Node", timeout: float = 2.0, clock: t.Callable[[], float] = time.monotonic,
    opener: urllib.request.OpenerDirector | None = None,
) -> Health:
    """GET the health endpoint without any proxy; a 200 is healthy.

    Non-2xx answers are reported with their status; no answer is ``status: None``.
    ``opener``: one built once by a caller that asks often (the watcher), else a new one.
    """
    opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler({}))
    start = clock()
    try:
        response = opener.open(urllib.request.Request(url, method="GET"), timeout=timeout)
        with response:
            response.read(4096)
            status, node = response.status, response.headers.get(header)
        error = None
    except urllib.error.HTTPError as exc:
        status, node, error = exc.code, exc.headers.get(header) if exc.headers else None, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Health(url=url, status=None, latency_ms=None, node=None, healthy=False, error=str(reason))
    latency = round((clock() - start) * 1000.0, 3)
    return Health(url=url, status=status, latency_ms=latency, node=node, healthy=status == 200, error=error)


def write_text(path: str, text: str) -> None:
    """Rewrite an existing regular file in place, keeping its owner and mode; never through a link.

    In place on purpose: keepalived watches a track file's directory with inotify and
    rereads the file when it is closed after writing.
    """
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        why = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise NodeError(f"expected to write {path}, found {why}") from None
    st = os.fstat(fd)
    problem = file_problem(st.st_mode, st.st_uid, trusted_owners())
    if problem:
        os.close(fd)
        raise NodeError(f"expected to write {path}, a regular file owned by root, found {problem}")
    with os.fdopen(fd, "wb") as handle:
        try:
            handle.truncate(0)
            handle.write(text.encode("utf-8"))
        except OSError as exc:
            raise NodeError(f"expected to write {path}, found {exc.strerror}") from None


def reader_gone(fd: int = 1) -> bool:
    """Whether the reader of ``fd`` (the module's standard output, where its result goes)
    went away: a pipe or socket whose other end closed polls as POLLERR or POLLHUP.

    A pipelined module without a tty hears of Ctrl-C or a dropped SSH session only this
    way (sshd closes the session's pipes, no signal reaches the process). A terminal, a
    file or a reader that stays (podman's conmon keeps an exec session's output open
    after its client died) never reads as gone.
    """
    try:
        events = select.poll()
        events.register(fd, select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in events.poll(0))
    except (OSError, ValueError):
        return False


def tcp_open(address: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on address:port (no data is sent)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
