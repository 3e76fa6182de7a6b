"""Change feeds in: ``POST /v1/changes/{kind}`` for GitHub, Alertmanager, PagerDuty
change events and generic JSON; ``GET /v1/changes`` to see what arrived.

Each feed checks its own signature or token on the raw bytes before parsing.
A feed with no secret configured is refused unless the operator explicitly
allows unauthenticated feeds. Events no catalog entry claims are stored with
no service and listed in the answer (and by ``GET /v1/changes?unmapped=true``),
never dropped.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import require, wall_clock
from api.limits import limit_webhook
from api.problems import problem_response
from api.routes.intake import BodyTooLarge, read_limited_body
from ingest.errors import InvalidRecordError, WebhookRejectedError
from ingest.feeds.registry import FEEDS
from ingest.feeds.standard_webhooks import ReplayGuard
from triage.ingestion import receive_changes
from triage.sources_settings import sources_settings
from triage.storage.database import transaction
from triage.storage.post_updates import recent_changes

router = APIRouter(prefix="/v1", tags=["changes"])


@router.post(
    "/changes/{kind}",
    summary="Receive a change-feed webhook (github, alertmanager, pagerduty, generic)",
    dependencies=[Depends(limit_webhook)],
)
async def post_change(kind: str, request: Request) -> Response:
    config = sources_settings(request.app.state.settings)
    feed_class = FEEDS.get(kind)
    if feed_class is None:
        return problem_response(
            request,
            404,
            "unknown-feed",
            title="Unknown change feed",
            detail=f"no feed called {kind!r}; known feeds: {', '.join(sorted(FEEDS))}",
        )
    secret = config.webhooks.secret_for(kind)
    if secret is None and not config.webhooks.allow_unauthenticated:
        return problem_response(
            request,
            403,
            "feed-not-configured",
            title="Change feed not configured",
            detail=f"set the {kind} secret in sources.webhooks to accept this feed",
        )
    try:
        raw = await read_limited_body(request, config.webhook_max_body_bytes)
    except BodyTooLarge:
        return problem_response(
            request,
            413,
            "body-too-large",
            title="Request body too large",
            detail=f"the body is over {config.webhook_max_body_bytes} bytes",
        )
    guard: ReplayGuard | None = getattr(request.app.state, "webhook_replay_guard", None)
    if guard is None:
        guard = request.app.state.webhook_replay_guard = ReplayGuard()
    feed = feed_class(
        config.catalog.service_map(),
        secret.get_secret_value() if secret else None,
        clock=wall_clock,
        replay_guard=guard,
    )
    headers = {key.lower(): value for key, value in request.headers.items()}
    try:
        delivery = feed.receive(raw, headers)
    except WebhookRejectedError as error:
        return problem_response(
            request, 401, "signature-mismatch", str(error), title="Webhook not authenticated"
        )
    except InvalidRecordError as error:
        return problem_response(
            request,
            422,
            "invalid-change",
            str(error),
            title="Invalid change event",
            errors=[{"pointer": "/" + error.location.replace(".", "/"), "detail": error.reason}],
        )

    def store() -> Any:
        with transaction(request.app.state.sessions) as session:
            return receive_changes(session, config.tenant, delivery)

    receipt = await run_in_threadpool(store)
    return JSONResponse(
        {
            "received": receipt.received,
            "stored": receipt.stored,
            "closed": receipt.closed,
            "unmapped": receipt.unmapped,
            "ignored": receipt.ignored,
        }
    )


@router.get(
    "/changes", summary="Recent change events, newest first", dependencies=[Depends(require("viewer"))]
)
def list_changes(
    request: Request,
    unmapped: Annotated[bool, Query(description="Only events no service in the catalog claimed.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    tenant: Annotated[str | None, Query(description="Default: the tenant webhooks store under.")] = None,
) -> list[dict[str, Any]]:
    config = sources_settings(request.app.state.settings)
    with transaction(request.app.state.sessions) as session:
        changes = recent_changes(session, tenant or config.tenant, unmapped_only=unmapped, limit=limit)
    return [change.model_dump(mode="json") for change in changes]
