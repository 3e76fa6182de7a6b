"""``/v1/posts/{id}/labels`` and ``/v1/labels``: people's labels, and their export for retraining."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from api.deps import Principal, get_session, get_tenant, require, wall_clock
from api.schemas import LabelIn, LabelOut
from triage.actions.export import ExportFilter, data_card, export_bytes, export_rows, plain_rows
from triage.actions.service import LabelRecord, label_post, post_labels

router = APIRouter(prefix="/v1", tags=["labels"])


@router.post("/posts/{post_id}/labels", response_model=LabelOut, status_code=201)
def relabel(
    post_id: int,
    body: LabelIn,
    principal: Annotated[Principal, Depends(require("lead"))],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
) -> object:
    return label_post(
        session,
        tenant,
        post_id,
        body.label,
        principal.name,
        wall_clock(),
        category=body.category,
        note=body.note,
    )


@router.get("/labels", response_model=list[LabelOut], dependencies=[Depends(require("viewer"))])
def labels(
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    post_id: Annotated[list[int] | None, Query(description="Only these posts.")] = None,
) -> list[LabelRecord]:
    """Every label ever given, oldest first (the full history, superseded labels included)."""
    return post_labels(session, tenant, post_id or None)


def _aware(moment: datetime | None) -> datetime | None:
    """A time given without an offset is UTC, like every stored time."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get(
    "/labels/export",
    dependencies=[Depends(require("viewer"))],
    responses={
        200: {"content": {"text/csv": {}, "application/json": {}, "application/vnd.apache.parquet": {}}}
    },
)
def export_labels(
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    format: Annotated[
        Literal["csv", "json", "parquet"],
        Query(description="csv (a spreadsheet or pandas), json, or parquet (typed columns, for notebooks)."),
    ] = "csv",
    history: Annotated[bool, Query(description="Every label given, not only each post's latest.")] = False,
    since: Annotated[datetime | None, Query(description="Only posts created at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Only posts created before this time.")] = None,
    source: Annotated[list[str] | None, Query(description="Only posts from these sources.")] = None,
) -> Response:
    """Reviewed labels (post relabels, confirmed and dismissed clusters) for the retraining notebook.

    The data card (counts and class balance) comes in the ``X-Data-Card`` header as JSON.
    """
    filters = ExportFilter(_aware(since), _aware(until), tuple(source or ()), history)
    rows = export_rows(session, tenant, filters)
    card = data_card(rows, tenant, filters, wall_clock())
    headers = {
        "Content-Disposition": _attachment(f"labels-{tenant}.{format}"),
        "X-Data-Card": json.dumps(card, separators=(",", ":"), ensure_ascii=True),
    }
    if format == "json":
        return JSONResponse(plain_rows(rows), headers=headers)
    media_type = "application/vnd.apache.parquet" if format == "parquet" else "text/csv; charset=utf-8"
    return Response(export_bytes(rows, format), media_type=media_type, headers=headers)


def _attachment(filename: str) -> str:
    """A download name any tenant can have: headers are Latin-1, so an ASCII fallback plus the exact
    name in RFC 5987 form (``filename*``), which browsers prefer."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
