"""A circuit breaker for the account services: stop knocking on a door that does not open.

closed     calls go through; `threshold` failures in a row open the circuit.
open       calls fail at once (no network) for `cooldown` seconds: a person is told
           "can't reach your account" immediately, and a struggling server is not
           buried under retries while it recovers.
half-open  after the cooldown one call is let through as a trial: its success
           closes the circuit, its failure opens it for another cooldown.

A failure is the services not answering (connection refused, timeout) or answering
5xx; any other answer, a 404 or a 403 included, shows they are up.
"""

from __future__ import annotations

import time
from typing import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 3,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self.state = CLOSED

    def allow(self) -> bool:
        """May a call go out now? (In half-open state, only the one trial call may.)"""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and self._clock() - self._opened_at >= self.cooldown:
            self.state = HALF_OPEN
            self._trial_running = False
        if self.state == HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._trial_running = False
        self.state = CLOSED

    def failed(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self.state == HALF_OPEN or self._failures >= self.threshold:
            self.state = OPEN
            self._opened_at = self._clock()
