"""The chat widget's channel: a Socket.IO server on the Rasa server, on the conversation layer.

A transport only, like the portal endpoint: identity, the conversation, the metadata
and "please sign in again" come from `bot.chat`. Unlike Rasa's stock socketio channel,
which checks a token when the socket opens and then trusts the session id the client
sends, here:

- the token is verified when the socket connects *and* with every message (the page
  sends its current token each time, so a renewal or an account switch in the portal
  applies to the very next message without reconnecting);
- the conversation is the one the layer derives from the verified identity; the
  client never names one (an anonymous visitor may only continue an id the server
  issued it), and a message signed by anybody but the socket's person is refused;
- every reply of a turn goes to the conversation's room, so each open tab of the
  person sees it; push (an agent's reply, a notice) is delivered to each socket of
  the conversation through `ChatLayer.push`.

Events, client -> server (each answered with an acknowledgement `{"ok": bool, "code"?}`):
    user_uttered  {"message": str, "token"?: str}
    token         {"token": str}                   the page renewed or switched its token
    typing        {}                               the person is typing (shown to a desk agent)
Events, server -> client:
    ready         {"signed_in", "language", "conversation"? (anonymous only)}
    history       {"messages": [{"from": "user"|"bot", "text", "buttons"?, "data"?}]}
    user_uttered  {"text"}                          the same person wrote in another tab
    bot_uttered   {"id", "text", "buttons"?, "data"?, "kind"?}
    typing        {"on": bool}
    account       {"account_id"}                    the account the conversation is in
    notice        {"code": "rate_limited"|"too_long"|"bad_message"}
    signin_required {"text"}                        the token expired: sign in again

Refused connections get `connect_error` with `{"code": "session_expired", "text"}` or
`{"code": "not_signed_in"}` (a forged token: nothing else is said).

Several Rasa processes behind one address: the widget uses the WebSocket transport only
(one long-lived connection per socket, so no sticky sessions are needed), rooms are
shared through Redis (`AsyncRedisManager`) when `REDIS_URL` is set, and push already
crosses processes through the layer's Redis hub.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional

import socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import domain_responses
from bot.channels.sockets import SocketBlueprint, socket_server
from bot.chat.conversations import is_anonymous
from bot.chat.identity import ChatIdentity, InvalidCredential, SessionExpired
from bot.chat.layer import MAX_MESSAGE_CHARS, MESSAGE_ID, ChatLayer, fixed_reply
from bot.chat.replies import Reply
from bot.language import detect_language
from bot.ratelimit import Budget, RateLimited, RateLimiter
from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)
SOCKETIO_PATH = "/widget/socket.io"
HISTORY_MESSAGES = 60
# A person types a few messages a minute: a burst of 6 per socket, then one every 2 s (a
# socket's own budget; the conversation layer adds the person's and the address's).
BURST = 6
SOCKET_BUDGET = Budget(per_minute=30, burst=BURST)


@dataclass
class Connection:
    """One open socket: whose it is, which conversation, until when its token holds."""

    conversation: str
    identity: Optional[ChatIdentity]
    # The sender's network address (anonymous visitors are rate-limited by it).
    address: Optional[str] = None
    # Whether the sender was told of the rate limit since their last accepted message.
    limited: bool = False
    push: Optional[asyncio.Task] = None

    @property
    def expired(self) -> bool:
        return self.identity is not None and self.identity.expires_at <= dt.datetime.now(
            dt.timezone.utc
        )


def _tracker_store(app: Optional[Sanic]) -> Any:
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    return getattr(agent, "tracker_store", None)


def history_of(events: List[Any], limit: int = HISTORY_MESSAGES) -> List[Dict[str, Any]]:
    """The conversation as the widget shows it: user and bot messages, oldest first.

    A button click is stored as its payload ("/affirm"); it is shown as the title
    of the button that was clicked, as it was when the person clicked it.
    """
    shown: List[Dict[str, Any]] = []
    buttons: List[Dict[str, str]] = []
    for event in events:
        if isinstance(event, BotUttered):
            data = event.data or {}
            reply = Reply.from_bot_message(
                {"text": event.text, "buttons": data.get("buttons"), "custom": data.get("custom")}
            )
            if reply.text or reply.data or reply.buttons:
                shown.append({"from": "bot", **reply.as_json()})
                buttons = reply.buttons or buttons
        elif isinstance(event, UserUttered) and event.text:
            text = event.text
            if text.startswith("/"):
                text = next((b["title"] for b in buttons if b["payload"] == text), text)
            shown.append({"from": "user", "text": text})
    return shown[-limit:]


class WidgetInput(InputChannel):
    """Socket.IO at `/widget/socket.io` on the Rasa server, for the portal's chat widget."""

    def __init__(self, layer: ChatLayer, settings: Settings):
        self.layer = layer
        self.settings = settings
        self.connections: Dict[str, Connection] = {}
        self.sockets = RateLimiter(SOCKET_BUDGET)  # by socket id: one tab cannot flood
        self.app: Optional[Sanic] = None
        self.sio = socket_server(settings, "widget")

    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        # Keys, secrets and origins come from the one settings object, never credentials.yml.
        settings = load_settings()
        return cls(ChatLayer.shared(settings), settings)

    # --- connection lifecycle -------------------------------------------------------------

    async def _connect(self, sid: str, environ: Any, auth: Any) -> None:
        auth = auth if isinstance(auth, Mapping) else {}
        token = auth.get("token") if isinstance(auth.get("token"), str) else None
        offered = auth.get("conversation") if isinstance(auth.get("conversation"), str) else None
        try:
            identity = self.layer.verifier.from_token(token, "widget") if token else None
        except SessionExpired:
            language = auth.get("language") if auth.get("language") in ("en", "es") else "en"
            text = fixed_reply(domain_responses(self.app), "utter_session_expired", language).text
            raise socketio.exceptions.ConnectionRefusedError(
                "session expired", {"code": "session_expired", "text": text}
            ) from None
        except InvalidCredential:
            raise socketio.exceptions.ConnectionRefusedError(
                "not signed in", {"code": "not_signed_in"}
            ) from None
        conversation = self.layer.conversation_of(identity, anonymous_id=offered)
        request = environ.get("sanic.request") if isinstance(environ, Mapping) else None
        address = (request.remote_addr or request.ip) if request is not None else None
        connection = Connection(conversation, identity, address=address)
        self.connections[sid] = connection
        await self.sio.enter_room(sid, conversation)
        if identity is not None:
            connection.push = asyncio.create_task(self._deliver_pushes(sid, connection))
        self.sio.start_background_task(self._welcome, sid, connection)

    async def _welcome(self, sid: str, connection: Connection) -> None:
        identity = connection.identity
        await self.sio.emit(
            "ready",
            {
                "signed_in": identity is not None,
                "language": identity.language if identity else None,
                # Only an anonymous visitor is told its id, to continue it after a reload.
                **({"conversation": connection.conversation} if identity is None else {}),
            },
            to=sid,
        )
        tracker = await self._tracker(connection.conversation)
        messages = history_of(list(tracker.events)) if tracker is not None else []
        await self.sio.emit("history", {"messages": messages}, to=sid)
        if identity is not None:
            await self.sio.emit("account", {"account_id": self._account(tracker, identity)}, to=sid)

    async def _disconnect(self, sid: str) -> None:
        connection = self.connections.pop(sid, None)
        if connection is not None and connection.push is not None:
            connection.push.cancel()

    async def _deliver_pushes(self, sid: str, connection: Connection) -> None:
        """Forward what is pushed into the conversation to this socket while its token holds."""
        try:
            async with self.layer.push.subscribe(connection.conversation) as messages:
                async for message in messages:
                    if connection.expired:
                        await self._signin_required(sid, connection.identity)
                        return
                    await self.sio.emit(
                        "bot_uttered",
                        {"id": message.id, "kind": message.kind, **message.reply},
                        to=sid,
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "widget: push delivery to a socket of %s stopped", connection.conversation
            )

    async def _signin_required(self, sid: str, identity: Optional[ChatIdentity]) -> None:
        language = (identity.language if identity else None) or "en"
        text = fixed_reply(domain_responses(self.app), "utter_session_expired", language).text
        await self.sio.emit("signin_required", {"text": text}, to=sid)

    # --- what the conversation is about --------------------------------------------------

    async def _tracker(self, conversation: str) -> Any:
        store = _tracker_store(self.app)
        if store is None:
            return None
        try:
            return await store.retrieve(conversation)
        except Exception:
            log.exception("widget: could not read the conversation %s", conversation)
            return None

    @staticmethod
    def _account(tracker: Any, identity: ChatIdentity) -> Optional[int]:
        """The account the conversation is in: a switch made in the chat, else the page's."""
        if tracker is None or tracker.get_slot("page_account") != identity.account_id:
            return identity.account_id
        chosen = tracker.get_slot("active_account")
        return chosen if isinstance(chosen, int) else identity.account_id

    # --- messages -----------------------------------------------------------------------

    async def _refresh_token(self, sid: str, payload: Any) -> Dict[str, Any]:
        """The page renewed or switched its token: later pushes follow the new one."""
        connection = self.connections.get(sid)
        token = payload.get("token") if isinstance(payload, Mapping) else None
        if connection is None or connection.identity is None or not isinstance(token, str):
            return {"ok": False, "code": "bad_message"}
        try:
            identity = self.layer.verifier.from_token(token, "widget")
        except SessionExpired:
            await self._signin_required(sid, connection.identity)
            return {"ok": False, "code": "session_expired"}
        except InvalidCredential:
            await self.sio.disconnect(sid)
            return {"ok": False, "code": "not_signed_in"}
        if identity.user_id != connection.identity.user_id:
            await self.sio.disconnect(sid)
            return {"ok": False, "code": "not_signed_in"}
        connection.identity = identity
        if self.layer.desk is not None:  # a watch of a held conversation asks with the new one
            self.layer.desk.refresh(connection.conversation, identity)
        return {"ok": True}

    async def _typing(self, sid: str, _: Any = None) -> Dict[str, Any]:
        """The customer is typing: shown to the agent holding the conversation, if any."""
        connection = self.connections.get(sid)
        desk = self.layer.desk
        if connection is None or connection.identity is None or desk is None:
            return {"ok": False}
        handoff_id = desk.typing(connection.conversation)
        if handoff_id is not None:
            await desk.customer_typing(handoff_id)
        return {"ok": True}

    async def _rate_limited(self, sid: str, connection: Connection) -> Dict[str, Any]:
        """Refuse a message over a budget; the notice is shown once per flood, not per message."""
        if not connection.limited:
            connection.limited = True
            await self.sio.emit("notice", {"code": "rate_limited"}, to=sid)
        return {"ok": False, "code": "rate_limited"}

    async def _notice(self, sid: str, code: str) -> Dict[str, Any]:
        await self.sio.emit("notice", {"code": code}, to=sid)
        return {"ok": False, "code": code}

    def _receiver(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Callable[[str, Any], Awaitable[Dict[str, Any]]]:
        async def receive(sid: str, payload: Any) -> Dict[str, Any]:
            connection = self.connections.get(sid)
            if connection is None:
                return {"ok": False, "code": "not_connected"}
            try:
                self.sockets.check(sid)
            except RateLimited:
                return await self._rate_limited(sid, connection)
            text = payload.get("message") if isinstance(payload, Mapping) else None
            token = payload.get("token") if isinstance(payload, Mapping) else None
            if not isinstance(text, str) or not (token is None or isinstance(token, str)):
                return await self._notice(sid, "bad_message")
            if len(text) > MAX_MESSAGE_CHARS:
                return await self._notice(sid, "too_long")
            if not text.strip():
                return {"ok": False, "code": "bad_message"}
            message_id = payload.get("message_id")
            if message_id is not None and not (
                isinstance(message_id, str) and MESSAGE_ID.match(message_id)
            ):
                return await self._notice(sid, "bad_message")
            return await self._turn(
                sid, connection, text, token or None, on_new_message, message_id
            )

        return receive

    async def _turn(
        self,
        sid: str,
        connection: Connection,
        text: str,
        token: Optional[str],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """One message through the layer; the replies go to every tab of the conversation.

        A message sent again with its `message_id` (the retry of one whose answer was lost
        with a replica) is answered from the conversation, not processed twice."""
        signed_in = connection.identity is not None
        if signed_in != (token is not None):
            # A signed-in socket sent no token (the page signed out) or an anonymous one
            # suddenly sends one: either way the page must reconnect as who it now is.
            if signed_in:
                await self._signin_required(sid, connection.identity)
                return {"ok": False, "code": "session_expired"}
            await self.sio.disconnect(sid)
            return {"ok": False, "code": "not_signed_in"}
        if token is not None:
            try:
                identity = self.layer.verifier.from_token(token, "widget")
            except SessionExpired:
                language = detect_language(text) or (
                    connection.identity.language if connection.identity else None
                )
                await self._signin_required_in(sid, language or "en")
                return {"ok": False, "code": "session_expired"}
            except InvalidCredential:
                await self.sio.disconnect(sid)
                return {"ok": False, "code": "not_signed_in"}
            assert connection.identity is not None
            if identity.user_id != connection.identity.user_id:
                await self.sio.disconnect(sid)
                return {"ok": False, "code": "not_signed_in"}
            connection.identity = identity
        room = connection.conversation
        await self.sio.emit("user_uttered", {"text": text}, to=room, skip_sid=sid)

        async def forward(reply: Reply) -> None:
            await self.sio.emit("bot_uttered", {"id": uuid.uuid4().hex, **reply.as_json()}, to=room)

        await self.sio.emit("typing", {"on": True}, to=room)
        try:
            turn = await self.layer.handle(
                channel="widget",
                text=text,
                on_new_message=on_new_message,
                responses=domain_responses(self.app),
                token=token,
                anonymous_id=connection.conversation if connection.identity is None else None,
                forward=forward,
                address=connection.address,
                message_id=message_id,
                tracker_store=_tracker_store(self.app),
            )
        except InvalidCredential:
            await self.sio.disconnect(sid)
            return {"ok": False, "code": "not_signed_in"}
        except RateLimited:  # the person's or the address's budget, across their sockets
            return await self._rate_limited(sid, connection)
        finally:
            await self.sio.emit("typing", {"on": False}, to=room)
        connection.limited = False
        if turn.identity is None and not is_anonymous(turn.conversation):
            # The token expired between our check and the layer's: the layer has answered.
            await self.sio.emit("signin_required", {"text": turn.replies[0].text}, to=sid)
            return {"ok": False, "code": "session_expired"}
        if turn.identity is not None:
            tracker = await self._tracker(turn.conversation)
            await self.sio.emit(
                "account", {"account_id": self._account(tracker, turn.identity)}, to=room
            )
        return {"ok": True}

    async def _signin_required_in(self, sid: str, language: str) -> None:
        text = fixed_reply(domain_responses(self.app), "utter_session_expired", language).text
        await self.sio.emit("signin_required", {"text": text}, to=sid)

    # --- Rasa ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        channel = self
        hook = SocketBlueprint(self.sio, SOCKETIO_PATH, "widget_socket", __name__)

        @hook.listener("before_server_start")
        async def start_layer(app: Sanic, *_: Any) -> None:
            channel.app = app
            await channel.layer.start()

        @hook.listener("after_server_stop")
        async def stop_layer(*_: Any) -> None:
            await channel.layer.close()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("user_uttered", self._receiver(on_new_message))
        self.sio.on("token", self._refresh_token)
        self.sio.on("typing", self._typing)
        return hook
