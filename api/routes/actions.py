"""``/v1/clusters/{key}/actions`` and ``/v1/actions``: support leads' decisions, and the constraints
they add up to for the next triage pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import Paging, Principal, get_paging, get_session, get_tenant, require, wall_clock
from api.schemas import ActionIn, ActionOut, ConstraintsOut, Paged, paged
from triage.actions.service import cluster_actions, load_constraints, record_cluster_action

router = APIRouter(prefix="/v1", tags=["actions"])


@router.post("/clusters/{key}/actions", response_model=ActionOut, status_code=201)
def act(
    key: str,
    body: ActionIn,
    principal: Annotated[Principal, Depends(require("lead"))],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
) -> object:
    """Record a decision. Refusals (merge into itself, split taking every post, ...) answer 409 with
    problem details saying what to do instead."""
    now = wall_clock()
    expires_at = now + timedelta(minutes=body.expires_in_minutes) if body.expires_in_minutes else None
    return record_cluster_action(
        session,
        tenant,
        key,
        body.action,
        principal.name,
        now,
        expires_at=expires_at,
        target_cluster_key=body.target_cluster_key,
        post_ids=body.post_ids,
        note=body.note,
    )


@router.get("/actions", response_model=Paged[ActionOut], dependencies=[Depends(require("viewer"))])
def actions(
    paging: Annotated[Paging, Depends(get_paging)],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    cluster: Annotated[str | None, Query(description="Only decisions about this cluster key.")] = None,
) -> dict[str, object]:
    """Newest first; ``total`` is not counted (the log only grows), so page until next_offset is null."""
    rows = cluster_actions(session, tenant, cluster, limit=paging.limit + 1, offset=paging.offset)
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    total = paging.offset + len(rows) + (1 if more else 0)
    return paged(rows, total, paging.limit, paging.offset)


@router.get("/constraints", response_model=ConstraintsOut, dependencies=[Depends(require("viewer"))])
def constraints(
    tenant: Annotated[str, Depends(get_tenant)], session: Annotated[Session, Depends(get_session)]
) -> dict[str, object]:
    """The decisions folded into what the next triage pass must respect."""
    folded = load_constraints(session, tenant)
    return {
        "mutes": folded.mutes,
        "merges": folded.merges,
        "splits": {key: sorted(ids) for key, ids in folded.splits.items()},
        "split_groups": [sorted(group) for group in folded.split_groups],
        "cannot_link_pairs": len(folded.cannot_link),
        "relabels": {
            post_id: {"is_problem": relabel.is_problem, "category": relabel.category}
            for post_id, relabel in folded.relabels.items()
        },
        "confirmed": sorted(folded.confirmed),
        "resolved": folded.resolved,
        "escalate_now": folded.escalate_now,
    }
