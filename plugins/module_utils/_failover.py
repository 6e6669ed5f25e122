# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The act phase of a planned failover (``vrrp_failover``): write, wait, check, restore.

Private. No Ansible imports: the node is reached through injected callables
(``write(text)``, ``read_held() -> VIPs held``, ``probe(vip, port, timeout)``), and
the clock and sleep are injectable too, so the decisions are tested from recorded
``ip -j addr`` outputs without a node.

A node is never left half-drained: when the drain does not complete (timeout, a
command that fails, SIGTERM/SIGHUP/SIGINT while waiting, or the controller's end of
the session closing: Ctrl-C or a dropped SSH session reach a pipelined module without a
tty as no signal, only as its output's reader going away), the drain file is put back to
the value it had before.
"""

from __future__ import annotations

import contextlib
import signal
import time
import typing as t

from . import _drain
from ._node_io import NodeError

#: The signals that interrupt the wait: termination, a dropped session, Ctrl-C.
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


#: What ``Interrupted`` names when the module's output has no reader any more.
GONE = "the controller's end of the session closing (Ctrl-C or a dropped connection)"


class Interrupted(BaseException):  # a signal, like KeyboardInterrupt
    """A signal of ``SIGNALS`` arrived, or the controller went away (``signum`` None),
    while the drain was being applied.

    A BaseException, as KeyboardInterrupt is: AnsibleModule.run_command turns any
    Exception raised while it waits for a command into fail_json, which would exit
    without the restore.
    """

    def __init__(self, signum: int | None) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name if signum is not None else GONE
        super().__init__(self.name)


class Deferred:
    """The handler of ``SIGNALS`` while a drain is applied: it only records the signal,
    which ``check`` raises as ``Interrupted`` at the next safe point, between two steps of
    the wait (``guard``). Raising from the handler itself could land anywhere, e.g. inside
    the logging lock Python holds around the fork of a command (the wait runs ``ip`` every
    20 ms): the lock stays taken and the module hangs instead of restoring the drain."""

    def __init__(self, gone: t.Callable[[], bool] | None = None) -> None:
        self.pending: int | None = None
        self.gone = gone

    def handler(self, signum: int, _frame: t.Any) -> None:
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        if self.pending is not None:
            raise Interrupted(self.pending)
        if self.gone is not None and self.gone():
            raise Interrupted(None)

    def guard(self, fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """``fn``, with a check before and after it."""

        def guarded(*args: t.Any, **kwargs: t.Any) -> t.Any:
            self.check()
            out = fn(*args, **kwargs)
            self.check()
            return out

        return guarded


@contextlib.contextmanager
def signals_handled(handler: t.Any, signums: t.Iterable[int] = SIGNALS) -> t.Iterator[None]:
    """Inside the block ``signums`` go to ``handler`` (``Deferred.handler``, or ``signal.SIG_IGN``); restored after."""
    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def wait_for_vips(
    read_held: t.Callable[[], list[str]],
    state: str,
    watched: list[str],
    timeout: float,
    interval: float,
    start: float,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> tuple[bool, list[str]]:
    """Poll until the node holds the right VIPs (``_drain.wait_done``); return (done, held)."""
    while True:
        held = read_held()
        if _drain.wait_done(state, held, watched):
            return True, held
        if clock() - start >= timeout:
            return False, held
        sleep(interval)


def wait_for_peers(
    vips: list[str],
    port: int,
    probe: t.Callable[[str, int, float], bool],
    timeout: float,
    interval: float,
    start: float,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> tuple[bool, list[str]]:
    """Wait until each released VIP accepts TCP on ``port`` (then a peer answers); return (all answered, answering)."""
    answering = []
    for vip in vips:
        while not probe(vip, port, min(1.0, interval * 5)):
            if clock() - start >= timeout:
                return False, answering
            sleep(interval)
        answering.append(vip)
    return True, answering


def drain_failure(drain_file: str, after: int, watched: list[str], held: list[str], answering: list[str], port: int | None, timeout: float) -> str:
    """Why a drain did not complete: the node kept a VIP, or no peer answered on a released one."""
    still = [v for v in watched if v in held]
    if still:
        return (
            f"expected {drain_file}={after} to make the node release {', '.join(watched)}"
            f" within {timeout:g} s, found it still holding {', '.join(still)}"
        )
    silent = ", ".join(v for v in watched if v not in answering)
    return f"expected a peer to answer on port {port} of {silent} within {timeout:g} s, found no answer"


def activate_failure(drain_file: str, after: int, watched: list[str], held: list[str], timeout: float) -> str:
    missing = [v for v in watched if v not in held]
    return (
        f"expected the node to hold {', '.join(watched)} within {timeout:g} s of writing {after}"
        f" to {drain_file}, found it without {', '.join(missing)}; it stays active"
        " (a peer with a higher priority, or preempt off?)"
    )


class Outcome(t.TypedDict):
    failed: bool
    msg: str | None
    warnings: list[str]
    result: dict[str, t.Any]


def _restore(write: t.Callable[[str], None], drain_file: str, before: int, why: str, result: dict[str, t.Any]) -> Outcome:
    """Put the drain file back; the signals that interrupt are ignored meanwhile."""
    try:
        with signals_handled(signal.SIG_IGN):
            write(_drain.render(before))
    except NodeError as exc:
        return Outcome(failed=True, msg=f"{why}; restoring {drain_file} to {before} failed too: {exc}", warnings=[],
                       result=dict(result, restored=False))
    return Outcome(failed=True, msg=f"{why}; restored {drain_file} to {before}", warnings=[],
                   result=dict(result, after=before, restored=True))


def apply(
    plan: _drain.DrainPlan,
    state: str,
    watched: list[str],
    held_before: list[str],
    *,
    drain_file: str,
    wait: bool,
    timeout: float,
    interval: float,
    peers_port: int | None,
    write: t.Callable[[str], None],
    read_held: t.Callable[[], list[str]],
    probe: t.Callable[[str, int, float], bool],
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    signums: t.Iterable[int] = SIGNALS,
    gone: t.Callable[[], bool] | None = None,
) -> Outcome:
    """Write the planned value, wait for the move, check the peers; restore a drain that did not complete.

    ``gone()`` says whether the controller went away (the module's output has no reader):
    checked between two steps of the wait, like the signals.

    ``result`` holds the return values that changed (``waited``, ``held_after``,
    ``moved``, ``elapsed``, ``peers_answering``, and on failure ``restored``/``after``).
    """
    before, after = plan["before"], plan["after"]
    if before is None:
        raise ValueError("expected the drain value before the change, found none (the drain file must exist)")
    restore = state == "drained" and plan["changed"]
    result: dict[str, t.Any] = {}
    warnings: list[str] = []
    start = clock()
    deferred = Deferred(gone)
    restore_write = write  # the restore runs with the signals ignored, never interrupted
    write, read_held, probe, sleep = (deferred.guard(f) for f in (write, read_held, probe, sleep))
    try:
        with signals_handled(deferred.handler, signums):
            if plan["changed"]:
                write(_drain.render(after))
            if not wait:
                return Outcome(failed=False, msg=None, warnings=warnings, result=result)
            if not watched:
                warnings.append("no VIPs to watch (vips is empty): the drain file was written, nothing was waited for")
                return Outcome(failed=False, msg=None, warnings=warnings, result=result)
            done, held = wait_for_vips(read_held, state, watched, timeout, interval, start, clock, sleep)
            result.update(waited=True, held_after=held, moved=_drain.moved(held_before, held, watched))
            answering: list[str] = []
            if done and state == "drained" and peers_port:
                released = result["moved"]["released"] or [v for v in watched if v not in held]
                done, answering = wait_for_peers(released, peers_port, probe, timeout, interval, start, clock, sleep)
                result["peers_answering"] = answering
            result["elapsed"] = round(clock() - start, 3)
            deferred.check()  # a signal after the last step still counts
    except NodeError as exc:
        if restore:
            return _restore(restore_write, drain_file, before, str(exc), result)
        return Outcome(failed=True, msg=str(exc), warnings=warnings, result=result)
    except Interrupted as exc:
        result["elapsed"] = round(clock() - start, 3)
        why = f"interrupted by {exc.name} while applying {drain_file}={after}"
        if restore:
            return _restore(restore_write, drain_file, before, why, result)
        return Outcome(failed=True, msg=f"{why}; the drain file was left at {after}", warnings=warnings, result=result)

    if done:
        return Outcome(failed=False, msg=None, warnings=warnings, result=result)
    if state == "drained":
        why = drain_failure(drain_file, after, watched, held, answering, peers_port, timeout)
        if restore:
            return _restore(restore_write, drain_file, before, why, result)
        return Outcome(failed=True, msg=f"{why}; the drain file was left at {before} (unchanged)", warnings=warnings,
                       result=dict(result, restored=False))
    return Outcome(failed=True, msg=activate_failure(drain_file, after, watched, held, timeout), warnings=warnings, result=result)
