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
import socket
import time
import typing as t
import urllib.error
import urllib.request

from . import _drain, _ipaddr, _keepalived_state

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


def read_text(path: str) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NodeError(f"expected to read {path}, found {exc.strerror}") from None


def read_addresses(run: Runner, ip: str = "ip") -> list[_ipaddr.Address]:
    rc, out, err = run([ip, "-j", "addr", "show"])
    if rc != 0:
        raise NodeError(f"expected `{ip} -j addr show` to exit 0, found rc={rc}: {err.strip() or out.strip()}")
    try:
        return _ipaddr.parse_ip_addr_json(out)
    except _ipaddr.IpAddrParseError as exc:
        raise NodeError(str(exc)) from None


def held_vips(run: Runner, vips: t.Iterable[str], ip: str = "ip") -> list[str]:
    """The VIPs of ``vips`` the node holds now, normalised, in the order given."""
    held = _ipaddr.held_addresses(read_addresses(run, ip), vips)
    return [vip for vip, entry in held.items() if entry is not None]


def keepalived_pid(pid_file: str) -> int | None:
    """keepalived's pid when the pid file names a live process, else None."""
    text = read_text(pid_file)
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno == errno.EPERM:
            return pid
        return None
    return pid


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


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime_ns / 1e9
    except OSError:
        return None


def request_dump(
    pid: int,
    sig: int,
    path: str,
    parse: t.Callable[[str], list[_keepalived_state.InstanceState]],
    timeout: float = 3.0,
    interval: float = 0.05,
    kill: t.Callable[[int, int], None] = os.kill,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> list[_keepalived_state.InstanceState]:
    """Signal keepalived to write a dump to ``path`` and parse it once it is new and whole.

    keepalived writes the file asynchronously; a dump older than the signal is never
    returned. A file that does not parse yet (being written) is read again until
    ``timeout``.
    """
    before = _mtime(path)
    try:
        kill(pid, sig)
    except OSError as exc:
        raise NodeError(f"expected to signal keepalived (pid {pid}) with {sig}, found {exc.strerror}") from None
    deadline = clock() + timeout
    last_error = "no file"
    while True:
        now_mtime = _mtime(path)
        if now_mtime is not None and (before is None or now_mtime > before):
            text = read_text(path)
            try:
                return parse(text or "")
            except _keepalived_state.KeepalivedStateError as exc:
                last_error = str(exc)
        if clock() >= deadline:
            raise NodeError(
                f"expected keepalived to write a fresh {path} within {timeout:g} s of the signal,"
                f" found {last_error if now_mtime and (before is None or now_mtime > before) else 'no new file'}"
            )
        sleep(interval)


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
    """State feed files (instance name -> content); empty when the directory is missing."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise NodeError(f"expected to list {directory}, found {exc.strerror}") from None
    result = {}
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        result[name] = read_text(path) or ""
    return result


class Health(t.TypedDict):
    url: str
    status: int | None
    latency_ms: float | None
    node: str | None
    healthy: bool
    error: str | None


def http_health(
    url: str, header: str = "X-HALB-Node", timeout: float = 2.0, clock: t.Callable[[], float] = time.monotonic
) -> Health:
    """GET the health endpoint without any proxy; a 200 is healthy.

    Non-2xx answers are reported with their status; no answer is ``status: None``.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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
    """Rewrite an existing file in place, keeping its owner and mode.

    In place on purpose: keepalived watches a track file's directory with inotify and
    rereads the file when it is closed after writing.
    """
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise NodeError(f"expected to write {path}, found {exc.strerror}") from None


def tcp_open(address: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on address:port (no data is sent)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
