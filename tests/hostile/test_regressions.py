"""One test per defect the hostile-input and fault tests found, each on the smallest input that showed it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from ingest.errors import InvalidRecordError
from ingest.feeds.registry import FEEDS
from ingest.feeds.service_map import ServiceMap
from ingest.records import ChangeEvent, Post, storable_text
from ingest.sources.replay_file import ReplayFileSource
from tests.api.factories import build_incident_day
from triage.errors import StorageError
from triage.settings import Settings
from triage.storage.database import (
    _storage_error_listener,
    _unwritable_reason,
    create_db_engine,
    migrate,
    transaction,
)


@pytest.fixture
def api(tmp_path: Path) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{(tmp_path / 'r.db').as_posix()}"))
    with transaction(app.state.sessions) as session:
        build_incident_day(session)
    return TestClient(app, raise_server_exceptions=False)


def post(**fields: Any) -> dict[str, Any]:
    return {
        "source": "s",
        "id": "1",
        "author": "a",
        "text": "t",
        "created_at": "2026-03-01T10:00:00Z",
        **fields,
    }


# -- records ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_time_with_no_utc_equivalent_is_a_validation_error_not_an_overflow(moment: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Post.model_validate(post(created_at=moment) | {"external_id": "1", "author_key": "a"})


def test_nul_and_unpaired_surrogates_are_cleaned_everywhere_in_a_record() -> None:
    record = Post.model_validate(
        {
            "source": "s",
            "external_id": "i\x00d",
            "author_key": "a",
            "text": "card\x00 declined \ud800 again 😀",
            "created_at": "2026-03-01T10:00:00Z",
            "meta": {"k\udfff": ["\x00x", {"y": "\ud83d"}]},
        }
    )
    assert record.external_id == "id" and record.text == "card declined \ufffd again 😀"
    assert record.meta == {"k\ufffd": ["x", {"y": "\ufffd"}]}
    json.dumps(record.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    change = ChangeEvent.model_validate(
        {
            "external_id": "c",
            "kind": "deploy",
            "summary": "\x00v2\udc00",
            "started_at": "2026-03-01T10:00:00Z",
        }
    )
    assert change.summary == "v2\ufffd"
    assert storable_text("right-to-left \u202e ok") == "right-to-left \u202e ok"


def test_a_text_of_only_nul_is_refused_as_empty() -> None:
    with pytest.raises(ValueError):
        Post.model_validate(post(text="\x00\x00") | {"external_id": "1", "author_key": "a"})


def test_intake_of_a_post_with_an_overflowing_time_is_422(api: TestClient) -> None:
    response = api.post("/v1/posts", json=[post(created_at="9999-12-31T23:59:59-05:00")])
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/0/created_at"


# -- the replay file --------------------------------------------------------------------------------


def test_a_line_that_is_not_utf8_is_skipped_and_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = json.dumps({"type": "post", **post(id="ok")}).encode()
    path.write_bytes(
        b"\xef\xbb\xbf" + good + b"\n\xff\xfe not utf-8\n" + good.replace(b'"ok"', b'"ok2"') + b"\n"
    )
    batches = list(ReplayFileSource(path, skip_invalid=True).read({"line": 0}))
    assert [p.external_id for b in batches for p in b.posts] == ["ok", "ok2"], (
        "a BOM on line 1 is not an error"
    )
    (skipped,) = [error for batch in batches for error in batch.skipped]
    assert skipped.location.endswith(":2") and "UTF-8" in skipped.reason
    with pytest.raises(InvalidRecordError, match="UTF-8"):
        list(ReplayFileSource(path).read({"line": 0}))


# -- the webhook parsers ----------------------------------------------------------------------------

WRONG_SHAPES: list[tuple[str, Any]] = [
    ("alertmanager", {"alerts": [{"startsAt": "2026-03-01T10:00:00Z", "annotations": ["x"]}]}),
    ("alertmanager", {"alerts": [{"startsAt": "2026-03-01T10:00:00Z", "status": "resolved", "endsAt": 5}]}),
    ("alertmanager", {"alerts": [], "commonLabels": [1]}),
    ("alertmanager", {"alerts": [{"startsAt": "2026-03-01T10:00:00Z", "labels": "job"}]}),
    ("github", {"deployment_status": {"state": ["success"]}}),
    (
        "github",
        {
            "deployment_status": {"state": "success", "created_at": "2026-03-01T10:00:00Z"},
            "deployment": {"id": 1, "sha": 1234567},
            "repository": {"full_name": ["acme/x"]},
        },
    ),
    ("pagerduty", {"payload": {"summary": True, "timestamp": "2026-03-01T10:00:00Z"}}),
    (
        "pagerduty",
        {"payload": {"summary": "s", "timestamp": "2026-03-01T10:00:00Z", "custom_details": {"kind": []}}},
    ),
    ("pagerduty", {"payload": {"summary": "s", "timestamp": "2026-03-01T10:00:00Z"}, "links": {"0": 1}}),
    ("pagerduty", {"payload": {"summary": "s", "timestamp": "2026-03-01T10:00:00Z"}, "links": True}),
    ("generic", {"kind": "deploy", "created_at": "2026-03-01T10:00:00Z", "repository": ["acme/x"]}),
]


@pytest.mark.parametrize("kind,body", WRONG_SHAPES)
def test_a_field_of_the_wrong_type_is_a_record_error_or_ignored_never_a_crash(kind: str, body: Any) -> None:
    feed = FEEDS[kind](ServiceMap(), None)
    try:
        feed.receive(json.dumps(body).encode(), {"x-github-event": "deployment_status"})
    except InvalidRecordError as error:
        assert error.reason


# -- the API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/v1/posts/99999999999999999999", None),
        ("get", "/v1/posts?offset=99999999999999999999", None),
        ("get", "/v1/actions?offset=99999999999999999999", None),
        ("get", "/v1/escalations?offset=99999999999999999999", None),
        ("post", "/v1/posts/99999999999999999999/labels", {"label": "problem"}),
        ("post", "/v1/clusters/k-login/actions", {"action": "mute", "expires_in_minutes": 1e300}),
    ],
)
def test_numbers_too_large_for_dates_or_database_integers_are_422(
    api: TestClient, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_database_that_cannot_be_written_is_503_problem_not_500(tmp_path: Path, api: TestClient) -> None:
    def full(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("cannot write to the database sqlite:///x: the disk is full")

    import api.routes.intake as intake

    original = intake.receive_posts
    intake.receive_posts = full  # type: ignore[assignment]
    try:
        response = api.post("/v1/posts", json=[post()])
    finally:
        intake.receive_posts = original  # type: ignore[assignment]
    assert response.status_code == 503 and response.json()["type"].endswith("/storage-unavailable")
    assert response.headers["retry-after"] == "60"


def test_only_errors_that_mean_storage_is_unusable_become_storage_errors(tmp_path: Path) -> None:
    def sqlite_error(name: str) -> sqlite3.OperationalError:
        error = sqlite3.OperationalError(name)
        error.sqlite_errorname = name  # type: ignore[attr-defined]
        return error

    assert _unwritable_reason(sqlite_error("SQLITE_FULL")) == "the disk is full"
    assert _unwritable_reason(sqlite_error("SQLITE_READONLY_DBMOVED")) == "the database is read-only"
    assert _unwritable_reason(sqlite_error("SQLITE_IOERR_WRITE")) is not None
    assert _unwritable_reason(sqlite_error("SQLITE_BUSY")) is None, "a lock is retried, not fatal"
    assert _unwritable_reason(sqlite_error("SQLITE_CONSTRAINT_UNIQUE")) is None

    class PgError(Exception):
        sqlstate = "53100"

    assert _unwritable_reason(PgError()) == "the server is out of disk or memory"
    PgError.sqlstate = "23505"
    assert _unwritable_reason(PgError()) is None


def test_a_read_only_sqlite_database_raises_one_storage_error(tmp_path: Path) -> None:
    database = tmp_path / "ro.db"
    engine = create_db_engine(f"sqlite:///{database.as_posix()}")
    migrate(engine)
    engine.dispose()
    read_only = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{database.as_posix()}?mode=ro", uri=True)
    )
    _storage_error_listener(read_only)
    with (
        pytest.raises(StorageError, match="cannot write to the database.*read-only"),
        read_only.begin() as connection,
    ):
        connection.execute(
            text("INSERT INTO sources (tenant, name, kind, cursor) VALUES ('t', 'n', 'k', '{}')")
        )
    read_only.dispose()


def test_a_sqlite_uri_makes_no_folder_named_after_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "uri.db"
    engine = create_db_engine(f"sqlite:///{database.as_posix()}")
    migrate(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    read_only = create_db_engine(f"sqlite:///file:{database.as_posix()}?mode=ro&uri=true")
    with read_only.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM posts")).scalar() == 0
    read_only.dispose()
    assert not (tmp_path / "file:").exists()


def test_the_openapi_document_describes_errors_as_the_problem_details_they_are(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert responses["default"]["content"] == problem, (method, path)
            for status, response in responses.items():
                if status[0] in "45":
                    assert response["content"] == problem, (method, path, status)
    invalid = api.get("/v1/clusters", params={"limit": 0})
    assert invalid.status_code == 422 and invalid.headers["content-type"] == "application/problem+json"
    assert set(document["components"]["schemas"]["Problem"]["required"]) <= set(invalid.json())


def test_a_tenant_outside_latin_1_still_gets_its_labels_export(api: TestClient) -> None:
    """The tenant went into the download's file name, and headers are Latin-1: a 500 before."""
    response = api.get("/v1/labels/export", params={"tenant": "Āpfel-东京"})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert 'filename="labels-' in disposition
    assert "filename*=UTF-8''labels-%C4%80pfel-%E4%B8%9C%E4%BA%AC.csv" in disposition
