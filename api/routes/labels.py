"""``/v1/posts/{id}/labels`` and ``/v1/labels``: people's labels, and their export for retraining."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Principal, get_session, get_tenant, require, wall_clock
from api.schemas import LabelIn, LabelOut
from triage.actions.service import LabelRecord, label_post, post_labels
from triage.storage.models import AnalysisRow, PostRow

router = APIRouter(prefix="/v1", tags=["labels"])

EXPORT_COLUMNS: tuple[str, ...] = (
    "source",
    "external_id",
    "text",
    "label",
    "is_problem",
    "category",
    "actor",
    "labelled_at",
    "model_version",
    "model_problem_probability",
    "model_category",
    "model_sentiment",
)


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


def export_rows(session: Session, tenant: str, history: bool) -> list[dict[str, object]]:
    """One row per labelled post (its latest label) or, with ``history``, one per label given;
    with the post's text and the model's own view beside the person's, for retraining and audit."""
    records = post_labels(session, tenant)
    if not history:
        latest: dict[int, LabelRecord] = {}
        for record in records:
            latest[record.post_id] = record
        records = sorted(latest.values(), key=lambda record: (record.created_at, record.id))
    post_ids = sorted({record.post_id for record in records})
    texts: dict[int, tuple[str, AnalysisRow | None]] = {}
    for start in range(0, len(post_ids), 500):
        chunk = post_ids[start : start + 500]
        for post_id, text, post_analysis in session.execute(
            select(PostRow.id, PostRow.text, AnalysisRow)
            .outerjoin(AnalysisRow, AnalysisRow.post_id == PostRow.id)
            .where(PostRow.id.in_(chunk))
        ):
            texts[post_id] = (text, post_analysis)
    rows = []
    for record in records:
        text, analysis = texts.get(record.post_id, ("", None))
        rows.append(
            {
                "source": record.source,
                "external_id": record.external_id,
                "text": text,
                "label": record.label,
                "is_problem": record.label != "not_problem",
                "category": record.category,
                "actor": record.actor,
                "labelled_at": record.created_at.isoformat(),
                "model_version": analysis.model_version if analysis else None,
                "model_problem_probability": analysis.problem_probability if analysis else None,
                "model_category": analysis.category if analysis else None,
                "model_sentiment": analysis.sentiment if analysis else None,
            }
        )
    return rows


@router.get(
    "/labels/export",
    dependencies=[Depends(require("viewer"))],
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_labels(
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    format: Annotated[
        Literal["csv", "json"], Query(description="csv (a spreadsheet or pandas) or json.")
    ] = "csv",
    history: Annotated[bool, Query(description="Every label given, not only each post's latest.")] = False,
) -> Response:
    """Labelled posts for the data scientist's retraining notebook."""
    rows = export_rows(session, tenant, history)
    filename = f"labels-{tenant}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "json":
        return JSONResponse(rows, headers=disposition)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=disposition)
