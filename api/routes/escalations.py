"""``/v1/escalations``: customer-impact signals with ranked likely causes and their history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import Paging, get_paging, get_session, get_tenant, require
from api.problems import Problem
from api.queries.clusters import get_escalation, list_escalations
from api.schemas import EscalationOut, Paged, paged

router = APIRouter(prefix="/v1/escalations", tags=["escalations"], dependencies=[Depends(require("viewer"))])


@router.get("", response_model=Paged[EscalationOut])
def escalations(
    paging: Annotated[Paging, Depends(get_paging)],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    state: Annotated[str | None, Query(description="e.g. triggered or resolved.")] = None,
    service: Annotated[str | None, Query()] = None,
    severity: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    """Newest trigger first."""
    views, total = list_escalations(
        session,
        tenant,
        state=state,
        service=service,
        severity=severity,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paged(views, total, paging.limit, paging.offset)


@router.get("/{dedup_key}", response_model=EscalationOut)
def escalation(
    dedup_key: str,
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
) -> object:
    view = get_escalation(session, tenant, dedup_key)
    if view is None:
        raise Problem(404, "not-found", f"no escalation {dedup_key!r} in tenant {tenant!r}")
    return view
