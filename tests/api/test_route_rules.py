"""Every route of the app has an authentication rule, and keeps it: no key is 401, a key whose
role the rule does not admit is 403, a key it admits gets through.

``ROUTE_RULES`` is the list of record. A new route without an entry fails
``test_every_route_has_a_rule``; then add it here with the least role that may use it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Mount

from api.app import create_app
from tests.api.factories import build_incident_day
from triage.access.settings import ADMITTED_ROLES, ROLES, ApiKey, ApiSettings
from triage.settings import Settings
from triage.storage.database import transaction

#: no key needed: the sign-in pages, static files, liveness, and the API's own description
PUBLIC = "public"
#: authenticated by the sender's webhook signature or token, which an API key does not replace
SIGNED = "signed"

#: (method, path) → the rule: PUBLIC, SIGNED, or the least role that may call it
ROUTE_RULES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/v1/health"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/logout"): PUBLIC,
    ("POST", "/v1/changes/{kind}"): SIGNED,
    ("POST", "/v1/posts"): "ingest",
    ("GET", "/v1/changes"): "viewer",
    ("GET", "/v1/clusters"): "viewer",
    ("GET", "/v1/clusters/{key}"): "viewer",
    ("GET", "/v1/posts"): "viewer",
    ("GET", "/v1/posts/{post_id}"): "viewer",
    ("GET", "/v1/escalations"): "viewer",
    ("GET", "/v1/escalations/{dedup_key}"): "viewer",
    ("GET", "/v1/actions"): "viewer",
    ("GET", "/v1/constraints"): "viewer",
    ("GET", "/v1/labels"): "viewer",
    ("GET", "/v1/labels/export"): "viewer",
    ("GET", "/v1/sources"): "viewer",
    ("GET", "/v1/models"): "viewer",
    ("GET", "/"): "viewer",
    ("GET", "/board/rows"): "viewer",
    ("GET", "/clusters/{key}"): "viewer",
    ("GET", "/sentiment"): "viewer",
    ("GET", "/sources"): "viewer",
    ("GET", "/events/board"): "viewer",
    ("POST", "/v1/clusters/{key}/actions"): "lead",
    ("POST", "/v1/posts/{post_id}/labels"): "lead",
    ("POST", "/clusters/{key}/actions/{action}"): "lead",
    ("POST", "/posts/{post_id}/label"): "lead",
}

#: values for path parameters, so a request reaches its route
PATH_VALUES = {
    "{key}": "k-login",
    "{post_id}": "1",
    "{kind}": "github",
    "{dedup_key}": "acme:k-login",
    "{action}": "confirm",
}
#: a path under a mount (it has no route of its own) and query a route needs to finish
CONCRETE = {"/static": "/static/app.css", "/events/board": "/events/board?max_events=1"}
KEY_OF_ROLE = {role: f"{role}-key" for role in ROLES}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers. ``app.routes`` holds included routers as one entry
    each (FastAPI ≥ 0.16x), so they are flattened with ``iter_route_contexts``."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        assert context.path is not None, f"a route without a path: {context.route!r}"
        if isinstance(context.original_route, Mount):
            found.add(("GET", context.path))
            continue
        found.update((method, context.path) for method in context.methods or () if method != "HEAD")
    return found


def concrete_path(path: str) -> str:
    path = CONCRETE.get(path, path)
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    assert "{" not in path, f"no value for a path parameter of {path}: add it to PATH_VALUES"
    return path


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app with one configured key per role."""
    folder = tmp_path_factory.mktemp("rules")
    keys = [
        ApiKey.model_validate({"name": f"{role}-person", "key": SecretStr(key), "role": role})
        for role, key in KEY_OF_ROLE.items()
    ]
    settings = Settings(
        data_dir=folder,
        database_url=f"sqlite:///{(folder / 'rules.db').as_posix()}",
        api=ApiSettings(keys=keys),
    )
    app = create_app(settings)
    with transaction(app.state.sessions) as session:
        build_incident_day(session)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def call(client: TestClient, method: str, path: str, key: str | None) -> int:
    headers = {"X-API-Key": key} if key else {}
    return client.request(method, concrete_path(path), headers=headers, follow_redirects=False).status_code


def test_every_route_has_a_rule(keyed: TestClient) -> None:
    routes = app_routes(keyed.app)  # type: ignore[arg-type]
    missing = sorted(routes - ROUTE_RULES.keys())
    assert not missing, f"routes with no auth rule (add them to ROUTE_RULES): {missing}"
    stale = sorted(ROUTE_RULES.keys() - routes)
    assert not stale, f"rules for routes that no longer exist (remove them): {stale}"


@pytest.mark.parametrize(("method", "path"), sorted(ROUTE_RULES), ids=lambda value: str(value))
def test_route_enforces_its_rule(keyed: TestClient, method: str, path: str) -> None:
    rule = ROUTE_RULES[(method, path)]
    anonymous = call(keyed, method, path, None)
    if rule == PUBLIC:
        assert anonymous not in (401, 403), f"{method} {path} is public but answered {anonymous}"
        return
    if rule == SIGNED:
        assert anonymous in (401, 403), f"{method} {path} took an unsigned delivery ({anonymous})"
        signed_only = call(keyed, method, path, KEY_OF_ROLE["admin"])
        assert signed_only in (401, 403), f"an API key replaced the signature on {method} {path}"
        return
    assert anonymous == 401, f"{method} {path} without a key answered {anonymous}"
    assert call(keyed, method, path, "no-such-key") == 401, f"{method} {path} took an unknown key"
    for role, key in KEY_OF_ROLE.items():
        status = call(keyed, method, path, key)
        if role in ADMITTED_ROLES[rule]:
            assert status not in (401, 403), f"{method} {path} refused a {role} key ({status})"
        else:
            assert status == 403, f"{method} {path} let a {role} key through ({status}); it needs {rule}"
