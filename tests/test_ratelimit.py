"""Token buckets: a burst, then the average rate; a clear wait when over; callers apart."""

from __future__ import annotations

import pytest

from bot.ratelimit import Budget, CallerLimits, RateLimited, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_next_request_waits_for_a_token():
    clock = Clock()
    limiter = RateLimiter(Budget(per_minute=60, burst=3), clock=clock)
    for _ in range(3):
        limiter.check("ana")
    with pytest.raises(RateLimited) as over:
        limiter.check("ana")
    assert over.value.retry_after == 1  # one a second refills
    clock.now += 1.0
    limiter.check("ana")


def test_the_wait_named_is_the_time_until_one_request_is_allowed_again():
    clock = Clock()
    limiter = RateLimiter(Budget(per_minute=6, burst=1), clock=clock)  # one every 10 s
    limiter.check("x")
    clock.now += 4.0
    with pytest.raises(RateLimited) as over:
        limiter.check("x")
    assert over.value.retry_after == 6
    clock.now += 5.9
    with pytest.raises(RateLimited):
        limiter.check("x")
    clock.now += 0.2
    limiter.check("x")


def test_refused_requests_do_not_spend_the_budget():
    clock = Clock()
    limiter = RateLimiter(Budget(per_minute=60, burst=1), clock=clock)
    limiter.check("x")
    for _ in range(50):
        with pytest.raises(RateLimited):
            limiter.check("x")
    clock.now += 1.0
    limiter.check("x")


def test_callers_have_budgets_of_their_own():
    limits = CallerLimits(
        RateLimiter(Budget(per_minute=60, burst=1), clock=Clock()),
        RateLimiter(Budget(per_minute=60, burst=1), clock=Clock()),
    )
    limits.check_person(1)
    limits.check_person(2)
    limits.check_address("10.0.0.1")
    limits.check_address("10.0.0.2")
    with pytest.raises(RateLimited):
        limits.check_person(1)
    with pytest.raises(RateLimited):
        limits.check_address("10.0.0.1")


def test_the_default_burst_is_a_quarter_of_a_minutes_budget():
    limiter = RateLimiter(Budget(per_minute=60), clock=Clock())
    for _ in range(15):
        limiter.check("x")
    with pytest.raises(RateLimited):
        limiter.check("x")


def test_a_budget_below_one_a_minute_is_refused():
    with pytest.raises(ValueError):
        RateLimiter(Budget(per_minute=0))
