"""``GET /v1/changes``: deploys, config changes, flags and alerts as stored. Reading only; the
webhooks that bring changes in live in ``api/routes/changes.py``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import Paging, get_paging, get_session, get_tenant, require
from api.queries.clusters import ChangeBrief
from api.queries.common import as_utc
from api.schemas import ChangeOut, Paged, paged
from triage.storage.models import ChangeEventRow

router = APIRouter(prefix="/v1", tags=["changes"], dependencies=[Depends(require("viewer"))])


@router.get("/changes", response_model=Paged[ChangeOut])
def changes(
    service: str | None = Query(None),
    kind: str | None = Query(None, description="deploy, config, flag or alert."),
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
    paging: Paging = Depends(get_paging),
    tenant: str = Depends(get_tenant),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    """Newest first."""
    statement = select(ChangeEventRow).where(ChangeEventRow.tenant == tenant)
    if service:
        statement = statement.where(ChangeEventRow.service == service)
    if kind:
        statement = statement.where(ChangeEventRow.kind == kind)
    if since:
        statement = statement.where(ChangeEventRow.started_at >= since)
    if until:
        statement = statement.where(ChangeEventRow.started_at < until)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(ChangeEventRow.started_at.desc(), ChangeEventRow.id.desc())
        .limit(paging.limit).offset(paging.offset)
    )
    items = [ChangeBrief(row.external_id, row.kind, row.service, row.summary, as_utc(row.started_at), row.url)
             for row in rows]
    return paged(items, total, paging.limit, paging.offset)
