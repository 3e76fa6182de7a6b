"""Sources and model health page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from api.deps import wall_clock
from api.pages import Page, get_page
from api.queries.common import humanize_age
from api.queries.sources import source_health
from api.routes.sources import model_rows

router = APIRouter(include_in_schema=False)


@router.get("/sources", response_class=HTMLResponse)
def sources_page(page: Annotated[Page, Depends(get_page)]) -> Response:
    now = wall_clock()
    sources = source_health(page.session, page.tenant, now)
    using, models = model_rows(page.session, page.tenant, page.request.app.state.settings)
    context = {
        "sources": sources,
        "lags": {
            source.name: humanize_age(source.updated_at, now) if source.updated_at else "never"
            for source in sources
        },
        "models": models,
        "using": using,
    }
    return page.render("sources.html", "sources", context)
