"""The support lead's board: live clusters with filters, and the sign-in form for keyed setups."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from api.deps import (
    KEY_COOKIE,
    get_api_settings,
    identify_key,
    is_open_mode,
    session_cookie_for,
    wall_clock,
)
from api.pages import Page, get_page, same_origin
from api.queries.clusters import STATES, BoardFilter, board, services_in_use
from api.queries.common import WINDOWS, humanize_age, window_range
from api.templating import render
from triage.access.settings import ApiSettings

router = APIRouter(include_in_schema=False)
_DEFAULT_WINDOW = "24h"


def _board_context(page: Page, states: list[str], services: list[str], window: str) -> dict[str, object]:
    window = window if window in WINDOWS else _DEFAULT_WINDOW
    time_range = window_range(page.session, page.tenant, window, timedelta(hours=24))
    since = time_range.start if time_range and window != "all" else None
    filters = BoardFilter(
        services=[name for name in services if name], states=[s for s in states if s in STATES], since=since
    )
    now = time_range.end if time_range else wall_clock()
    rows, total = board(page.session, page.tenant, filters, time_range, wall_clock(), limit=200)
    return {
        "rows": rows,
        "total": total,
        "filters": filters,
        "states": STATES,
        "services": services_in_use(page.session, page.tenant),
        "window": window,
        "window_label": "all time" if window == "all" else f"last {window}",
        "now": time_range.end if time_range else None,
        "ages": {row.key: humanize_age(row.onset_at, now) for row in rows},
        "any_data": time_range is not None,
        "params": {
            "tenant": page.tenant,
            "state": list(filters.states),
            "service": list(filters.services),
            "window": window,
        },
    }


@router.get("/", response_class=HTMLResponse)
def board_page(
    page: Annotated[Page, Depends(get_page)],
    state: Annotated[list[str] | None, Query()] = None,
    service: Annotated[list[str] | None, Query()] = None,
    window: Annotated[str, Query()] = _DEFAULT_WINDOW,
) -> Response:
    return page.render("board.html", "board", _board_context(page, state or [], service or [], window))


@router.get("/board/rows", response_class=HTMLResponse)
def board_rows(
    page: Annotated[Page, Depends(get_page)],
    state: Annotated[list[str] | None, Query()] = None,
    service: Annotated[list[str] | None, Query()] = None,
    window: Annotated[str, Query()] = _DEFAULT_WINDOW,
) -> Response:
    """Only the table body, for the live update to swap in."""
    return page.render("_board_rows.html", "board", _board_context(page, state or [], service or [], window))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, api: Annotated[ApiSettings, Depends(get_api_settings)]) -> Response:
    return render(
        request,
        "login.html",
        {"open_mode": is_open_mode(request, api), "error": request.query_params.get("error")},
    )


@router.post("/login", dependencies=[Depends(same_origin)])
def login(
    request: Request, key: Annotated[str, Form()], api: Annotated[ApiSettings, Depends(get_api_settings)]
) -> Response:
    found = identify_key(request, api, key.strip())
    if found is None:
        return RedirectResponse("/login?error=unknown+key", status_code=303)
    principal, key_ref = found
    if not principal.can("viewer"):
        return RedirectResponse("/login?error=not+for+reading", status_code=303)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        KEY_COOKIE,
        session_cookie_for(request, api, key_ref, principal.role),
        max_age=api.session_max_age_seconds,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(KEY_COOKIE)
    return response
