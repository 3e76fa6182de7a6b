"""Response headers that keep untrusted text (posts, author names, change summaries) inert.

Templates autoescape, so a post reading ``<script>...`` is shown as text. The Content-Security-Policy
is the second fence: even if markup slipped through, the browser runs no inline script, loads
nothing from other sites and posts forms only back to this server. The pages need no inline script
or style (the board's live updates are ``/static/live.js``), so the policy can be this strict.

The interactive API docs (``/docs``, ``/redoc``) are FastAPI's pages, which load their script from a
CDN and start it inline; they show no stored text, and get a policy that allows exactly that.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the policy of every HTML page of the web UI (and of HTML error pages)
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

#: FastAPI's Swagger UI and ReDoc pages: their CDN, their inline bootstrap script, nothing else
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"script-src {DOCS_CDN} 'unsafe-inline'",
        f"style-src {DOCS_CDN} 'unsafe-inline' https://fonts.googleapis.com",
        "font-src https://fonts.gstatic.com",
        f"img-src 'self' data: {DOCS_CDN} https://fastapi.tiangolo.com",
        "connect-src 'self'",
        f"worker-src blob: {DOCS_CDN}",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


def policy_for(path: str) -> str:
    return DOCS_POLICY if path in DOCS_PATHS else PAGE_POLICY


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy to every ``text/html`` response, and ``nosniff`` to all.

    A plain ASGI middleware rather than ``BaseHTTPMiddleware``, so server-sent event streams pass
    through untouched and still notice a client going away.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if content_type.lower().startswith(b"text/html") and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", policy.encode()))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
