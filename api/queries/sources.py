"""Sources and model health: where each source stopped, how long ago, its last error; which model
versions scored this tenant's posts, and the figures from their model cards."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.queries.common import as_utc
from classifier.paths import ARTIFACTS_DIR
from triage.storage.models import AnalysisRow, PostRow, SourceRow

_MAX_FIGURES = 40


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    kind: str
    cursor: dict[str, Any]
    last_error: str | None
    updated_at: datetime | None
    lag_seconds: float | None

    @property
    def healthy(self) -> bool:
        return not self.last_error


@dataclass(frozen=True)
class ModelHealth:
    version: str
    posts_scored: int
    last_scored_post_at: datetime | None
    is_default: bool
    figures: list[tuple[str, float]] = field(default_factory=list)
    card: str | None = None
    artifact_found: bool = False


def source_health(session: Session, tenant: str, now: datetime) -> list[SourceHealth]:
    """Lag is how long ago the source last advanced its cursor, on the wall clock: a stalled
    source is an operational fact, unlike the event-time windows of the board."""
    rows = session.scalars(select(SourceRow).where(SourceRow.tenant == tenant).order_by(SourceRow.name))
    return [
        SourceHealth(
            row.name,
            row.kind,
            dict(row.cursor),
            row.last_error,
            as_utc(row.updated_at) if row.updated_at else None,
            (now - as_utc(row.updated_at)).total_seconds() if row.updated_at else None,
        )
        for row in rows
    ]


def _figures(metrics: Any, prefix: str = "") -> list[tuple[str, float]]:
    """Numeric leaves of a manifest's metrics, as dotted names (``problem.test.f1``)."""
    found: list[tuple[str, float]] = []
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            found.extend(_figures(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(metrics, bool):
        return found
    elif isinstance(metrics, int | float):
        found.append((prefix, float(metrics)))
    return found


def default_model_version(artifacts_root: Path = ARTIFACTS_DIR) -> str | None:
    pointer = artifacts_root / "DEFAULT"
    return pointer.read_text(encoding="utf-8").strip() or None if pointer.is_file() else None


def model_card(
    version: str, artifacts_root: Path = ARTIFACTS_DIR
) -> tuple[list[tuple[str, float]], str | None, bool]:
    """(figures from manifest.json, MODEL_CARD.md text, whether the artifact folder exists)."""
    folder = artifacts_root / version
    if "/" in version or version.startswith(".") or not folder.is_dir():
        return [], None, False
    figures: list[tuple[str, float]] = []
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        figures = [
            (name, value) for name, value in _figures(manifest.get("metrics", {})) if "rows" not in name
        ][:_MAX_FIGURES]
    card_path = folder / "MODEL_CARD.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    return figures, card, True


def model_health(session: Session, tenant: str, artifacts_root: Path = ARTIFACTS_DIR) -> list[ModelHealth]:
    default = default_model_version(artifacts_root)
    rows = session.execute(
        select(AnalysisRow.model_version, func.count(), func.max(PostRow.created_at))
        .join(PostRow, PostRow.id == AnalysisRow.post_id)
        .where(PostRow.tenant == tenant)
        .group_by(AnalysisRow.model_version)
        .order_by(func.max(PostRow.created_at).desc())
    ).all()
    versions: list[tuple[str, int, datetime | None]] = [
        (version, count, newest) for version, count, newest in rows
    ]
    if default and default not in {version for version, _, _ in versions}:
        versions.append((default, 0, None))
    health = []
    for version, count, newest in versions:
        figures, card, found = model_card(version, artifacts_root)
        health.append(
            ModelHealth(
                version, count, as_utc(newest) if newest else None, version == default, figures, card, found
            )
        )
    return health
