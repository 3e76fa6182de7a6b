"""Server-sent events for the board: one ``board`` event whenever the board would look different.

The stream carries only a fingerprint; the page re-fetches its own filtered rows, so one stream
serves every filter. Polling the database (not in-process notifications) keeps this correct when
the pipeline runs in other processes (Celery workers, a replay in another shell).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.deps import TENANT_COOKIE, Principal, get_api_settings, known_tenants, require
from api.queries.clusters import board_fingerprint
from triage.access.settings import ApiSettings

router = APIRouter(tags=["live"])
_HEARTBEAT_SECONDS = 15.0


def _fingerprint(sessions: sessionmaker[Session], tenant: str) -> str:
    with sessions() as session:
        value = board_fingerprint(session, tenant)
    return hashlib.sha1(repr(value).encode(), usedforsecurity=False).hexdigest()[:16]


async def board_events(
    request: Request,
    sessions: sessionmaker[Session],
    tenant: str,
    poll_seconds: float,
    max_events: int | None,
) -> AsyncIterator[str]:
    """The first event goes out at once (the client knows it is connected); later ones on change."""
    yield "retry: 3000\n\n"
    last: str | None = None
    sent = 0
    quiet = 0.0
    while True:
        if await request.is_disconnected() or getattr(request.app.state, "shutting_down", False):
            return
        current = await run_in_threadpool(_fingerprint, sessions, tenant)
        if current != last:
            last = current
            sent += 1
            yield f"event: board\nid: {current}\ndata: {current}\n\n"
            quiet = 0.0
            if max_events is not None and sent >= max_events:
                return
        elif quiet >= _HEARTBEAT_SECONDS:
            yield ": still here\n\n"
            quiet = 0.0
        await asyncio.sleep(poll_seconds)
        quiet += poll_seconds


@router.get("/events/board", response_class=StreamingResponse)
async def board_stream(
    request: Request,
    _: Annotated[Principal, Depends(require("viewer"))],
    api: Annotated[ApiSettings, Depends(get_api_settings)],
    max_events: Annotated[
        int | None, Query(ge=1, description="Close after this many events (for scripts and tests).")
    ] = None,
    tenant: Annotated[str | None, Query(description="Tenant; default as for every other page.")] = None,
) -> StreamingResponse:
    sessions: sessionmaker[Session] = request.app.state.sessions
    if not tenant:
        # resolved with a short session: a request-scoped one would stay open as long as the stream
        with sessions() as session:
            known = known_tenants(request, session)
        tenant = (
            request.cookies.get(TENANT_COOKIE) or api.default_tenant or (known[0] if known else "default")
        )
    return StreamingResponse(
        board_events(request, sessions, tenant, api.live_poll_seconds, max_events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
