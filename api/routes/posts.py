"""``/v1/posts``: stored posts with the classifier's view and people's labels."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import Paging, get_paging, get_session, get_tenant, require
from api.problems import Problem
from api.queries.posts import PostFilter, get_post, list_posts
from api.schemas import Paged, PostOut, paged

router = APIRouter(prefix="/v1/posts", tags=["posts"], dependencies=[Depends(require("viewer"))])


@router.get("", response_model=Paged[PostOut])
def posts(
    cluster: str | None = Query(None, description="Only posts of this cluster key."),
    source: str | None = Query(None, description="twitter, zendesk, ..."),
    sentiment: str | None = Query(None, description="negative, neutral or positive."),
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
    q: str | None = Query(None, min_length=2, description="Text contains (case-insensitive)."),
    paging: Paging = Depends(get_paging),
    tenant: str = Depends(get_tenant),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    """Newest first."""
    views, total = list_posts(
        session, tenant, PostFilter(cluster, source, sentiment, since, until, q),
        limit=paging.limit, offset=paging.offset,
    )
    return paged(views, total, paging.limit, paging.offset)


@router.get("/{post_id}", response_model=PostOut)
def post(post_id: int, tenant: str = Depends(get_tenant), session: Session = Depends(get_session)) -> object:
    view = get_post(session, tenant, post_id)
    if view is None:
        raise Problem(404, "not-found", f"no post {post_id} in tenant {tenant!r}")
    return view
