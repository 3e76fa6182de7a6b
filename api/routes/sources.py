"""``/v1/sources`` and ``/v1/models``: ingestion and classifier health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import get_session, get_tenant, require, wall_clock
from api.queries.sources import model_health, source_health
from api.schemas import ModelOut, SourceOut

router = APIRouter(prefix="/v1", tags=["sources"], dependencies=[Depends(require("viewer"))])


@router.get("/sources", response_model=list[SourceOut])
def sources(
    tenant: Annotated[str, Depends(get_tenant)], session: Annotated[Session, Depends(get_session)]
) -> object:
    """Each source's last cursor, when it last advanced (``lag_seconds``, wall clock) and its last error."""
    return source_health(session, tenant, wall_clock())


@router.get("/models", response_model=list[ModelOut])
def models(
    tenant: Annotated[str, Depends(get_tenant)], session: Annotated[Session, Depends(get_session)]
) -> list[dict[str, object]]:
    """Model versions that scored this tenant's posts (and the default one), with model-card figures."""
    return [
        {
            "version": model.version,
            "posts_scored": model.posts_scored,
            "last_scored_post_at": model.last_scored_post_at,
            "is_default": model.is_default,
            "artifact_found": model.artifact_found,
            "figures": dict(model.figures),
        }
        for model in model_health(session, tenant)
    ]
