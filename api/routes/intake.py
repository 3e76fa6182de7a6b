"""``POST /v1/posts``: posts pushed by any other tool, stored once per (source, id).

Errors are RFC 9457 problem details (``application/problem+json``): a body that
is too large is 413, malformed JSON 400, and invalid posts 422 with one entry
per problem, each with a JSON pointer into the request. Pushing posts needs an
API key with the ``ingest`` role (or ``admin``; open in local mode): a bridge
that pushes posts gets a key that can do nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import require
from api.limits import limit_intake
from api.problems import problem_response
from ingest.sources.http_intake import parse_intake
from triage.ingestion import receive_posts
from triage.sources_settings import sources_settings
from triage.storage.database import transaction

router = APIRouter(prefix="/v1", tags=["intake"])


class BodyTooLarge(Exception):
    pass


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, refusing early on a declared length over ``limit`` and while streaming past it,
    so an oversized upload is never held in memory whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/posts",
    summary="Push a batch of posts (replay-file post shape); idempotent on (source, id)",
    responses={
        413: {"description": "Body too large"},
        422: {"description": "Invalid posts; nothing was stored"},
        429: {"description": "Too many requests from this key; see Retry-After"},
    },
    dependencies=[Depends(require("ingest")), Depends(limit_intake)],
)
async def post_posts(request: Request) -> Response:
    config = sources_settings(request.app.state.settings)
    try:
        raw = await read_limited_body(request, config.intake_max_body_bytes)
    except BodyTooLarge:
        return problem_response(
            request,
            413,
            "body-too-large",
            title="Request body too large",
            detail=f"the body is over {config.intake_max_body_bytes} bytes; send smaller batches",
        )
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return problem_response(
            request, 400, "malformed-json", f"the body is not valid JSON: {error}", title="Malformed JSON"
        )
    posts, problems = parse_intake(body, max_posts=config.intake_max_posts)
    if problems:
        return problem_response(
            request,
            422,
            "invalid-posts",
            f"{len(problems)} problem(s) found; nothing was stored",
            title="Invalid posts",
            errors=[{"pointer": item.pointer, "detail": item.detail} for item in problems],
        )

    def store() -> Any:
        with transaction(request.app.state.sessions) as session:
            return receive_posts(session, config.tenant, posts)

    receipt = await run_in_threadpool(store)
    return JSONResponse(
        {"received": receipt.received, "stored": receipt.stored, "duplicates": receipt.duplicates}
    )
