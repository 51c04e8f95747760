"""Rate limits: how often one caller may knock, for the chat endpoints and the account services.

Every caller is limited by the best name the server has for them: a signed-in
person by who they are (whatever address or device they use), anyone else (an
anonymous visitor, a refused token, a download link followed in a browser) by
their network address. Both budgets are token buckets: a caller may send
`burst` requests at once and then `per_minute` a minute on average; one over
the budget is refused with how long to wait (HTTP 429 with `Retry-After`).

The buckets live in the process. With several replicas behind one address each
replica keeps its own, so a caller's budget is at most the replica count times
this one; the balancer in front (nginx `limit_req`) is where a global limit
belongs in production.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

# Buckets kept at most; the least recently used are forgotten first (a forgotten caller
# starts again with a full bucket, which only ever errs on the generous side).
MAX_KEYS = 100_000


class RateLimited(Exception):
    """Over the budget: try again in `retry_after` seconds (whole, at least 1)."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many requests; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Budget:
    """`per_minute` on average, up to `burst` at once (default: a quarter of a minute's worth)."""

    per_minute: int
    burst: Optional[int] = None

    @property
    def capacity(self) -> float:
        return float(self.burst if self.burst is not None else max(1, self.per_minute // 4))


class RateLimiter:
    """Token buckets by key, thread-safe (the services answer from a thread pool)."""

    def __init__(self, budget: Budget, *, clock: Callable[[], float] = time.monotonic):
        if budget.per_minute < 1:
            raise ValueError("a rate limit allows at least one request a minute")
        self.budget = budget
        self._clock = clock
        self._rate = budget.per_minute / 60.0
        self._buckets: OrderedDict[str, Tuple[float, float]] = OrderedDict()  # key: (tokens, at)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Spend one request of `key`'s budget.

        Raises:
            RateLimited: the budget is spent; says when one request is available again.
        """
        now = self._clock()
        capacity = self.budget.capacity
        with self._lock:
            tokens, at = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                self._forget_oldest()
                return
            self._buckets[key] = (tokens, now)
        raise RateLimited(max(1, math.ceil((1.0 - tokens) / self._rate)))

    def _forget_oldest(self) -> None:
        while len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)


@dataclass
class CallerLimits:
    """The two budgets of one server: per signed-in person and per address."""

    person: RateLimiter
    address: RateLimiter

    @classmethod
    def per_minute(cls, person: int, address: int) -> CallerLimits:
        return cls(RateLimiter(Budget(person)), RateLimiter(Budget(address)))

    def check_person(self, user_id: int) -> None:
        """Raises `RateLimited` when this person is over their budget."""
        self.person.check(f"user:{user_id}")

    def check_address(self, address: Optional[str]) -> None:
        """Raises `RateLimited` when this address is over its budget."""
        self.address.check(f"addr:{address or 'unknown'}")
