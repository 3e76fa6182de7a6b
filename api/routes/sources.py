"""``/v1/sources`` and ``/v1/models``: ingestion and classifier health."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import get_session, get_settings, get_tenant, require, wall_clock
from api.queries.sources import ModelHealth, model_card, model_health, source_health
from api.schemas import ModelOut, SourceOut
from classifier.artifact import ModelArtifactError
from classifier.versions import (
    PromotionRecord,
    artifacts_root_for,
    current_version,
    is_artifact_dir,
    promotion_log,
)
from triage.settings import Settings

router = APIRouter(prefix="/v1", tags=["sources"], dependencies=[Depends(require("viewer"))])


class ModelVersionOut(ModelOut):
    """A model version with whether the service uses it and how it came to be in use."""

    in_use: bool
    artifacts_root: str
    promoted_at: str | None = None
    promoted_by: str | None = None
    promotion_reason: str | None = None


@dataclass(frozen=True)
class ModelsInUse:
    """The configured artifacts root, the version the service analyses with, and the promotions log."""

    root: Path
    in_use: str | None
    promotions: list[PromotionRecord]

    def last_promotion(self, version: str) -> PromotionRecord | None:
        made = [record for record in self.promotions if record.version == version]
        return made[-1] if made else None


def models_in_use(settings: Settings) -> ModelsInUse:
    """Read where ``Settings.model_dir`` points: a pinned version folder, or a root and its DEFAULT.

    A missing pointer or an unreadable log is shown as such (no version in use, no history) rather than
    failing the health page, whose job is to show that something is wrong.
    """
    root = artifacts_root_for(settings.model_dir)
    in_use: str | None
    if settings.model_dir is not None and is_artifact_dir(settings.model_dir):
        in_use = settings.model_dir.name
    else:
        try:
            in_use = current_version(root)
        except ModelArtifactError:
            in_use = None
    try:
        promotions = promotion_log(root)
    except ModelArtifactError:
        promotions = []
    return ModelsInUse(root, in_use, promotions)


def model_rows(session: Session, tenant: str, settings: Settings) -> tuple[ModelsInUse, list[ModelHealth]]:
    """Health of every version that scored this tenant's posts, plus the one in use."""
    using = models_in_use(settings)
    health = model_health(session, tenant, using.root)
    if using.in_use and using.in_use not in {model.version for model in health}:
        health.extend(model_health_for_unscored(using.in_use, using.root))
    return using, health


def model_health_for_unscored(version: str, root: Path) -> list[ModelHealth]:
    """A pinned version that has not scored anything yet still shows, with its card."""
    figures, card, found = model_card(version, root)
    return [ModelHealth(version, 0, None, False, figures, card, found)]


@router.get("/sources", response_model=list[SourceOut])
def sources(
    tenant: Annotated[str, Depends(get_tenant)], session: Annotated[Session, Depends(get_session)]
) -> object:
    """Each source's last cursor, when it last advanced (``lag_seconds``, wall clock) and its last error."""
    return source_health(session, tenant, wall_clock())


@router.get("/models", response_model=list[ModelVersionOut])
def models(
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> list[dict[str, Any]]:
    """Model versions that scored this tenant's posts and the one in use (``in_use``), with model-card
    figures and the latest promotion of each (who, when, why)."""
    using, health = model_rows(session, tenant, settings)
    rows = []
    for model in health:
        promotion = using.last_promotion(model.version)
        rows.append(
            {
                "version": model.version,
                "posts_scored": model.posts_scored,
                "last_scored_post_at": model.last_scored_post_at,
                "is_default": model.is_default,
                "artifact_found": model.artifact_found,
                "figures": dict(model.figures),
                "in_use": model.version == using.in_use,
                "artifacts_root": str(using.root),
                "promoted_at": promotion.at if promotion else None,
                "promoted_by": promotion.by if promotion else None,
                "promotion_reason": promotion.reason if promotion else None,
            }
        )
    return rows
