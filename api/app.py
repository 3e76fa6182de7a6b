"""The FastAPI application: REST API under /v1, webhooks in, and the web UI.

Routers live one per resource in ``api/routes/``; each module there exposes
``router`` and is listed in ``ROUTERS`` below.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.limits import BodyLimitMiddleware
from api.problems import document_problems, register_problem_handlers
from api.security import SecurityHeadersMiddleware
from api.sessions import random_secret
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory

#: modules of api/routes that expose ``router``; a module not present yet is skipped
ROUTERS: tuple[str, ...] = (
    "health",
    "intake",
    "changes",
    "clusters",
    "posts",
    "escalations",
    "actions",
    "labels",
    "sources",
    "ui",
    "cluster_page",
    "sentiment",
    "sources_page",
    "live",
)

STATIC_DIR = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    app = FastAPI(
        title="signal-triage", version="0.1.0", description="Customer-impact signals from X and Zendesk."
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    api_settings = getattr(settings, "api", None)
    if api_settings is None or api_settings.session_secret is None:
        # no configured secret: a random one for this process, so UI sessions end on restart
        app.state.session_secret = random_secret()
    register_problem_handlers(app)
    document_problems(app)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for name in ROUTERS:
        try:
            module = importlib.import_module(f"api.routes.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"api.routes.{name}":
                raise
            continue
        app.include_router(module.router)
    return app
