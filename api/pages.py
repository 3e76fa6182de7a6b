"""What every web page needs: the tenant, the tenants to switch between, who is signed in.

Pages are plain HTML forms and links, so the UI works without JavaScript; only the board's live
updates need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.deps import (
    OPEN_MODE_PRINCIPAL,
    TENANT_COOKIE,
    Principal,
    get_api_settings,
    get_session,
    get_tenant,
    known_tenants,
    require,
)
from api.problems import Problem
from api.templating import render
from triage.access.settings import ApiSettings


@dataclass
class Page:
    request: Request
    session: Session
    tenant: str
    principal: Principal
    api: ApiSettings

    def render(self, name: str, nav: str, context: dict[str, Any], status_code: int = 200) -> Response:
        base = {
            "tenant": self.tenant,
            "tenants": known_tenants(self.request, self.session),
            "principal": self.principal,
            "open_mode": self.principal is OPEN_MODE_PRINCIPAL,
            "nav": nav,
        }
        response = render(self.request, name, {**base, **context}, status_code)
        if self.request.query_params.get("tenant"):
            response.set_cookie(TENANT_COOKIE, self.tenant, httponly=True, samesite="strict")
        return response

    def back_to(self, path: str, **params: str) -> RedirectResponse:
        """Post/redirect/get: a form's answer is a 303 to the page, so a reload never repeats an action."""
        from urllib.parse import urlencode

        query = urlencode({"tenant": self.tenant, **params})
        return RedirectResponse(f"{path}?{query}", status_code=303)


def same_origin(request: Request) -> None:
    """Refuse form posts made from another site. In local open mode there is no key to protect the
    forms, and a page anywhere on the web could otherwise post to ``127.0.0.1``; browsers send
    ``Origin`` on every form post, so a mismatch is a cross-site request."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise Problem(403, "cross-site-form", "this form was posted from another site; use the board itself")


def get_page(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    tenant: Annotated[str, Depends(get_tenant)],
    principal: Annotated[Principal, Depends(require("viewer"))],
    api: Annotated[ApiSettings, Depends(get_api_settings)],
) -> Page:
    """Every page reads, so every page needs a key that may read (an ``ingest`` key may not)."""
    return Page(request, session, tenant, principal, api)
