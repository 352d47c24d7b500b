"""Admission control: a bound on the work one worker process takes on at once, refused early past it.

Without it a burst of sends queued without bound in front of the database threads (the executor's queue is
unbounded), every ack got later and later, and clients timed out and resent into the same queue. A gate
refuses at the door instead, before the work is handed to a thread, with `Overloaded` (the `overloaded`
error; clients retry after `retry_after` with backoff and jitter). The count is per process, like the send
rate limit: N workers admit N times the limit.
"""

from __future__ import annotations

import threading
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
