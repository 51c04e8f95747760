"""Liveness and readiness of a Rasa replica, for nginx, Kubernetes and the process runner.

    GET /webhooks/health/live    200 while the process answers at all
    GET /webhooks/health/ready   200 only when the model is loaded and the tracker store
                                 and the lock store answer; 503 with what is missing

A replica that is alive but not ready (still loading its model after a rollout, or cut off
from PostgreSQL or Redis) is taken out of the rotation instead of restarted: restarting it
would not bring the database back, and it would lose the loaded model. Rasa's own `/status`
needs the API token and says nothing about the stores, so probes cannot use it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, List

import sqlalchemy as sa
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

# A store that takes longer than this to answer a ping counts as not answering.
STORE_TIMEOUT_SECONDS = 2.0


class HealthInput(InputChannel):
    """`bot.channels.health.HealthInput` in credentials.yml; it receives no messages."""

    @classmethod
    def name(cls) -> str:
        return "health"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        probes = Blueprint("health_probes", __name__)

        @probes.route("/live", methods=["GET"])
        async def live(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @probes.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            missing = await not_ready(getattr(request.app.ctx, "agent", None))
            if missing:
                return response.json({"status": "not ready", "missing": missing}, status=503)
            return response.json({"status": "ready"})

        return probes


async def not_ready(agent: Any) -> List[str]:
    """What keeps this replica from answering a conversation (empty: it is ready)."""
    if agent is None or not agent.is_ready():
        return ["model"]
    checks: Dict[str, Callable[[], None]] = {
        "tracker store": lambda: _ping_tracker_store(agent.tracker_store),
        "lock store": lambda: _ping_lock_store(agent.lock_store),
    }
    missing = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(asyncio.to_thread(check), STORE_TIMEOUT_SECONDS)
        except Exception:  # any failure to answer means: not ready
            missing.append(name)
    return missing


def _ping_tracker_store(store: Any) -> None:
    # Rasa wraps the configured store (FailSafeTrackerStore, AwaitableTrackerStore).
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    engine = getattr(store, "engine", None)
    if engine is not None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))


def _ping_lock_store(store: Any) -> None:
    redis = getattr(store, "red", None)  # RedisLockStore; the in-memory one always answers
    if redis is not None:
        redis.ping()
