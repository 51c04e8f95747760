"""The client fails fast while the services are down or hung, and tries again later."""

from __future__ import annotations

import time
from typing import List

import httpx
import pytest

from bot.client import AccountServices, errors
from bot.client.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_failures_in_a_row_and_lets_one_trial_through_later():
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=5.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == CLOSED
    breaker.failed()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow() and breaker.state == HALF_OPEN
    assert not breaker.allow(), "one trial at a time"
    breaker.failed()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 5.0
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED and breaker.allow() and breaker.allow()


def test_a_success_forgets_earlier_failures():
    breaker = CircuitBreaker(threshold=2)
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.state == CLOSED


def refused(calls: List[httpx.Request]):  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    return handler


async def test_a_server_that_is_down_opens_the_circuit_and_later_calls_fail_without_the_network():
    calls: List[httpx.Request] = []
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=5.0, clock=clock)
    transport = httpx.MockTransport(refused(calls))
    async with AccountServices("http://s.test", transport=transport, breaker=breaker) as client:
        with pytest.raises(errors.Unavailable):
            await client.as_user("t").devices()
        assert len(calls) == 3  # one call and its two retries
        started = time.monotonic()
        with pytest.raises(errors.Unavailable):
            await client.as_user("t").devices()
        assert len(calls) == 3, "an open circuit sends nothing"
        assert time.monotonic() - started < 0.1
        clock.now += 5.0
        with pytest.raises(errors.Unavailable):
            await client.as_user("t").devices()
        assert len(calls) == 4, "after the cooldown, exactly one trial"


async def test_a_hung_server_costs_one_timeout_not_three():
    calls: List[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    async with AccountServices("http://s.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(errors.Unavailable, match="in time"):
            await client.as_user("t").devices()
    assert len(calls) == 1


async def test_a_real_hung_server_is_given_up_on_after_the_timeout():
    """A listening socket that never answers, as a stopped process's would."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        async with AccountServices(f"http://127.0.0.1:{port}", timeout=0.5) as client:
            started = time.monotonic()
            with pytest.raises(errors.Unavailable):
                await client.as_user("t").devices()
            assert time.monotonic() - started < 1.5


async def test_answers_that_are_not_5xx_show_the_services_are_up():
    breaker = CircuitBreaker(threshold=1)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})

    transport = httpx.MockTransport(handler)
    async with AccountServices("http://s.test", transport=transport, breaker=breaker) as client:
        for _ in range(3):
            with pytest.raises(errors.NotFound):
                await client.as_user("t").order("100000001")
    assert breaker.state == CLOSED
