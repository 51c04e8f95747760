"""The agent console's socket: Socket.IO at `/desk/socket.io` on the Rasa server.

It lives in the process that carries the customers' conversations so that an agent's reply
reaches the customer's widget through the same push hub (in process, or Redis across
replicas), and a customer's message reaches the console the same way. The account services
decide everything else: who is a support agent, who holds which handoff, what the agent may
read. The socket verifies the agent's token on connect and with every call (the page sends
its renewed token with the `token` event), and calls the services as that agent.

Events (docs/handoff.md has the table), each answered with an acknowledgement
`{"ok": true, ...}` or `{"ok": false, "code", "message"}`:
    queue, claim {id}, open {id}, say {id, text}, typing {id}, read {id},
    account {id, area}, release {id}, close {id, outcome, note?}, token {token}
Server -> console: `desk_message` (what the agent side of a held handoff sees) and
`queue_changed` (the queue moved: refresh).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional

import socketio
from pydantic import BaseModel
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.sockets import SocketBlueprint, socket_server
from bot.chat.identity import ChatIdentity, InvalidCredential, SessionExpired
from bot.chat.layer import MAX_MESSAGE_CHARS, ChatLayer
from bot.chat.redact import redact
from bot.client import AccountSession, errors
from bot.handoff.desk import QUEUE_TOPIC, HandoffDesk, desk_topic
from bot.observability import new_request_id, request_scope
from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)
SOCKETIO_PATH = "/desk/socket.io"
OUTCOMES = frozenset({"resolved", "unresolved", "service_request_opened"})
MAX_NOTE_CHARS = 2000


async def _invoices(session: AccountSession) -> Any:
    return (await session.invoices("all")).invoices


# What an agent may read of the customer's account while holding the handoff, and how:
# each area is a list of rows.
AREAS: Dict[str, Callable[[AccountSession], Awaitable[Any]]] = {
    "orders": lambda s: s.recent_orders(days=365),
    "invoices": _invoices,
    "devices": lambda s: s.devices(),
    "contracts": lambda s: s.contracts(),
    "service_requests": lambda s: s.service_requests("all"),
}
Ack = Dict[str, Any]


class Refused(Exception):
    """A call the socket answers with `{"ok": false, code, message}`."""

    def __init__(self, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


@dataclass
class Held:
    """A handoff this console holds: whose conversation, and the agent's name in it."""

    conversation: str
    agent_name: str
    listener: Optional[asyncio.Task] = None


@dataclass
class Agent:
    """One open console socket."""

    identity: ChatIdentity
    held: Dict[int, Held] = field(default_factory=dict)
    queue_listener: Optional[asyncio.Task] = None

    @property
    def token(self) -> str:
        return self.identity.credential


def _plain(value: Any) -> Any:
    """Wire models (and lists of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return _plain(value.dict())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "__float__") and not isinstance(value, (int, float, bool)):
        return float(value)
    return value


def _handoff_id(payload: Any) -> int:
    raw = payload.get("id") if isinstance(payload, Mapping) else None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise Refused("bad_message", "name the handoff: {id: <number>}")
    return raw


class DeskInput(InputChannel):
    """The console's Socket.IO server, attached to the Rasa server like a channel."""

    def __init__(self, layer: ChatLayer, settings: Settings):
        self.layer = layer
        self.settings = settings
        self.agents: Dict[str, Agent] = {}
        self.sio = socket_server(settings, "desk")

    @classmethod
    def name(cls) -> str:
        return "desk"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        settings = load_settings()
        return cls(ChatLayer.shared(settings), settings)

    @property
    def desk(self) -> HandoffDesk:
        assert self.layer.desk is not None, "the Rasa server's layer always has a desk"
        return self.layer.desk

    # --- connection lifecycle -------------------------------------------------------------

    async def _connect(self, sid: str, environ: Any, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, Mapping) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("sign in", {"code": "not_signed_in"})
        try:
            identity = self.layer.verifier.from_token(token, "handoff")
        except SessionExpired:
            raise socketio.exceptions.ConnectionRefusedError(
                "sign in again", {"code": "session_expired"}
            ) from None
        except InvalidCredential:
            raise socketio.exceptions.ConnectionRefusedError(
                "sign in", {"code": "not_signed_in"}
            ) from None
        if identity is None:
            raise socketio.exceptions.ConnectionRefusedError("sign in", {"code": "not_signed_in"})
        try:  # the services say who is a support agent
            await self.desk.services.as_user(token).desk_queue()
        except errors.Forbidden:
            raise socketio.exceptions.ConnectionRefusedError(
                "support agents only", {"code": "not_an_agent"}
            ) from None
        except errors.AccountServicesError:
            raise socketio.exceptions.ConnectionRefusedError(
                "the desk is unavailable", {"code": "unavailable"}
            ) from None
        agent = Agent(identity)
        self.agents[sid] = agent
        agent.queue_listener = asyncio.create_task(self._forward(sid, QUEUE_TOPIC, "queue_changed"))

    async def _disconnect(self, sid: str) -> None:
        agent = self.agents.pop(sid, None)
        if agent is None:
            return
        for task in [agent.queue_listener, *(h.listener for h in agent.held.values())]:
            if task is not None:
                task.cancel()

    async def _forward(self, sid: str, topic: str, event: str) -> None:
        """Everything pushed to `topic` goes to this socket as `event`, while it is open."""
        try:
            async with self.layer.push.subscribe(topic) as messages:
                async for message in messages:
                    await self.sio.emit(event, message.to_dict(), to=sid)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("desk: forwarding %s to a console stopped", topic)

    # --- calls ----------------------------------------------------------------------------

    def _call(
        self, handler: Callable[[Agent, Any], Awaitable[Ack]]
    ) -> Callable[[str, Any], Awaitable[Ack]]:
        async def call(sid: str, payload: Any = None) -> Ack:
            agent = self.agents.get(sid)
            if agent is None:
                return {"ok": False, "code": "not_connected", "message": "connect first"}
            if agent.identity.expires_at <= dt.datetime.now(dt.timezone.utc):
                return {"ok": False, "code": "session_expired", "message": "sign in again"}
            try:
                with request_scope(new_request_id()):  # the services' lines of this call
                    return await handler(agent, payload)
            except Refused as refused:
                return {
                    "ok": False,
                    "code": refused.code,
                    "message": refused.message,
                    **refused.extra,
                }
            except errors.AccountServicesError as error:
                return _refusal(error)

        return call

    def _session(self, agent: Agent) -> AccountSession:
        return self.desk.services.as_user(agent.token)

    async def _queue(self, agent: Agent, _: Any) -> Ack:
        return {"ok": True, "queue": _plain(await self._session(agent).desk_queue())}

    async def _claim(self, agent: Agent, payload: Any) -> Ack:
        handoff_id = _handoff_id(payload)
        detail = await self._session(agent).claim_handoff(handoff_id)
        await self._hold(agent, handoff_id, detail)
        await self._state_changed(handoff_id, "claimed", detail)
        return {"ok": True, "handoff": _plain(detail)}

    async def _open(self, agent: Agent, payload: Any) -> Ack:
        handoff_id = _handoff_id(payload)
        detail = await self._session(agent).desk_handoff(handoff_id)
        await self._hold(agent, handoff_id, detail)
        return {"ok": True, "handoff": _plain(detail)}

    async def _say(self, agent: Agent, payload: Any) -> Ack:
        handoff_id = _handoff_id(payload)
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Refused("bad_message", "write something to send")
        if len(text) > MAX_MESSAGE_CHARS:
            raise Refused("too_long", f"at most {MAX_MESSAGE_CHARS} characters")
        text = redact(text)
        held = await self._held(agent, handoff_id)
        message = await self._session(agent).desk_say(handoff_id, text)
        data = {"type": "agent_message", "agent_name": held.agent_name, "id": message.id}
        await self.desk._publish(held.conversation, {"text": text, "data": data}, kind="agent")
        await self.desk._publish(desk_topic(handoff_id), {"text": text, "data": data}, kind="agent")
        return {"ok": True, "message": _plain(message)}

    async def _signal(self, agent: Agent, payload: Any, kind: str) -> Ack:
        """Typing or read: shown to the customer, never stored."""
        held = await self._held(agent, _handoff_id(payload))
        await self.desk._publish(
            held.conversation,
            {"text": "", "data": {"type": kind, "agent_name": held.agent_name}},
            kind=kind,
        )
        return {"ok": True}

    async def _account(self, agent: Agent, payload: Any) -> Ack:
        handoff_id = _handoff_id(payload)
        area = payload.get("area")
        if area not in AREAS:
            raise Refused("bad_message", f"area must be one of {', '.join(sorted(AREAS))}")
        granted = self.desk.services.as_user(agent.token, handoff=handoff_id)
        return {"ok": True, "area": area, "rows": _plain(await AREAS[area](granted))}

    async def _release(self, agent: Agent, payload: Any) -> Ack:
        handoff_id = _handoff_id(payload)
        await self._session(agent).release_handoff(handoff_id)
        self._let_go(agent, handoff_id)
        await self._state_changed(handoff_id, "requeued", None)
        return {"ok": True}

    async def _close(self, agent: Agent, payload: Any) -> Ack:
        handoff_id = _handoff_id(payload)
        outcome, note = payload.get("outcome"), payload.get("note")
        if outcome not in OUTCOMES:
            raise Refused("bad_message", f"outcome must be one of {', '.join(sorted(OUTCOMES))}")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
            raise Refused("bad_message", f"a note is text of at most {MAX_NOTE_CHARS} characters")
        detail = await self._session(agent).close_handoff(handoff_id, outcome, note=note or None)
        self._let_go(agent, handoff_id)
        await self._state_changed(handoff_id, "closed", detail)
        return {"ok": True, "handoff": _plain(detail)}

    async def _token(self, agent: Agent, payload: Any) -> Ack:
        token = payload.get("token") if isinstance(payload, Mapping) else None
        if not isinstance(token, str):
            raise Refused("bad_message", "send {token}")
        try:
            identity = self.layer.verifier.from_token(token, "handoff")
        except (SessionExpired, InvalidCredential):
            raise Refused("not_signed_in", "that token is not valid") from None
        if identity is None or identity.user_id != agent.identity.user_id:
            raise Refused("not_signed_in", "a socket stays with the agent who opened it")
        agent.identity = identity
        return {"ok": True}

    # --- what the console holds -------------------------------------------------------------

    async def _hold(self, agent: Agent, handoff_id: int, detail: Any) -> None:
        held = agent.held.get(handoff_id)
        if held is None:
            sid = next(s for s, a in self.agents.items() if a is agent)
            held = Held(detail.conversation_id, detail.agent_name or "")
            held.listener = asyncio.create_task(
                self._forward(sid, desk_topic(handoff_id), "desk_message")
            )
            agent.held[handoff_id] = held

    async def _held(self, agent: Agent, handoff_id: int) -> Held:
        """The handoff as this console holds it (opened again after a reconnect)."""
        if handoff_id not in agent.held:
            await self._hold(agent, handoff_id, await self._session(agent).desk_handoff(handoff_id))
        return agent.held[handoff_id]

    def _let_go(self, agent: Agent, handoff_id: int) -> None:
        held = agent.held.pop(handoff_id, None)
        if held is not None and held.listener is not None:
            held.listener.cancel()

    async def _state_changed(self, handoff_id: int, event: str, detail: Any) -> None:
        """Tell the customer's watch (any replica) and every console that the handoff moved."""
        await self.desk._publish(
            desk_topic(handoff_id),
            {"text": "", "data": {"type": "handoff_state", "state": event}},
            kind="system",
        )
        summary = _plain(detail) if detail is not None else {"id": handoff_id}
        summary.pop("messages", None)
        summary.pop("slots", None)
        await self.desk._publish(
            QUEUE_TOPIC,
            {"text": "", "data": {"type": "queue_changed", "event": event, "handoff": summary}},
            kind="system",
        )

    # --- Rasa ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        channel = self
        hook = SocketBlueprint(self.sio, SOCKETIO_PATH, "desk_socket", __name__)

        @hook.listener("before_server_start")
        async def start_layer(app: Sanic, *_: Any) -> None:
            await channel.layer.start()

        @hook.listener("after_server_stop")
        async def stop_layer(*_: Any) -> None:
            await channel.layer.close()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        handlers: Dict[str, Callable[[Agent, Any], Awaitable[Ack]]] = {
            "queue": self._queue,
            "claim": self._claim,
            "open": self._open,
            "say": self._say,
            "typing": lambda agent, payload: self._signal(agent, payload, "typing"),
            "read": lambda agent, payload: self._signal(agent, payload, "read"),
            "account": self._account,
            "release": self._release,
            "close": self._close,
            "token": self._token,
        }
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        for event, handler in handlers.items():
            self.sio.on(event, self._call(handler))
        return hook


def _refusal(error: errors.AccountServicesError) -> Ack:
    """A services error as the console reads it (its code, message and details)."""
    code = {
        errors.Unavailable: "unavailable",
        errors.SessionExpired: "session_expired",
        errors.Unauthorized: "not_signed_in",
        errors.Forbidden: "forbidden",
        errors.NotFound: "not_found",
        errors.Conflict: "conflict",
    }.get(type(error), "bad_request")
    details: Dict[str, Any] = dict(error.details)
    if "claimed_by" in details:
        code = "already_claimed"
    code = str(getattr(error, "code", None) or details.pop("code", None) or code)
    return {"ok": False, "code": code, "message": error.message, **details}


__all__: List[str] = ["DeskInput", "SOCKETIO_PATH"]
