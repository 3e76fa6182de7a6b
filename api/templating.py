"""Jinja2 environment of the web UI, with the few filters the templates need."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from api.charts import sparkline
from api.queries.common import WINDOWS, as_utc

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def _when(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%d %b %H:%M UTC") if moment else "—"


def _query(params: dict[str, Any], **changes: Any) -> str:
    """A query string from ``params`` with ``changes`` applied; ``None`` drops a key."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, str(item)) for item in value)
        else:
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def _safe_url(url: str | None) -> str | None:
    """Links from sources are shown only when they are http(s): a ``javascript:`` URL in a post's
    metadata must never become a clickable link."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


templates.env.filters["when"] = _when
templates.env.filters["safe_url"] = _safe_url
templates.env.filters["sparkline"] = sparkline
templates.env.globals["query"] = _query
templates.env.globals["WINDOWS"] = list(WINDOWS)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render ``name`` with what every page needs (who is signed in, which tenant, the tenants)."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)
