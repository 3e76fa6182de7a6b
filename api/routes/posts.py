"""``/v1/posts``: stored posts with the classifier's view and people's labels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from api.deps import Paging, get_paging, get_session, get_tenant, require
from api.problems import Problem
from api.queries.posts import PostFilter, get_post, list_posts
from api.schemas import Paged, PostOut, paged

router = APIRouter(prefix="/v1/posts", tags=["posts"], dependencies=[Depends(require("viewer"))])


@router.get("", response_model=Paged[PostOut])
def posts(
    paging: Annotated[Paging, Depends(get_paging)],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
    cluster: Annotated[str | None, Query(description="Only posts of this cluster key.")] = None,
    source: Annotated[str | None, Query(description="twitter, zendesk, ...")] = None,
    sentiment: Annotated[str | None, Query(description="negative, neutral or positive.")] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=2, description="Text contains (case-insensitive).")] = None,
) -> dict[str, object]:
    """Newest first."""
    views, total = list_posts(
        session,
        tenant,
        PostFilter(cluster, source, sentiment, since, until, q),
        limit=paging.limit,
        offset=paging.offset,
    )
    return paged(views, total, paging.limit, paging.offset)


@router.get("/{post_id}", response_model=PostOut)
def post(
    post_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    tenant: Annotated[str, Depends(get_tenant)],
    session: Annotated[Session, Depends(get_session)],
) -> object:
    view = get_post(session, tenant, post_id)
    if view is None:
        raise Problem(404, "not-found", f"no post {post_id} in tenant {tenant!r}")
    return view
