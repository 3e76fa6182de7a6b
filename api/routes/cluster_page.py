"""One cluster's page, and the forms a support lead acts with (confirm, mute, merge, split,
escalate, resolve, relabel). Every form is post/redirect/get, so it works without JavaScript."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from api.charts import Band, Line, Marker, time_chart
from api.deps import Principal, require, wall_clock
from api.pages import Page, get_page, same_origin
from api.problems import Problem
from api.queries.cluster_detail import cluster_detail
from api.queries.common import humanize_age
from api.queries.posts import categories_known
from triage.actions.models import CLUSTER_ACTIONS
from triage.actions.service import ActionError, label_post, record_cluster_action

router = APIRouter(include_in_schema=False)

#: mute durations offered by the form: minutes → words (0: until unmuted)
MUTE_CHOICES: dict[int, str] = {
    60: "1 hour",
    240: "4 hours",
    1440: "24 hours",
    10080: "7 days",
    0: "until unmuted",
}
_DONE_WORDS = {
    "confirm": "Confirmed as a real problem.",
    "mute": "Muted.",
    "unmute": "Unmuted.",
    "merge": "Merged.",
    "split": "Split off the picked posts.",
    "escalate": "Escalation requested.",
    "resolve": "Marked resolved.",
    "label": "Label saved.",
}


@router.get("/clusters/{key}", response_class=HTMLResponse)
def cluster_page(
    key: Annotated[str, Path()],
    page: Annotated[Page, Depends(get_page)],
    done: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    detail = cluster_detail(page.session, page.tenant, key, wall_clock(), sample_offset=offset)
    if detail is None:
        raise Problem(404, "not-found", f"no cluster {key!r} in tenant {page.tenant!r}")
    series = detail.series
    markers = [
        Marker(
            change.started_at,
            f"{change.kind} {change.external_id}: {change.summary}",
            "alert" if change.kind == "alert" else "change",
        )
        for change in detail.changes_nearby
    ]
    bands = []
    if detail.escalation:
        end = detail.escalation.resolved_at or detail.summary.last_post_at
        bands.append(
            Band(
                detail.escalation.first_triggered_at,
                end,
                f"escalated ({detail.escalation.severity})",
                "incident",
            )
        )
    chart = time_chart(
        series.starts,
        series.step,
        stacked=[Line("posts", series.posts, "posts")],
        lines=[Line("distinct authors", series.distinct_authors, "authors")],
        markers=markers,
        bands=bands,
        title="Posts and distinct authors over time",
    )
    context = {
        "detail": detail,
        "cluster": detail.summary,
        "chart": chart,
        "age": humanize_age(detail.summary.onset_at, detail.summary.last_post_at),
        "mute_choices": MUTE_CHOICES,
        "categories": categories_known(page.session, page.tenant),
        "done": _DONE_WORDS.get(done or ""),
        "error": error,
        "offset": offset,
        "can_act": page.principal.can("lead"),
    }
    return page.render("cluster.html", "board", context)


@router.post("/clusters/{key}/actions/{action}", dependencies=[Depends(same_origin)])
def act_on_cluster(
    key: str,
    action: str,
    page: Annotated[Page, Depends(get_page)],
    principal: Annotated[Principal, Depends(require("lead"))],
    minutes: Annotated[int, Form()] = 0,
    target: Annotated[str | None, Form()] = None,
    post_id: Annotated[list[int] | None, Form()] = None,
    note: Annotated[str, Form()] = "",
) -> Response:
    if action not in CLUSTER_ACTIONS:
        raise Problem(404, "not-found", f"unknown action {action!r}; use one of {', '.join(CLUSTER_ACTIONS)}")
    now = wall_clock()
    try:
        record_cluster_action(
            page.session,
            page.tenant,
            key,
            action,
            principal.name,
            now,
            expires_at=now + timedelta(minutes=minutes) if action == "mute" and minutes > 0 else None,
            target_cluster_key=target or None,
            post_ids=post_id or [],
            note=note.strip(),
        )
    except ActionError as refused:
        return page.back_to(f"/clusters/{key}", error=str(refused))
    return page.back_to(f"/clusters/{key}", done=action)


@router.post("/posts/{post_id}/label", dependencies=[Depends(same_origin)])
def relabel_post(
    post_id: int,
    page: Annotated[Page, Depends(get_page)],
    principal: Annotated[Principal, Depends(require("lead"))],
    label: Annotated[str, Form()],
    back: Annotated[str, Form()] = "",
) -> Response:
    """``label`` is ``problem``, ``not_problem`` or ``category:<name>`` (one select in the form)."""
    category = None
    if label.startswith("category:"):
        label, category = "category", label.split(":", 1)[1]
    destination = f"/clusters/{back}" if back else "/"
    try:
        label_post(page.session, page.tenant, post_id, label, principal.name, wall_clock(), category=category)
    except ActionError as refused:
        return page.back_to(destination, error=str(refused))
    return page.back_to(destination, done="label")
