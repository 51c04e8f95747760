"""Account team, support history and service requests, documents from the account team."""

from __future__ import annotations

import uuid
from typing import List, Optional

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import models as m
from bot.services import schemas as s
from bot.services import views
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.idempotency import run_write

router = APIRouter(tags=["support"])


@router.get("/account-team", response_model=List[s.TeamContactOut])
def account_team(ctx: Ctx = Depends(require("show_account_team"))) -> List[m.AccountTeamContact]:
    return list(
        ctx.session.scalars(
            select(m.AccountTeamContact)
            .filter_by(account_id=ctx.account.id)
            .order_by(m.AccountTeamContact.id)
        )
    )


@router.get("/service-requests", response_model=List[s.ServiceRequestOut])
def service_requests(
    status: str = Query(
        "all", regex="^(open|closed|all)$", description="open includes requests in progress"
    ),
    ctx: Ctx = Depends(require("support_history")),
) -> List[s.ServiceRequestOut]:
    """Support history, newest first."""
    query = (
        select(m.ServiceRequest)
        .filter_by(account_id=ctx.account.id)
        .order_by(m.ServiceRequest.opened_at.desc())
    )
    if status == "open":
        query = query.where(m.ServiceRequest.status != "closed")
    elif status == "closed":
        query = query.where(m.ServiceRequest.status == "closed")
    return [views.service_request(r) for r in ctx.session.scalars(query)]


@router.get("/service-requests/{number}", response_model=s.ServiceRequestOut)
def service_request(
    number: str = Path(..., regex=s.SERVICE_REQUEST_NUMBER, description="10 digits"),
    ctx: Ctx = Depends(require("service_request_status")),
) -> s.ServiceRequestOut:
    found = ctx.owned(m.ServiceRequest, "service request", number=number)
    return views.service_request(found)


def create_service_request(
    session: Session,
    *,
    account_id: int,
    opened_by_id: int,
    description: str,
    device_id: Optional[int] = None,
    summary: Optional[str] = None,
) -> m.ServiceRequest:
    """Open a service request in `account_id` (within the caller's transaction).

    The summary is the description's first line unless given.
    """
    request = m.ServiceRequest(
        number=f"p{uuid.uuid4().hex[:9]}",
        account_id=account_id,
        device_id=device_id,
        opened_by_id=opened_by_id,
        summary=(summary or description.splitlines()[0])[:200],
        description=description,
        status="open",
    )
    session.add(request)
    session.flush()
    request.number = f"{9_000_000_000 + request.id}"  # 10 digits, unique by row
    session.flush()
    return request


@router.post("/service-requests", response_model=s.CreatedServiceRequest, status_code=201)
def open_service_request(
    body: s.ServiceRequestIn,
    ctx: Ctx = Depends(require("open_service_request")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Open a request for one of the account's devices."""
    device = ctx.owned(m.Device, "service tag", service_tag=body.service_tag)

    def act() -> s.CreatedServiceRequest:
        request = create_service_request(
            ctx.session,
            account_id=ctx.account.id,
            opened_by_id=ctx.principal.user.id,
            description=body.description,
            device_id=device.id,
        )
        return s.CreatedServiceRequest(**views.service_request(request).dict())

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload=body.dict(),
        target=f"service tag {body.service_tag}",
        act=act,
        status_code=201,
    )
    return JSONResponse(out, status_code=status)


@router.get("/documents", response_model=List[s.DocumentOut])
def documents(ctx: Ctx = Depends(require("list_documents"))) -> List[m.Document]:
    return list(
        ctx.session.scalars(
            select(m.Document)
            .filter_by(account_id=ctx.account.id)
            .order_by(m.Document.published_on.desc())
        )
    )


@router.get("/documents/{document_id}/link", response_model=s.Link)
def document_link(
    document_id: s.Id = Path(..., description="the document's id"),
    ctx: Ctx = Depends(require("list_documents")),
) -> s.Link:
    found = ctx.owned(m.Document, "document", id=document_id)
    url, expires = ctx.link("document", found.id)
    return s.Link(url=url, expires_at=expires, filename=f"document-{found.id}.pdf")
