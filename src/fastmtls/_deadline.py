"""Blocking calls under a deadline, for the refresh thread of :class:`~fastmtls.CRLSource`.

A socket timeout bounds reads and connects, but not a DNS lookup (``getaddrinfo`` waits as long
as the system resolver does) nor a file system call on a mount that stopped answering (a hard
NFS mount blocks ``stat`` and ``read`` without end). Such a call runs here on a helper thread
while the caller waits at most ``seconds``: past that the caller goes on with an error and the
helper thread is left to finish (or not) on its own, its result thrown away. At most
:data:`MAX_STUCK` helpers may be left waiting at once, so a resolver or mount that never answers
cannot pile up threads; past that, calls fail at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["MAX_STUCK", "DeadlineExceeded", "call"]

T = TypeVar("T")
MAX_STUCK = 8
_POLL = 0.05  # how often a wait looks at `cancelled`
_helpers = threading.BoundedSemaphore(MAX_STUCK)


class DeadlineExceeded(TimeoutError):
    """The call did not finish in time (or was cancelled). ``done`` is set once the helper
    thread returns, so a caller can wait for it before trying again."""

    def __init__(self, message: str, done: threading.Event) -> None:
        super().__init__(message)
        self.done = done


def call(fn: Callable[[], T], seconds: float, what: str,
         cancelled: Callable[[], bool] | None = None) -> T:  # fmt: skip
    """``fn()`` on a helper thread: its value, or its exception re-raised; DeadlineExceeded when
    it takes longer than ``seconds`` or ``cancelled()`` turns true while waiting. ``what`` names
    the call in messages ("DNS lookup of crl.example.com")."""
    done = threading.Event()
    if not _helpers.acquire(blocking=False):
        done.set()
        raise DeadlineExceeded(f"{what}: {MAX_STUCK} earlier calls are still not answered", done)
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller, who raises it
            box["error"] = exc
        finally:
            _helpers.release()
            done.set()

    try:
        threading.Thread(target=run, name="fastmtls-blocking-call", daemon=True).start()
    except BaseException:  # "can't start new thread": the slot was never used
        _helpers.release()
        done.set()
        raise
    deadline = time.monotonic() + seconds
    while not done.wait(min(_POLL, max(0.0, deadline - time.monotonic()))):
        if cancelled is not None and cancelled():
            raise DeadlineExceeded(f"{what}: stopped", done)
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"{what} did not finish within {seconds:g} s", done)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
