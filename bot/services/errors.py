"""The services' error tree; raised anywhere, turned into HTTP only at the API edge.

Every error body has one shape, which the typed client relies on:
    {"error": {"code": "...", "message": "...", ...details}}
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

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


class NotFound(ServiceError):
    """Also the answer for another account's object: the two must look the same."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


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


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"
