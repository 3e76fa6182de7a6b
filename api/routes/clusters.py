"""``/v1/clusters``: the board as data, and one cluster in full."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import Paging, get_paging, get_session, get_tenant, require, wall_clock
from api.problems import Problem
from api.queries.cluster_detail import cluster_detail
from api.queries.clusters import STATES, BoardFilter, board
from api.queries.common import TimeRange, data_clock
from api.schemas import ClusterDetailOut, ClusterOut, Paged, paged

router = APIRouter(prefix="/v1/clusters", tags=["clusters"], dependencies=[Depends(require("viewer"))])


@router.get("", response_model=Paged[ClusterOut])
def list_clusters(
    paging: Annotated[Paging, Depends(get_paging)],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    service: Annotated[
        list[str] | None, Query(description="Only these services (repeat the parameter for several).")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Only clusters with a post at or after this time.")
    ] = None,
    state: Annotated[list[str] | None, Query(description=f"Only these states: {', '.join(STATES)}.")] = None,
    include_merged: Annotated[bool, Query(description="Also list clusters merged into others.")] = False,
) -> dict[str, object]:
    """Live problems first (active, emerging, subsiding, resolved), then by distinct authors."""
    state, service = state or [], service or []
    unknown = [name for name in state if name not in STATES]
    if unknown:
        raise Problem(422, "invalid-request", f"unknown state {unknown[0]!r}; use {', '.join(STATES)}")
    end = data_clock(session, tenant)
    window = TimeRange(since or end - timedelta(hours=24), end) if end else None
    rows, total = board(
        session,
        tenant,
        BoardFilter(services=service, states=state, since=since, include_merged=include_merged),
        window,
        wall_clock(),
        limit=paging.limit,
        offset=paging.offset,
    )
    return paged([ClusterOut.model_validate(row) for row in rows], total, paging.limit, paging.offset)


@router.get("/{key}", response_model=ClusterDetailOut)
def get_cluster(
    key: str,
    paging: Annotated[Paging, Depends(get_paging)],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
) -> dict[str, object]:
    """The cluster, its volume and distinct-author series, a page of its posts (newest first), its
    escalation with ranked causes and history, and the decisions recorded about it."""
    detail = cluster_detail(
        session, tenant, key, wall_clock(), sample_limit=paging.limit, sample_offset=paging.offset
    )
    if detail is None:
        raise Problem(
            404, "not-found", f"no cluster {key!r} in tenant {tenant!r}; list them with GET /v1/clusters"
        )
    series = detail.series
    return {
        "cluster": ClusterOut.model_validate(detail.summary),
        "series": {
            "starts": list(series.starts),
            "step_seconds": series.step.total_seconds(),
            "posts": list(series.posts),
            "distinct_authors": list(series.distinct_authors),
        },
        "representative": detail.representative,
        "samples": paged(detail.samples, detail.sample_total, paging.limit, paging.offset),
        "listed_only_posts": detail.listed_only,
        "escalation": detail.escalation,
        "actions": detail.actions,
    }
