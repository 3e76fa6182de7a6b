"""Settings of the API and web UI.

With no keys configured (the embedded default) the service runs in **local open mode**: every
request is treated as an admin named ``local``, so ``triage serve`` shows the board with no
configuration at all. That is meant for a laptop or a replay; ``triage serve`` binds to 127.0.0.1
by default for that reason. Configure at least one key to require authentication, e.g.::

    SIGNAL_TRIAGE_API__KEYS='[{"name": "dana", "key": "s3cret", "role": "lead"}]'

Keys made with ``triage keys create`` are stored hashed in the database and work beside these;
once any key has been created there, open mode is over even with none configured here.

Roles: ``viewer`` reads everything; ``lead`` also records decisions (confirm, mute, merge, split,
escalate, resolve, relabel); ``ingest`` may only push to the intake endpoints (``POST /v1/posts``,
``POST /v1/changes/{kind}``) and read nothing; ``admin`` may do everything.
A key is sent as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. The web UI's sign-in
form checks the key once and keeps only a signed session (which key, its role, when) in an HttpOnly,
SameSite=Strict cookie, never the key itself. The signing secret is ``session_secret``
(``SIGNAL_TRIAGE_API__SESSION_SECRET``); left unset, a random one is made per process, so every
browser session then ends when the server restarts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

Role = Literal["viewer", "lead", "ingest", "admin"]
ROLES: tuple[str, ...] = ("viewer", "lead", "ingest", "admin")

#: the roles a route needing a role admits: ``ingest`` is not above ``viewer``, it is beside it
ADMITTED_ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"viewer", "lead", "admin"}),
    "lead": frozenset({"lead", "admin"}),
    "ingest": frozenset({"ingest", "admin"}),
    "admin": frozenset({"admin"}),
}


class ApiKey(BaseModel):
    """One caller: a person or a tool. ``name`` is what the action log records as "who"."""

    name: str = Field(description="Who uses this key; recorded as the actor of every decision made with it.")
    key: SecretStr = Field(description="The secret sent by the caller.")
    role: Role = Field("viewer", description="viewer, lead, ingest or admin.")


class ApiSettings(BaseModel):
    keys: list[ApiKey] = Field(
        default_factory=list,
        description="API keys with roles; none here nor stored means local open mode (see above).",
    )
    default_tenant: str | None = Field(
        None, description="Tenant shown when a request names none; default: the one with the newest post."
    )
    live_poll_seconds: float = Field(
        2.0, description="How often the server checks for board changes to push over server-sent events."
    )
    page_size: int = Field(50, description="Default page size of list endpoints (at most 500).")
    session_secret: SecretStr | None = Field(
        None,
        description="Secret signing the web UI's session cookie; unset: random per process, so "
        "sessions end when the server restarts.",
    )
    session_max_age_seconds: int = Field(
        12 * 3600, ge=60, description="How long a web UI sign-in lasts before the key is asked again."
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body of any route (413 beyond it); the intake routes take up to "
        "sources.intake_max_body_bytes / sources.webhook_max_body_bytes when those are larger.",
    )
    intake_rate_per_second: float = Field(
        20.0,
        gt=0,
        description="Requests per second each caller may make to POST /v1/posts (per API key) and to each "
        "change webhook (per feed and address); 429 with Retry-After beyond it. A request carries up to "
        "sources.intake_max_posts posts, so 20/s is far more than any bridge needs.",
    )
    intake_burst: int = Field(
        100, ge=1, description="Requests a caller may make at once before intake_rate_per_second applies."
    )

    @property
    def open_mode(self) -> bool:
        return not self.keys
