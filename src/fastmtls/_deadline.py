"""Blocking calls under a deadline, for the refresh thread of :class:`~fastmtls.CRLSource`.

A socket timeout bounds reads and connects, but not a DNS lookup (``getaddrinfo`` waits as long
as the system resolver does) nor a file system call on a mount that stopped answering (a hard
NFS mount blocks ``stat`` and ``read`` without end). Such a call runs here on a helper thread
while the caller waits at most ``seconds``: past that the caller goes on with an error and the
helper thread is left to finish (or not) on its own, its result thrown away. New calls fail at
once while :data:`MAX_STUCK` helpers are left waiting (calls still within their deadline do not
count), and at most :data:`MAX_THREADS` helpers are alive at all (calls in progress can all be
given up on together), so a resolver or mount that never answers cannot pile up threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["MAX_STUCK", "MAX_THREADS", "DeadlineExceeded", "call", "stuck"]

T = TypeVar("T")
MAX_STUCK = 8
MAX_THREADS = 64
_POLL = 0.05  # how often a wait looks at `cancelled`
# Helpers whose caller gave up on them and that have not returned yet: new calls fail at once
# while MAX_STUCK of them are left (calls that are merely in progress, however many sources
# refresh at once, do not count). Calls in progress can all be given up on together, so the
# helper threads alive at all (in progress or left) are bounded too, by MAX_THREADS. Guarded
# by _lock, as is each call's abandoned/done decision.
_lock = threading.Lock()
_stuck = 0
_alive = 0


class DeadlineExceeded(TimeoutError):
    """The call did not finish in time (or was cancelled). ``done`` is set once the helper
    thread returns, so a caller can wait for it before trying again."""

    def __init__(self, message: str, done: threading.Event) -> None:
        super().__init__(message)
        self.done = done


def stuck() -> int:
    """Helpers left waiting now (for tests and status reports)."""
    with _lock:
        return _stuck


def call(fn: Callable[[], T], seconds: float, what: str,
         cancelled: Callable[[], bool] | None = None) -> T:  # fmt: skip
    """``fn()`` on a helper thread: its value, or its exception re-raised; DeadlineExceeded when
    it takes longer than ``seconds`` or ``cancelled()`` turns true while waiting. ``what`` names
    the call in messages ("DNS lookup of crl.example.com")."""
    global _stuck, _alive
    done = threading.Event()
    with _lock:
        if _stuck >= MAX_STUCK or _alive >= MAX_THREADS:
            done.set()
            busy = _stuck if _stuck >= MAX_STUCK else _alive
            raise DeadlineExceeded(f"{what}: {busy} earlier calls are still not answered", done)
        _alive += 1
    box: dict[str, object] = {}
    abandoned = [False]

    def run() -> None:
        global _stuck, _alive
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller, who raises it
            box["error"] = exc
        finally:
            with _lock:
                if abandoned[0]:
                    _stuck -= 1
                _alive -= 1
                done.set()

    try:
        threading.Thread(target=run, name="fastmtls-blocking-call", daemon=True).start()
    except BaseException:  # "can't start new thread": no helper to count
        with _lock:
            _alive -= 1
        raise
    deadline = time.monotonic() + seconds
    while not done.wait(min(_POLL, max(0.0, deadline - time.monotonic()))):
        late = time.monotonic() >= deadline
        if not late and not (cancelled is not None and cancelled()):
            continue
        with _lock:
            if not done.is_set():  # gave up on: the helper counts as stuck until it returns
                abandoned[0] = True
                _stuck += 1
        if abandoned[0]:
            why = f" did not finish within {seconds:g} s" if late else ": stopped"
            raise DeadlineExceeded(what + why, done)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
