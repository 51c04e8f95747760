"""A local stand-in for Slack's Web API, and requests signed the way Slack signs them.

Slack cannot be reached from the tests, so the Slack app's `SLACK_API_URL` points here:
a real HTTP server (in a thread) that answers each Web API method the app uses the way
Slack does and records every call - what Slack would show is what the app asked it to.
`/respond/<id>` stands in for a slash command's or a click's response URL. This is the
one fake in the suite (Slack's Web API is a true boundary); everything else is real.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl

import httpx

BOT_USER_ID = "U0PREMIERBOT"
BOT_ID = "B0PREMIER"
# Form fields the SDK sends as JSON text.
JSON_FIELDS = ("blocks", "attachments", "view")


@dataclass
class Call:
    """One request the app made: the Web API method (or `respond`) and its arguments."""

    method: str
    args: Dict[str, Any]
    token: Optional[str] = None
    # The message's timestamp as Slack gave it back (chat.postMessage, chat.postEphemeral).
    ts: Optional[str] = None
    # For `respond`: the response URL it was sent to.
    url: Optional[str] = None
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        """Everything a person would read in it: the text and every text in its blocks."""
        parts = [str(self.args.get("text") or "")]
        blocks = self.args.get("blocks") or (self.args.get("view") or {}).get("blocks") or []
        parts.extend(_texts(blocks))
        return "\n".join(p for p in parts if p)

    @property
    def buttons(self) -> List[Dict[str, Any]]:
        blocks = self.args.get("blocks") or []
        return [
            dict(element, block_id=block.get("block_id"))
            for block in blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]


def _texts(value: Any) -> List[str]:
    if isinstance(value, dict):
        found = [value["text"]] if isinstance(value.get("text"), str) else []
        return found + [t for v in value.values() if not isinstance(v, str) for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


class FakeSlack:
    """The fake Web API: start it, point the app at `api_url`, read `calls`."""

    def __init__(self) -> None:
        self.calls: List[Call] = []
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet: the calls are the record
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                for name in JSON_FIELDS:
                    if isinstance(args.get(name), str):
                        args[name] = json.loads(args[name])
                path, _, query = self.path.partition("?")
                args.update(parse_qsl(query))  # some methods send their arguments in the URL
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else args.get("token")
                if path.startswith("/respond/"):
                    url = f"http://127.0.0.1:{fake.port}{path}"
                    body = fake.record(Call("respond", args, token, url=url))
                else:
                    body = fake.answer(path.rsplit("/", 1)[-1], args, token)
                payload = json.dumps(body).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.api_url = f"http://127.0.0.1:{self.port}/api/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{uuid.uuid4().hex}"

    def record(self, call: Call) -> Dict[str, Any]:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()
        return {"ok": True}

    def answer(self, method: str, args: Dict[str, Any], token: Optional[str]) -> Dict[str, Any]:
        """Slack's answer to `method` (only what the app reads of it)."""
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://premier-demo.slack.com/",
                "team": "Premier demo",
                "user": "premier",
                "team_id": "T0ACME",
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.record(Call(method, args, token, ts))
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": args}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", ""))[1:]}}
        if method == "views.publish":
            return {"ok": True, "view": dict(args.get("view") or {}, id="V0HOME")}
        return {"ok": True}

    def mark(self) -> int:
        """Where the record stands now: wait for calls made after it."""
        with self._lock:
            return len(self.calls)

    def since(self, mark: int, method: Optional[str] = None) -> List[Call]:
        with self._lock:
            return [c for c in self.calls[mark:] if method is None or c.method == method]

    def wait(
        self,
        mark: int,
        where: Callable[[Call], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 120.0,
    ) -> List[Call]:
        """The calls after `mark` matching `where`, once there are `count` of them.

        Raises:
            AssertionError: fewer within `timeout` (the message lists what did come).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self.calls[mark:] if where(c)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    break
                self._lock.wait(timeout=min(left, 0.5))
        seen = [(c.method, c.text[:120]) for c in self.calls[mark:]]
        assert len(found) >= count, f"expected {count} matching call(s), Slack was asked: {seen}"
        return found

    def quiet(self, mark: int, seconds: float) -> List[Call]:
        """Every call after `mark` once `seconds` have passed (to show that nothing came)."""
        time.sleep(seconds)
        return self.since(mark)


def sign(secret: str, body: str, timestamp: Optional[int] = None) -> Dict[str, str]:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


class SlackSender:
    """Sends what a workspace would send to the app's request URL, signed with the secret."""

    def __init__(self, events_url: str, signing_secret: str, fake: FakeSlack):
        self.events_url = events_url
        self.secret = signing_secret
        self.fake = fake
        self._ts = itertools.count(1)

    def ts(self) -> str:
        """A message timestamp, as Slack gives each message (unique, ordered)."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: Optional[Dict[str, str]] = None,
        timestamp: Optional[int] = None,
        signed: bool = True,
    ) -> httpx.Response:
        sent = {"Content-Type": content_type}
        if signed:
            sent.update(sign(self.secret, body, timestamp))
        sent.update(headers or {})
        return httpx.post(self.events_url, content=body.encode(), headers=sent, timeout=10)

    def event(
        self,
        team: str,
        event: Dict[str, Any],
        *,
        event_id: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> httpx.Response:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": team,
            "api_app_id": "A0PREMIER",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
        }
        return self.post(json.dumps(envelope), "application/json", headers=headers)

    def dm(self, team: str, user: str, text: str, **extra: Any) -> Dict[str, Any]:
        """A direct message to the app; returns the event (its `ts` names the message)."""
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": f"D{user[1:]}",
            "user": user,
            "text": text,
            "ts": self.ts(),
            "event_ts": self.ts(),
            **extra,
        }
        assert self.event(team, event).status_code == 200
        return event

    def mention(
        self, team: str, user: str, channel: str, text: str, thread_ts: Optional[str] = None
    ) -> Dict[str, Any]:
        event = {
            "type": "app_mention",
            "channel": channel,
            "user": user,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": self.ts(),
            "event_ts": self.ts(),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        assert self.event(team, event).status_code == 200
        return event

    def thread_reply(
        self, team: str, user: str, channel: str, thread_ts: str, text: str
    ) -> Dict[str, Any]:
        """A reply in a channel thread, without mentioning the app (a `message` event)."""
        event = {
            "type": "message",
            "channel_type": "channel",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": self.ts(),
            "thread_ts": thread_ts,
        }
        assert self.event(team, event).status_code == 200
        return event

    def command(
        self, team: str, user: str, channel: str, text: str, command: str = "/premier"
    ) -> str:
        """A slash command; returns the response URL its answers go to."""
        response_url = self.fake.response_url()
        fields = {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "premier-demo",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0PREMIER",
            "response_url": response_url,
            "trigger_id": uuid.uuid4().hex,
        }
        body = httpx.QueryParams(fields)
        response = self.post(str(body), "application/x-www-form-urlencoded")
        assert response.status_code == 200, response.text
        return response_url

    def click(
        self, team: str, user: str, call: Call, title: str, *, ephemeral: bool
    ) -> httpx.Response:
        """A click on the button titled `title` of the message the app posted in `call`."""
        button = next(b for b in call.buttons if b["text"]["text"] == title)
        channel = str(call.args.get("channel", "D" + user[1:]))
        container: Dict[str, Any] = {
            "type": "message",
            "message_ts": call.ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        if call.args.get("thread_ts"):
            container["thread_ts"] = call.args["thread_ts"]
        payload: Dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0PREMIER",
            "token": "legacy-verification-token",
            "container": container,
            "trigger_id": uuid.uuid4().hex,
            "team": {"id": team, "domain": "premier-demo"},
            "channel": {"id": channel, "name": "directmessage"},
            "response_url": self.fake.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": button["block_id"],
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": str(time.time()),
                }
            ],
        }
        if not ephemeral:  # Slack sends the message back with a click, except an ephemeral one
            payload["message"] = {
                "type": "message",
                "text": call.args.get("text"),
                "ts": container["message_ts"],
                "blocks": call.args.get("blocks"),
            }
        body = str(httpx.QueryParams({"payload": json.dumps(payload)}))
        return self.post(body, "application/x-www-form-urlencoded")

    def home_click(self, team: str, user: str, call: Call, title: str) -> httpx.Response:
        """A click on the button titled `title` of the Home tab the app published in `call`."""
        view = call.args["view"]
        button = next(
            dict(element, block_id=block.get("block_id"))
            for block in view["blocks"]
            if block.get("type") == "actions"
            for element in block["elements"]
            if element["text"]["text"] == title
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0PREMIER",
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": "V0HOME"},
            "trigger_id": uuid.uuid4().hex,
            "team": {"id": team, "domain": "premier-demo"},
            "view": dict(view, id="V0HOME"),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": button["block_id"],
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = str(httpx.QueryParams({"payload": json.dumps(payload)}))
        return self.post(body, "application/x-www-form-urlencoded")

    def home_opened(self, team: str, user: str) -> None:
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user[1:]}",
            "tab": "home",
            "event_ts": self.ts(),
        }
        assert self.event(team, event).status_code == 200
