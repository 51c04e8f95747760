"""The client's exception tree; every failure of a call is one of these.

AccountServicesError
├── Unavailable        the services did not answer (after retries) or answered 5xx
├── Unauthorized       the token is not accepted
│   └── SessionExpired the token expired, or its session reached its maximum: sign in again
├── Forbidden          the permission table refuses; `reason` says which rule
├── NotFound           no such object in this account (or another account's)
├── Conflict           the change cannot be made in the current state
│   └── AlreadyClaimed another agent claimed the handoff first; `claimed_by` names them
└── InvalidRequest     a value has the wrong shape; `fields` lists them
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

# The services' codes for "genuine, but over": an expired token, an ended session.
SIGN_IN_AGAIN_CODES = frozenset({"token_expired", "session_ended"})


class AccountServicesError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        details: Optional[Dict[str, Any]] = None,
        code: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details or {}
        self.code = code  # the services' error code ("not_your_handoff", ...); "" if none


class Unavailable(AccountServicesError):
    pass


class Unauthorized(AccountServicesError):
    pass


class SessionExpired(Unauthorized):
    pass


class Forbidden(AccountServicesError):
    @property
    def reason(self) -> str:
        return str(self.details.get("reason", "role"))

    @property
    def capability(self) -> str:
        return str(self.details.get("capability", ""))

    @property
    def required(self) -> List[str]:
        return list(self.details.get("required", []))

    @property
    def contacts(self) -> List[Dict[str, str]]:
        return list(self.details.get("contacts", []))


class NotFound(AccountServicesError):
    @property
    def what(self) -> str:
        return str(self.details.get("what", ""))


class Conflict(AccountServicesError):
    @property
    def reason(self) -> str:
        return str(self.details.get("reason", ""))


class AlreadyClaimed(Conflict):
    @property
    def claimed_by(self) -> str:
        return str(self.details.get("claimed_by", ""))


class InvalidRequest(AccountServicesError):
    @property
    def fields(self) -> List[Dict[str, str]]:
        return list(self.details.get("fields", []))


def error_for(status: int, body: Any) -> AccountServicesError:
    """Map an error response of the services to the matching exception."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code = error.get("code", "")
    message = error.get("message", f"HTTP {status}")
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    if status == 401:
        cls: type = SessionExpired if code in SIGN_IN_AGAIN_CODES else Unauthorized
    elif status == 403:
        cls = Forbidden
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = AlreadyClaimed if code == "already_claimed" else Conflict
    elif status >= 500:
        cls = Unavailable
    else:
        cls = InvalidRequest
    return cls(message, status=status, details=details, code=code)
