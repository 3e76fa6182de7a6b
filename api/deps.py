"""FastAPI dependencies: settings, database sessions, who is calling, and which tenant they look at.
One place, so routes stay thin."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.problems import Problem
from api.sessions import SESSION_COOKIE, SessionClaims, random_secret, read_session, sign_session
from triage.access.service import any_api_keys, find_api_key, live_api_key, looks_stored
from triage.access.settings import ADMITTED_ROLES, ApiSettings
from triage.settings import Settings
from triage.storage.models import PostRow

#: the web UI's signed session (see api/sessions.py), and the cookie remembering the chosen tenant
KEY_COOKIE = SESSION_COOKIE
TENANT_COOKIE = "signal_triage_tenant"
_TENANTS_TTL_SECONDS = 10.0


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_api_settings(request: Request) -> ApiSettings:
    """The API part of the settings; ``ApiSettings()`` (open mode) until triage settings carry one."""
    return getattr(request.app.state.settings, "api", None) or ApiSettings()


def get_session(request: Request) -> Iterator[Session]:
    """A session per request that commits when the route returns normally."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session, session.begin():
        yield session


def wall_clock() -> datetime:
    """When a person acted. The API is where people meet the system, so decisions are stamped with
    the wall clock; triage stages never call this (they run on event time)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name (recorded as the actor of decisions) and role."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        return self.role in ADMITTED_ROLES[role]


OPEN_MODE_PRINCIPAL = Principal("local", "admin")


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _stored_keys_exist(request: Request) -> bool:
    """Whether ``triage keys create`` ever stored a key. Once true it stays true (rows are never
    deleted), so only the answer ``False`` is asked again, and only in open mode."""
    if getattr(request.app.state, "stored_keys_exist", False):
        return True
    with request.app.state.sessions() as session:
        exists = any_api_keys(session)
    if exists:
        request.app.state.stored_keys_exist = True
    return exists


def is_open_mode(request: Request, api: ApiSettings) -> bool:
    """Local open mode: no key configured in the settings and none ever stored."""
    return api.open_mode and not _stored_keys_exist(request)


def identify_key(request: Request, api: ApiSettings, presented: str) -> tuple[Principal, str] | None:
    """The caller a key belongs to and a reference to the key that is no secret (``configured:<name>``
    or ``stored:<key_id>``): a configured key, else a stored one; ``None`` if unknown."""
    for entry in api.keys:
        if secrets.compare_digest(presented.encode(), entry.key.get_secret_value().encode()):
            return Principal(entry.name, entry.role), f"configured:{entry.name}"
    if looks_stored(presented):
        with request.app.state.sessions() as session:
            stored = find_api_key(session, presented)
        if stored is not None:
            return Principal(stored.name, stored.role), f"stored:{stored.key_id}"
    return None


def identify(request: Request, api: ApiSettings, presented: str) -> Principal | None:
    found = identify_key(request, api, presented)
    return found[0] if found else None


def session_secret(request: Request, api: ApiSettings) -> str:
    """The configured session secret, else one made at random once per process (per app)."""
    if api.session_secret is not None:
        return api.session_secret.get_secret_value()
    secret: str | None = getattr(request.app.state, "session_secret", None)
    if secret is None:
        secret = request.app.state.session_secret = random_secret()
    return secret


def session_cookie_for(request: Request, api: ApiSettings, key_ref: str, role: str) -> str:
    claims = SessionClaims(key_ref, role, int(time.time()))
    return sign_session(session_secret(request, api), claims)


def principal_from_session(request: Request, api: ApiSettings) -> Principal | None:
    """The signed-in caller of a valid session cookie whose key still exists with the same role."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    claims = read_session(session_secret(request, api), cookie, time.time(), api.session_max_age_seconds)
    if claims is None:
        return None
    kind, _, ident = claims.key_ref.partition(":")
    principal: Principal | None = None
    if kind == "configured":
        principal = next(
            (Principal(entry.name, entry.role) for entry in api.keys if entry.name == ident), None
        )
    elif kind == "stored":
        with request.app.state.sessions() as session:
            stored = live_api_key(session, ident)
        principal = Principal(stored.name, stored.role) if stored is not None else None
    if principal is None or principal.role != claims.role:
        return None
    return principal


def current_principal(request: Request, api: Annotated[ApiSettings, Depends(get_api_settings)]) -> Principal:
    """Stored keys are looked up with a short session of their own, not the request's: a
    server-sent event stream authenticates too and must not hold a session while it runs."""
    if is_open_mode(request, api):
        return OPEN_MODE_PRINCIPAL
    presented = _presented_key(request)
    principal = identify(request, api, presented) if presented else principal_from_session(request, api)
    if principal is not None:
        return principal
    raise Problem(
        401,
        "unauthorized",
        "an API key is required: send X-API-Key or Authorization: Bearer, or sign in at /login",
        headers={"WWW-Authenticate": 'Bearer realm="signal-triage"'},
    )


def require(role: str) -> Callable[..., Principal]:
    """A dependency that admits callers whose role ``role`` admits (see ``ADMITTED_ROLES``)."""
    admitted = ", ".join(sorted(ADMITTED_ROLES[role]))

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.can(role):
            raise Problem(
                403,
                "forbidden",
                f"this needs the {role!r} role ({admitted}); the key of {principal.name!r} is "
                f"{principal.role!r}. Ask an admin for a {role} key.",
            )
        return principal

    return dependency


def known_tenants(request: Request, session: Session) -> list[str]:
    """Tenants with posts, the one with the newest post first. Cached for a few seconds because
    every page asks and the answer changes only when a new tenant starts."""
    cached: tuple[float, list[str]] | None = getattr(request.app.state, "tenants_cache", None)
    if cached is not None and time.monotonic() - cached[0] < _TENANTS_TTL_SECONDS:
        return cached[1]
    newest = func.max(PostRow.created_at)
    tenants = [
        row[0]
        for row in session.execute(
            select(PostRow.tenant, newest).group_by(PostRow.tenant).order_by(newest.desc())
        )
    ]
    request.app.state.tenants_cache = (time.monotonic(), tenants)
    return tenants


def get_tenant(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    api: Annotated[ApiSettings, Depends(get_api_settings)],
    tenant: Annotated[
        str | None, Query(description="Tenant (brand or replayed scenario); default: the newest.")
    ] = None,
) -> str:
    """The tenant asked for, else the one the UI remembered, else the configured default, else the one
    with the newest post, else ``default``."""
    if tenant:
        return tenant
    remembered = request.cookies.get(TENANT_COOKIE)
    if remembered:
        return remembered
    if api.default_tenant:
        return api.default_tenant
    tenants = known_tenants(request, session)
    return tenants[0] if tenants else "default"


#: the largest offset a list takes: beyond any real list, and within every database's integers
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int


def get_paging(
    api: Annotated[ApiSettings, Depends(get_api_settings)],
    limit: Annotated[
        int | None, Query(ge=1, le=500, description="Items per page (default from settings, at most 500).")
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Items to skip; use the previous page's next_offset.")
    ] = 0,
) -> Paging:
    return Paging(limit or min(api.page_size, 500), offset)
