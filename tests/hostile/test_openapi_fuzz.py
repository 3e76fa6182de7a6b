"""schemathesis against the app's own OpenAPI document: every /v1 operation, with generated valid
and invalid requests, in local open mode, with an admin key and with no key at all.

Checks: no 5xx (``not_a_server_error``) and every response matches the schema its operation documents
for that status (``response_schema_conformance``; errors are documented as problem details). The app
runs in-process over ASGI on a SQLite database filled with a small incident day.
``OPENAPI_FUZZ_EXAMPLES`` sets the examples per operation and mode (default 6).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from tests.api.factories import build_incident_day
from triage.access.settings import ApiKey, ApiSettings
from triage.settings import Settings
from triage.sources_settings import SourcesSettings, WebhookSettings
from triage.storage.database import transaction

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("OPENAPI_FUZZ_EXAMPLES", "6"))
ADMIN_KEY = "fuzz-admin-key"
MODES = ("open", "admin-key", "no-key")


@pytest.fixture(scope="module", params=MODES)
def fuzzed_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, FastAPI]]:
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    keys = [] if request.param == "open" else [ApiKey(name="fuzzer", key=SecretStr(ADMIN_KEY), role="admin")]
    app = create_app(
        Settings(
            data_dir=root,
            database_url=f"sqlite:///{(root / 'fuzz.db').as_posix()}",
            sources=SourcesSettings(webhooks=WebhookSettings(generic_token=SecretStr("fuzz-feed-token"))),
            api=ApiSettings(keys=keys, intake_rate_per_second=1e6, intake_burst=1_000_000),
        )
    )
    with transaction(app.state.sessions) as session:
        build_incident_day(session)
    yield request.param, app
    app.state.engine.dispose()


def operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # /v1/events/board is a never-ending event stream
    skipped = {"/v1/events/board"}
    return [
        operation
        for operation in found
        if operation.path.startswith("/v1/") and operation.path not in skipped
    ]


def test_every_v1_operation_answers_without_5xx_and_as_documented(fuzzed_app: tuple[str, FastAPI]) -> None:
    mode, app = fuzzed_app
    headers = {"X-API-Key": ADMIN_KEY} if mode == "admin-key" else {}
    found = operations(app)
    assert len(found) >= 15, [operation.path for operation in found]
    failures: list[str] = []
    for operation in found:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as error:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:1500]}")
    assert not failures, "\n\n".join(failures)
