"""Admission control: a bound on the work one worker process takes on at once, refused early past it.

Without it a burst of sends queued without bound in front of the database threads (the executor's queue is
unbounded), every ack got later and later, and clients timed out and resent into the same queue. A gate
refuses at the door instead, before the work is handed to a thread, with `Overloaded` (the `overloaded`
error; clients retry after `retry_after` with backoff and jitter). The count is per process, like the send
rate limit: N workers admit N times the limit.

Some work must not be refused: a person signing in typed their password once. For that, a queue lets at most
its limit through at once and has the others wait their turn, in arrival order (`AdmissionQueue`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from core import metrics
from core.errors import Overloaded


class AdmissionGate:
    """At most the setting `limit_setting` holders at once in this process; the next is refused, never queued.

    Entered from the event loop (socket frames) and from request threads (HTTP), hence the lock; it is held
    only to count, never across the work.
    """

    def __init__(self, *, limit_setting: str, retry_after: float) -> None:
        self.limit_setting = limit_setting
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one place for the block, or raise Overloaded at once. The place is given back however the block
        ends: returned, raised, or (in a coroutine) cancelled."""
        limit = getattr(settings, self.limit_setting)
        with self._lock:
            refused = self._in_flight >= limit
            if not refused:
                self._in_flight += 1
        if refused:
            metrics.refused_overloaded()
            raise Overloaded(
                "The server is busy; send this again in a moment.",
                retry_after=self.retry_after,
            )
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1


# Message sends on this worker, over the socket and the HTTP API together (docs/protocol.md, docs/api.md). The
# hint is about how long a full gate takes to drain (PARLEY_MAX_SENDS_IN_FLIGHT sends at this machine's rate);
# clients add backoff and jitter, so refused senders do not all come back at the same instant.
sends = AdmissionGate(limit_setting="PARLEY_MAX_SENDS_IN_FLIGHT", retry_after=0.5)


class AdmissionQueue:
    """At most the setting `limit_setting` holders at once in this process; the next waits its turn (blocking
    its thread), in arrival order, and is never refused.

    For CPU-bound work in request threads. A place is handed straight to the oldest waiter: with a
    threading.Semaphore a newcomer may take a place between a release and the waiter it woke, and that waiter
    goes to the back of the line again, so under a storm some would wait far longer than their turn.
    """

    def __init__(self, *, limit_setting: str) -> None:
        self.limit_setting = limit_setting
        self._lock = threading.Lock()
        self._holding = 0
        self._waiters: deque[threading.Lock] = deque()  # each locked until its turn comes

    @property
    def holding(self) -> int:
        return self._holding

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for a place, hold it for the block, then hand it to the next in line however the block ends."""
        with self._lock:
            if self._holding < getattr(settings, self.limit_setting) and not self._waiters:
                self._holding += 1
                waiter = None
            else:
                waiter = threading.Lock()
                waiter.acquire()
                self._waiters.append(waiter)
        if waiter is not None:
            waiter.acquire()  # released by the holder that hands its place over (counted for us in _holding)
        try:
            yield
        finally:
            self._leave()

    def _leave(self) -> None:
        with self._lock:
            self._holding -= 1
            # Usually wakes one; more when the limit was raised while people waited.
            while self._waiters and self._holding < getattr(settings, self.limit_setting):
                self._holding += 1
                self._waiters.popleft().release()


# Password hashing on this worker (sign-ins, password changes, accounts/hashers.py). Each hash keeps a core busy
# for about 0.3 s (PBKDF2 at Django's strength). Unbounded, a sign-in storm ran one thread per sign-in, all
# hashing at once (S5b, docs/benchmarks.md: 100 sign-ins in 10 s on two workers): every sign-in finished late
# (median 36-42 s), and the sockets' handshakes, sharing the CPU with dozens of hashing threads, passed daphne's
# timeout and were reset. In line, each sign-in takes its 0.3 s in turn (median 4.6 s, nobody refused).
password_hashes = AdmissionQueue(limit_setting="PARLEY_PASSWORD_HASHES_AT_ONCE")
