"""The services' error tree; raised anywhere, turned into HTTP only at the API edge.

Every error body has one shape, which the typed client relies on:
    {"error": {"code": "...", "message": "...", ...details}}
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from fastapi.responses import JSONResponse

from bot.policy import Decision


class ServiceError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> Dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}

    def headers(self) -> Dict[str, str]:
        """HTTP headers the answer carries besides the body (none for most errors)."""
        return {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers())


class BadRequest(ServiceError):
    pass


class InvalidInput(ServiceError):
    """The request is well-formed HTTP but a value is of the wrong shape."""

    status_code = 422
    code = "invalid_request"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class TokenExpiredError(Unauthorized):
    code = "token_expired"


class SessionEndedError(Unauthorized):
    """The token's sign-in is older than a session may last: no renewal, only a new sign-in."""

    code = "session_ended"

    def __init__(self, message: str = "your session has ended; please sign in again"):
        super().__init__(message)


class NotFound(ServiceError):
    """Also the answer for another account's object: the two must look the same."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class AlreadyClaimed(Conflict):
    """Another agent won the claim; `claimed_by` names them."""

    code = "already_claimed"

    def __init__(self, handoff_id: int, claimed_by: str):
        super().__init__(
            f"handoff {handoff_id} was already claimed by {claimed_by}", claimed_by=claimed_by
        )


class HandoffNotOpen(Conflict):
    """The handoff is not in a state that allows this (closed, cancelled, converted...)."""

    code = "handoff_not_open"


class NotYourHandoff(ServiceError):
    """A desk action on a handoff another agent holds, or nobody does."""

    status_code = 403
    code = "not_your_handoff"


class NoHandoffGrant(ServiceError):
    """A `Premier-Handoff` request from someone who does not hold that handoff now."""

    status_code = 403
    code = "no_handoff_grant"


class Forbidden(ServiceError):
    """A capability is refused; says which rule failed and who can help."""

    status_code = 403
    code = "forbidden"

    def __init__(self, decision: Decision, contacts: Optional[List[Dict[str, str]]] = None):
        reason = decision.reason.value if decision.reason else "role"
        super().__init__(
            f"{decision.capability} is not allowed here ({reason})",
            capability=decision.capability,
            reason=reason,
            required=list(decision.required),
            contacts=contacts or [],
        )
        self.decision = decision


class TooManyRequests(ServiceError):
    """Over the caller's rate limit (bot.ratelimit): try again after `retry_after` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int):
        super().__init__(
            f"too many requests; try again in {retry_after} seconds", retry_after=retry_after
        )
        self.retry_after = retry_after

    def headers(self) -> Dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class HeadersTooLarge(ServiceError):
    status_code = 431
    code = "headers_too_large"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"
