"""The communications team's sentiment dashboard: per service, volume and sentiment over time with
changes and incidents marked, and the most-shared negative posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from api.charts import Band, Line, Marker, time_chart
from api.pages import Page, get_page
from api.problems import Problem
from api.queries.common import WINDOWS, TimeRange, window_range
from api.queries.sentiment import SENTIMENTS, ServiceSentiment, sentiment_dashboard

router = APIRouter(include_in_schema=False)
_DEFAULT_WINDOW = "24h"


def _parse_local(value: str | None, name: str) -> datetime | None:
    """``datetime-local`` inputs carry no zone; the page says times are UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise Problem(
            422, "invalid-request", f"{name} must look like 2026-03-02T10:00, got {value!r}"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _chart(block: ServiceSentiment, starts: tuple[datetime, ...], step: timedelta) -> object:
    return time_chart(
        starts,
        step,
        stacked=[Line(name, block.counts[name], name) for name in SENTIMENTS],
        markers=[
            Marker(
                change.started_at,
                f"{change.kind} {change.external_id} ({change.service or 'no service'}): {change.summary}",
                "alert" if change.kind == "alert" else "change",
            )
            for change in block.changes
        ],
        bands=[
            Band(
                incident.start,
                incident.end,
                f"incident {incident.cluster_key} ({incident.severity})",
                "incident",
            )
            for incident in block.incidents
        ],
        title=f"Posts by sentiment over time: {block.service}",
        height=200,
    )


@router.get("/sentiment", response_class=HTMLResponse)
def sentiment_page(
    page: Annotated[Page, Depends(get_page)],
    window: Annotated[str, Query()] = _DEFAULT_WINDOW,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    custom_start, custom_end = _parse_local(start, "from"), _parse_local(end, "to")
    default = window_range(
        page.session, page.tenant, window if window in WINDOWS else _DEFAULT_WINDOW, timedelta(hours=24)
    )
    time_range = None
    if default is not None:
        time_range = TimeRange(custom_start or default.start, custom_end or default.end)
        if time_range.end <= time_range.start:
            raise Problem(422, "invalid-request", "the range must end after it starts; swap 'from' and 'to'")
    dashboard = sentiment_dashboard(page.session, page.tenant, time_range) if time_range else None
    charts = []
    if dashboard:
        for block in [dashboard.overall, *dashboard.services]:
            charts.append((block, _chart(block, dashboard.starts, dashboard.step)))
    context = {
        "dashboard": dashboard,
        "charts": charts,
        "window": None if (custom_start or custom_end) else window,
        "range_from": time_range.start.strftime("%Y-%m-%dT%H:%M") if time_range else "",
        "range_to": time_range.end.strftime("%Y-%m-%dT%H:%M") if time_range else "",
    }
    return page.render("sentiment.html", "sentiment", context)
