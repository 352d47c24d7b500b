"""Token buckets that keep one user from flooding a worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` actions a second on average, bursts of up to `burst`. One bucket per key (a user id)."""

    rate: float
    burst: int
    # Seconds from any fixed point; a test may hand in a clock it drives, so a refill is exact and never waited for.
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _levels: dict[object, tuple[float, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self, key: object) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._levels.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._levels[key] = (tokens, now)
                return False
            self._levels[key] = (tokens - 1, now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._levels.clear()
