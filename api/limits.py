"""Request limits: a cap on every request body, and a per-key rate on the intake endpoints.

Both answer before any work is done, in problem details:

- **413** ``body-too-large`` when a body is over its limit. The declared ``Content-Length`` is checked
  first; a body sent without one (chunked) is counted while it streams and cut off at the limit, so an
  oversized upload is never held in memory whole. The limit is ``ApiSettings.max_body_bytes`` for
  every route, except the intake routes, which have their own (``sources.intake_max_body_bytes`` for
  ``POST /v1/posts``, ``sources.webhook_max_body_bytes`` for ``POST /v1/changes/{kind}``).
- **429** ``rate-limited`` with ``Retry-After`` (whole seconds) when a caller pushes faster than
  ``ApiSettings.intake_rate_per_second`` requests per second, after a burst of
  ``ApiSettings.intake_burst``. A caller is its API key (``ingest`` bridges each get their own
  budget); in local open mode, and on the change webhooks (which carry a feed secret, not a key), it
  is the feed or the client address. Buckets live in the process: a deployment with several API
  processes multiplies the budget by their number.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import Principal, current_principal, get_api_settings
from api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, Problem
from triage.access.settings import ApiSettings
from triage.sources_settings import sources_settings

#: how many callers' buckets are kept; the least recently used are dropped beyond this
_MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float
    used: float


class RateLimiter:
    """Token buckets per caller: ``rate`` tokens a second, at most ``burst`` saved up.

    ``clock`` is a monotonic clock in seconds (injectable, so tests never sleep).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> float:
        """0 when ``caller`` may go now (a token is taken), else the seconds until one is free."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                if len(self._buckets) >= _MAX_BUCKETS:
                    oldest = min(self._buckets, key=lambda name: self._buckets[name].used)
                    del self._buckets[oldest]
                bucket = self._buckets[caller] = _Bucket(float(self.burst), now, now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = bucket.used = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else math.inf


def intake_limiter(request: Request, api: ApiSettings) -> RateLimiter:
    """The app's intake limiter, made on first use from the settings."""
    limiter: RateLimiter | None = getattr(request.app.state, "intake_limiter", None)
    if limiter is None:
        limiter = request.app.state.intake_limiter = RateLimiter(api.intake_rate_per_second, api.intake_burst)
    return limiter


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _check(request: Request, api: ApiSettings, caller: str) -> None:
    wait = intake_limiter(request, api).acquire(caller)
    if wait > 0:
        retry_after = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
        raise Problem(
            429,
            "rate-limited",
            f"more than {api.intake_rate_per_second:g} requests per second (burst {api.intake_burst}) "
            f"from this caller; wait {retry_after} s, or send more posts per request",
            title="Too many requests",
            headers={"Retry-After": str(retry_after)},
        )


def limit_intake(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    api: Annotated[ApiSettings, Depends(get_api_settings)],
) -> None:
    """Dependency of ``POST /v1/posts``: one budget per API key (per client address in open mode)."""
    caller = f"key:{principal.name}" if principal.name != "local" else f"addr:{_client_address(request)}"
    _check(request, api, caller)


def limit_webhook(request: Request, api: Annotated[ApiSettings, Depends(get_api_settings)]) -> None:
    """Dependency of ``POST /v1/changes/{kind}``: one budget per feed and client address."""
    kind = request.path_params.get("kind", "")
    _check(request, api, f"feed:{kind}:{_client_address(request)}")


def body_limit_for(settings: object, path: str) -> int:
    """The largest body the route at ``path`` takes."""
    api: ApiSettings = getattr(settings, "api", None) or ApiSettings()
    sources = sources_settings(settings)
    if path == "/v1/posts":
        return max(api.max_body_bytes, sources.intake_max_body_bytes)
    if path.startswith("/v1/changes/"):
        return max(api.max_body_bytes, sources.webhook_max_body_bytes)
    return api.max_body_bytes


class BodyTooLargeError(StarletteHTTPException):
    """Raised from the counting ``receive`` when a streamed body passes its limit. An HTTP exception,
    so FastAPI's body parsing passes it on untouched and the problem handlers answer it."""

    kind = "body-too-large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over {limit} bytes; send smaller requests")


class BodyLimitMiddleware:
    """Refuses bodies over the route's limit with 413 before the route reads them whole."""

    def __init__(self, app: ASGIApp, settings: object) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(self.settings, scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "body-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"the body is over {limit} bytes; send smaller requests",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
