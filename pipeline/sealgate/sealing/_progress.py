"""Progress reporting: the library calls back, only the CLI draws anything."""

from __future__ import annotations

import threading
from collections.abc import Callable

# (phase, bytes done, bytes total); phases: "seal", "verify", "unseal".
ProgressCallback = Callable[[str, int, int], None]


class ProgressMeter:
    """Thread-safe byte counter for one phase; calls back at most every ``step`` bytes."""

    def __init__(
        self, callback: ProgressCallback | None, phase: str, total: int, step: int = 8 << 20
    ) -> None:
        self._callback = callback
        self._phase = phase
        self._total = total
        self._step = step
        self._done = 0
        self._reported = 0
        self._lock = threading.Lock()
        if callback is not None:
            callback(phase, 0, total)

    def advance(self, count: int) -> None:
        if self._callback is None:
            return
        with self._lock:
            self._done += count
            if self._done - self._reported < self._step and self._done < self._total:
                return
            self._reported = self._done
            done = self._done
        self._callback(self._phase, done, self._total)
