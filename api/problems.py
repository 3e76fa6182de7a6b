"""Errors as RFC 9457 problem details (``application/problem+json``).

Routes raise :class:`Problem` (or a project error from ``triage``); FastAPI's own errors
(404 for an unknown path, 422 for a bad query) are answered in the same shape, so a client handles
exactly one error format.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from triage.actions.service import ActionError, NotFoundError
from triage.errors import StorageError, TriageError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://signal-triage.dev/problems/"


class Problem(Exception):
    """An error a client can act on; ``kind`` becomes the problem ``type`` URI's last segment."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers
        self.extensions = extensions


def _wants_page(request: Request) -> bool:
    """A browser on a web page gets an HTML error page; API clients always get problem details."""
    return not request.url.path.startswith("/v1") and "text/html" in request.headers.get("accept", "")


def problem_response(
    request: Request,
    status: int,
    kind: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    if _wants_page(request):
        from api.templating import render

        context = {"status": status, "title": title or HTTPStatus(status).phrase, "detail": detail}
        response = render(request, "error.html", context, status)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _kind_for(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


async def _on_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return problem_response(
        request,
        error.status,
        error.kind,
        error.detail,
        title=error.title,
        headers=error.headers,
        **error.extensions,
    )


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else str(error.detail)
    return problem_response(
        request,
        error.status_code,
        getattr(error, "kind", None) or _kind_for(error.status_code),
        detail,
        headers=getattr(error, "headers", None),
    )


async def _on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"location": [str(part) for part in item.get("loc", ())], "message": item.get("msg", "")}
        for item in error.errors()
    ]
    summary = "; ".join(f"{'.'.join(item['location'])}: {item['message']}" for item in errors)
    return problem_response(
        request, 422, "invalid-request", f"the request is not valid: {summary}", errors=errors
    )


async def _on_triage_error(request: Request, error: Exception) -> Response:
    if isinstance(error, NotFoundError):
        return problem_response(request, 404, "not-found", str(error))
    if isinstance(error, StorageError):
        # the database cannot be written (full disk, read-only file): the server's problem, not the request's
        return problem_response(
            request,
            503,
            "storage-unavailable",
            str(error),
            title="Storage unavailable",
            headers={"Retry-After": "60"},
        )
    if isinstance(error, ActionError):
        return problem_response(request, 409, "action-refused", str(error), title="Action refused")
    return problem_response(request, 400, "bad-request", str(error))


async def _on_overflow(request: Request, error: Exception) -> Response:
    """A number or date in the request too large for Python's dates or the database's integers
    (an id of 10**20, a mute of 10**300 minutes): the request's fault, so a 422, never a 500.
    Routes bound their numbers where they can; this answers for any that does not."""
    return problem_response(
        request,
        422,
        "value-out-of-range",
        f"a number or date in the request is out of range ({error}); send a smaller value",
        title="Value out of range",
    )


#: the problem details every error answers with (RFC 9457), as the OpenAPI document describes them
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URI of the kind of problem; its last segment names it."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong and what to do about it."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per problem found (422): a JSON pointer or a location, and a message.",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}


def document_problems(app: FastAPI) -> None:
    """Make the app's OpenAPI document say what errors really look like.

    FastAPI documents a 422 as ``{"detail": [...]}`` in ``application/json``; this app answers every
    error, 422 included, with problem details in ``application/problem+json``. Each operation's error
    responses, and a ``default`` response for the statuses it does not list (401, 403, 404, 413, 429,
    503), are described as ``Problem``, so clients and schema-driven tests check the real shape.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status[:1] in ("4", "5"):
                        if status == "422":
                            response["description"] = "Invalid request (problem details)"
                        response["content"] = content
                responses.setdefault(
                    "default", {"description": "An error, as problem details", "content": content}
                )
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def register_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` with problem details."""
    app.add_exception_handler(OverflowError, _on_overflow)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(TriageError, _on_triage_error)
