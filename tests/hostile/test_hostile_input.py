"""Property tests: hostile input to the replay parser, the intake endpoint and the webhook parsers.

Random and malformed JSON, huge fields, wrong types, unicode edge cases (NUL, unpaired surrogates,
right-to-left marks, emoji), duplicate ids and out-of-order or out-of-range times. The answer is
always a record, a skipped-and-reported line, or a 4xx in problem details: never a 500, never an
exception the caller did not sign up for. What is accepted can be stored and read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ingest.errors import InvalidRecordError
from ingest.feeds.base import FeedDelivery
from ingest.feeds.registry import FEEDS
from ingest.feeds.service_map import ServiceMap, ServiceRule
from ingest.sources.http_intake import parse_intake
from ingest.sources.replay_file import ReplayFileSource
from tests.hostile.strategies import (
    json_values,
    nasty_text,
    post_objects,
    replay_lines,
    timestamps,
    to_json,
)
from triage.access.settings import ApiSettings
from triage.settings import Settings
from triage.sources_settings import SourcesSettings, WebhookSettings

EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module (SQLite): what is accepted is really stored, duplicates and all."""
    root = tmp_path_factory.mktemp("hostile")
    app = create_app(
        Settings(
            data_dir=root,
            database_url=f"sqlite:///{(root / 'hostile.db').as_posix()}",
            sources=SourcesSettings(
                intake_max_body_bytes=2_000_000, webhooks=WebhookSettings(allow_unauthenticated=True)
            ),
            api=ApiSettings(intake_rate_per_second=1e6, intake_burst=1_000_000),
        )
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def assert_problem_or_ok(response: Any, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
        problem = response.json()
        assert problem["status"] == response.status_code and problem["detail"]


# -- the replay parser -----------------------------------------------------------------------------


@EXAMPLES
@given(lines=st.lists(replay_lines, max_size=12))
def test_replay_parser_skips_and_reports_every_bad_line_and_never_crashes(
    tmp_path: Path, lines: list[bytes]
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    batches = list(ReplayFileSource(path, skip_invalid=True, batch_lines=5).read({"line": 0}))

    records = sum(batch.record_count for batch in batches)
    skipped = [error for batch in batches for error in batch.skipped]
    blank = sum(1 for line in lines if not line.strip(b" \t\x0c\x0b"))
    assert records + len(skipped) + blank >= len(lines) - blank, (
        "a line vanished without a record or a report"
    )
    assert records + len(skipped) <= len(lines)
    for error in skipped:
        assert isinstance(error, InvalidRecordError) and error.location.startswith(f"{path}:")
    for batch in batches:
        for post in batch.posts:
            post.text.encode("utf-8")  # storable: no unpaired surrogate left
            assert "\x00" not in post.text


@EXAMPLES
@given(lines=st.lists(replay_lines, min_size=1, max_size=8))
def test_replay_parser_without_skipping_raises_only_invalid_record_errors(
    tmp_path: Path, lines: list[bytes]
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        list(ReplayFileSource(path).read({"line": 0}))
    except InvalidRecordError as error:
        line = int(error.location.rsplit(":", 1)[1])
        assert 1 <= line <= len(lines)


# -- the intake endpoint ---------------------------------------------------------------------------


@EXAMPLES
@given(
    body=st.one_of(
        json_values,
        st.lists(post_objects(with_type=False), max_size=6),
        st.lists(post_objects(), max_size=6).map(lambda posts: {"posts": posts}),
    )
)
def test_intake_answers_200_or_a_4xx_problem_for_any_json(api: TestClient, body: Any) -> None:
    response = api.post("/v1/posts", content=to_json(body), headers={"content-type": "application/json"})
    assert_problem_or_ok(response, {200, 413, 422})
    if response.status_code == 200:
        receipt = response.json()
        assert receipt["stored"] + receipt["duplicates"] == receipt["received"]


@EXAMPLES
@given(raw=st.binary(max_size=200))
def test_intake_answers_a_4xx_problem_for_any_bytes(api: TestClient, raw: bytes) -> None:
    response = api.post("/v1/posts", content=raw, headers={"content-type": "application/json"})
    assert_problem_or_ok(response, {200, 400, 413, 422})


@EXAMPLES
@given(text=nasty_text, created_at=timestamps)
def test_whatever_the_intake_accepts_reads_back_the_same(api: TestClient, text: Any, created_at: Any) -> None:
    item = {
        "source": "hostile",
        "id": f"x{abs(hash((text, str(created_at))))}",
        "author": "a",
        "text": text,
        "created_at": created_at,
    }
    response = api.post("/v1/posts", content=to_json([item]), headers={"content-type": "application/json"})
    assert_problem_or_ok(response, {200, 422})
    if response.status_code == 200:
        posts, problems = parse_intake([item], max_posts=1)
        assert not problems
        listed = api.get("/v1/posts", params={"tenant": "default", "limit": 500})
        assert listed.status_code == 200


def test_duplicate_ids_in_one_batch_and_out_of_order_times_store_once(api: TestClient) -> None:
    items = [
        {"source": "dup", "id": "same", "author": "a", "text": "late", "created_at": "2026-03-01T12:00:00Z"},
        {"source": "dup", "id": "same", "author": "b", "text": "early", "created_at": "2026-03-01T08:00:00Z"},
        {
            "source": "dup",
            "id": "other",
            "author": "c",
            "text": "middle",
            "created_at": "2026-03-01T10:00:00Z",
        },
    ]
    first = api.post("/v1/posts", json=items).json()
    again = api.post("/v1/posts", json=list(reversed(items))).json()
    assert first == {"received": 3, "stored": 2, "duplicates": 1}
    assert again == {"received": 3, "stored": 0, "duplicates": 3}


# -- the webhook parsers ---------------------------------------------------------------------------

SERVICES = ServiceMap(
    (
        ServiceRule(
            "checkout",
            repositories=("acme/checkout",),
            alert_labels=(("job", "checkout"),),
            keywords=("cart",),
        ),
    )
)


def shaped_bodies(kind: str) -> st.SearchStrategy[Any]:
    """Bodies with the feed's own top-level shape and random content, so parsing goes deep."""
    if kind == "github":
        return st.fixed_dictionaries(
            {},
            optional={
                "deployment_status": json_values
                | st.fixed_dictionaries(
                    {},
                    optional={
                        "id": json_values,
                        "state": st.sampled_from(["success", "error", "pending"]) | json_values,
                        "created_at": timestamps,
                        "environment": json_values,
                        "log_url": json_values,
                        "description": json_values,
                    },
                ),
                "deployment": json_values
                | st.fixed_dictionaries(
                    {},
                    optional={
                        "id": json_values,
                        "ref": json_values,
                        "sha": json_values,
                        "environment": json_values,
                        "description": json_values,
                    },
                ),
                "repository": json_values
                | st.fixed_dictionaries({}, optional={"full_name": json_values, "html_url": json_values}),
            },
        )
    if kind == "alertmanager":
        alert = st.fixed_dictionaries(
            {},
            optional={
                "labels": json_values,
                "annotations": json_values,
                "startsAt": timestamps,
                "endsAt": timestamps | json_values,
                "status": st.sampled_from(["firing", "resolved"]) | json_values,
                "fingerprint": json_values,
                "generatorURL": json_values,
            },
        )
        return st.fixed_dictionaries(
            {},
            optional={
                "alerts": st.lists(alert | json_values, max_size=3) | json_values,
                "commonLabels": json_values,
                "externalURL": json_values,
            },
        )
    if kind == "pagerduty":
        payload = st.fixed_dictionaries(
            {},
            optional={
                "summary": json_values,
                "timestamp": timestamps,
                "source": json_values,
                "custom_details": json_values
                | st.fixed_dictionaries(
                    {}, optional={"kind": json_values, "service": json_values, "repository": json_values}
                ),
            },
        )
        return st.fixed_dictionaries(
            {},
            optional={
                "payload": payload | json_values,
                "links": json_values
                | st.lists(
                    st.fixed_dictionaries({}, optional={"href": json_values}) | json_values, max_size=2
                ),
                "routing_key": json_values,
            },
        )
    item = st.fixed_dictionaries(
        {},
        optional={
            "id": json_values,
            "kind": json_values | st.sampled_from(["deploy", "flag"]),
            "summary": json_values,
            "created_at": timestamps,
            "started_at": timestamps,
            "ended_at": timestamps,
            "url": json_values,
            "service": json_values,
            "repository": json_values,
            "labels": json_values,
            "source": json_values,
        },
    )
    return item | st.lists(item, max_size=3)


def headers_for(kind: str) -> st.SearchStrategy[dict[str, str]]:
    if kind == "github":
        return st.sampled_from(["deployment_status", "ping", "push"]).map(
            lambda event: {"x-github-event": event}
        )
    return st.just({})


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_webhook_parsers_return_changes_or_an_invalid_record_error(kind: str) -> None:
    @EXAMPLES
    @given(body=st.one_of(json_values, shaped_bodies(kind)), headers=headers_for(kind))
    def check(body: Any, headers: dict[str, str]) -> None:
        feed = FEEDS[kind](SERVICES, None)
        try:
            delivery = feed.receive(to_json(body), headers)
        except InvalidRecordError as error:
            assert error.reason
            return
        assert isinstance(delivery, FeedDelivery)
        for change in delivery.changes:
            change.summary.encode("utf-8")
            assert change.external_id and len(change.external_id) <= 200

    check()


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_change_endpoint_answers_200_or_a_4xx_problem(api: TestClient, kind: str) -> None:
    @EXAMPLES
    @given(body=st.one_of(json_values, shaped_bodies(kind)), headers=headers_for(kind))
    def check(body: Any, headers: dict[str, str]) -> None:
        response = api.post(
            f"/v1/changes/{kind}",
            content=to_json(body),
            headers={"content-type": "application/json", **headers},
        )
        assert_problem_or_ok(response, {200, 413, 422})

    check()


def test_malformed_json_to_a_feed_is_422(api: TestClient) -> None:
    response = api.post(
        "/v1/changes/generic", content=b'{"id": ', headers={"content-type": "application/json"}
    )
    assert_problem_or_ok(response, {422})
    assert json.loads(response.text)["type"].endswith("/invalid-change")
