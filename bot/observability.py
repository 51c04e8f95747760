"""Structured logs, and the request id that follows one message through every part.

A person's message enters at a chat channel (portal endpoint, widget socket, Slack bridge).
The channel hands the conversation layer the caller's `X-Request-ID` (nginx sends its
`$request_id`; a widget message has none); the layer keeps it when it is well-formed, or makes
one, runs the turn under it and puts it into the message's metadata;
the action server runs each action under the id of the message it answers; the account-services
client sends it as `X-Request-ID`; the services log their access line under it and send it
back. The id lives in a context variable, so every log line written while a request is handled
carries it without being handed it.

With `LOG_FORMAT=json` (the production default) every log record of a process - ours, Rasa's,
Sanic's, uvicorn's - is one JSON object on one line of stderr:

    {"time": "2026-12-03T10:20:10.123Z", "level": "info", "logger": "bot.services.access",
     "part": "services", "message": "GET /me 200 4 ms", "request_id": "6f1c...",
     "data": {"method": "GET", "path": "/me", "status": 200, "duration_ms": 4.2}}

`request_id` is there when the record was written while a request was handled, `exception`
(the traceback) when there is one, `data` for structured values (a structlog event's keywords,
or `extra={"data": {...}}`). Every string passes through `bot.chat.redact` first, so a token or
card number in a message, a path or a traceback is never written.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Mapping, Optional

import structlog
from structlog.typing import EventDict, Processor

from bot.chat.redact import redact
from bot.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# What a caller's id may look like: nginx's $request_id (32 hex), a UUID, most tracing ids.
# No dots, so nothing shaped like a token can pass as an id into every log line.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{8,64}")

_request_id: ContextVar[Optional[str]] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    """A fresh id: 32 hex characters, the shape of nginx's `$request_id`."""
    return uuid.uuid4().hex


def accept_request_id(offered: Optional[str]) -> str:
    """The caller's id (an `X-Request-ID` value) when it is well-formed, else a new one.

    Well-formed: 8 to 64 letters, digits, '-' or '_'. Anything else (too long, spaces,
    control characters, a token) is not trusted into the logs: a new id replaces it.
    """
    if offered is not None and _WELL_FORMED.fullmatch(offered):
        return offered
    return new_request_id()


def current_request_id() -> Optional[str]:
    """The id of the request being handled in this context; None outside one."""
    return _request_id.get()


def set_request_id(request_id: Optional[str]) -> None:
    """Make `request_id` current for the rest of this task (None: no request is handled).

    For middleware whose start and end are separate functions, the end setting None;
    elsewhere `request_scope`, which restores what was current before.
    """
    _request_id.set(request_id)


@contextmanager
def request_scope(request_id: str) -> Iterator[str]:
    """Everything logged inside the block carries `request_id` (tasks started in it too)."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


def json_formatter(part: str) -> logging.Formatter:
    """A formatter writing each record (stdlib or structlog) as one JSON object, masked."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[_record_fields(part), structlog.processors.JSONRenderer()],
    )


def configure_logging(settings: Settings, part: str) -> None:
    """With `LOG_FORMAT=json`, make every record of this process one JSON line on stderr.

    `part` names the process in each line ("services", "actions", "rasa", "portal", "slack").
    Call it at the entry point *after* anything that installs its own handlers: Rasa,
    Sanic and uvicorn do when they start, so the Rasa server calls it again once its app
    exists (`bot.assistant.serve`) and each uvicorn worker calls it when it builds its app.
    It takes the handlers off every logger so that each record reaches the root's one
    handler; calling it again is harmless. With `LOG_FORMAT=text` it changes nothing: each
    part keeps the console output it has always had.
    """
    if settings.log_format != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter(part))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # Our own lines (the access line, a turn, an action call) are INFO; other libraries keep
    # whatever level the process gave them.
    ours = logging.getLogger("bot")
    if ours.level == logging.NOTSET or ours.level > logging.INFO:
        ours.setLevel(logging.INFO)
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            for old in list(logger.handlers):
                logger.removeHandler(old)
            logger.propagate = True
    # httpx logs every call with its full URL at INFO; the services' access line says it once.
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # Python's warnings, as records rather than bare stderr text
    # structlog events (Rasa writes some) go through the same handler, keywords under "data".
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: Any, error: Any, trace: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, error, trace))


def _record_fields(part: str) -> Processor:
    """The processor that turns a record's event dict into the line's fields, masked."""

    def fields(_: Any, __: str, event: EventDict) -> EventDict:
        record: logging.LogRecord = event.pop("_record")
        for meta in ("_from_structlog", "positional_args", "stack_info"):
            event.pop(meta, None)
        exception = structlog.processors.format_exc_info(None, "", event).pop("exception", None)
        message = event.pop("event", "")
        extra = record.__dict__.get("data")
        data = {**event, **(extra if isinstance(extra, Mapping) else {})}
        line: EventDict = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "part": part,
            "message": redact(str(message)).rstrip("\n"),
        }
        request_id = current_request_id()
        if request_id:
            line["request_id"] = request_id
        if exception:
            line["exception"] = redact(str(exception))
        if data:
            line["data"] = _masked(data)
        return line

    return fields


def _utc(created: float) -> str:
    moment = dt.datetime.fromtimestamp(created, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _masked(value: Any) -> Any:
    """`value` with every string in it redacted; anything not JSON-shaped as masked text."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_masked(item) for item in value]
    return redact(str(value))
