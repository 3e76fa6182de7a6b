"""Zendesk through zenpy, faked at the wire with ``responses`` (Zendesk's JSON shapes and headers)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from pydantic import SecretStr
from responses import matchers

from tests.triage.escalation.support import incident_key, messages
from triage.escalation.base import PermanentDeliveryError, RetryableDeliveryError
from triage.escalation.settings import TargetSettings
from triage.escalation.zendesk import DRAFT_HEADING, ZendeskTarget, cluster_tag, resolution_draft

API = "https://acme.zendesk.com/api/v2"
TOKEN = "zd-token-0123456789"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def target() -> ZendeskTarget:
    return ZendeskTarget(
        TargetSettings(
            name="desk",
            kind="zendesk",
            url="https://acme.zendesk.com",
            email="agent@acme.test",
            secret=SecretStr(TOKEN),
        )
    )


def sent(number: int) -> dict[str, Any]:
    """The JSON body of the ``number``-th request zenpy made."""
    body = responses.calls[number].request.body
    return json.loads(body if isinstance(body, str | bytes) else b"{}")


def search_reply(tickets: list[dict[str, object]]) -> dict[str, object]:
    return {
        "tickets": tickets,
        "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
        "links": {"next": None, "prev": None},
    }


def audit(ticket_id: int, **fields: object) -> dict[str, object]:
    return {"ticket": {"id": ticket_id, **fields}, "audit": {"id": 1, "ticket_id": ticket_id, "events": []}}


@responses.activate
def test_a_trigger_opens_one_problem_ticket_and_links_the_member_tickets() -> None:
    trigger = messages()[0]
    responses.get(
        f"{API}/tickets.json",
        json=search_reply([]),
        match=[matchers.query_param_matcher({"external_id": trigger.dedup_key, "page[size]": "100"})],
    )
    responses.post(f"{API}/tickets.json", json=audit(501, type="problem"), status=201)
    responses.put(
        f"{API}/tickets/update_many.json",
        json={"job_status": {"id": "8b726e", "status": "queued", "total": 1, "progress": None}},
    )
    receipt = target().deliver(trigger, None, NOW)
    created = sent(1)["ticket"]
    assert created["type"] == "problem" and created["external_id"] == incident_key()
    assert created["priority"] == "normal" and cluster_tag(trigger) in created["tags"]
    assert created["comment"]["public"] is False and trigger.link in created["comment"]["body"]
    linked = sent(2)["tickets"]
    assert [ticket["id"] for ticket in linked] == trigger.zendesk_ticket_ids != []
    assert all(ticket["type"] == "incident" and ticket["problem_id"] == 501 for ticket in linked)
    assert all("signal-triage" in ticket["additional_tags"] and "tags" not in ticket for ticket in linked)
    assert "501" in receipt.detail
    assert str(responses.calls[0].request.headers["Authorization"]).startswith("Basic ")


@responses.activate
def test_a_resent_trigger_or_update_finds_the_ticket_instead_of_opening_another() -> None:
    update = messages()[1]
    responses.get(
        f"{API}/tickets.json",
        json=search_reply([{"id": 501, "type": "problem", "external_id": update.dedup_key}]),
    )
    responses.put(f"{API}/tickets/501.json", json=audit(501))
    responses.put(f"{API}/tickets/update_many.json", json={"job_status": {"id": "x", "status": "queued"}})
    target().deliver(update, None, NOW)
    assert [call.request.method for call in responses.calls] == ["GET", "PUT", "PUT"]
    note = sent(1)["ticket"]
    assert note["priority"] == "high" and "error" in note["comment"]["body"]


@responses.activate
def test_resolve_solves_the_problem_ticket() -> None:
    resolve = messages()[-1]
    responses.get(f"{API}/tickets.json", json=search_reply([{"id": 501, "type": "problem"}]))
    responses.put(f"{API}/tickets/501.json", json=audit(501, status="solved"))
    target().deliver(resolve, None, NOW)
    assert [call.request.method for call in responses.calls] == ["GET", "PUT"]
    solved = sent(1)["ticket"]
    assert solved["status"] == "solved"


@responses.activate
def test_resolve_leaves_a_public_ready_reply_draft_as_an_internal_note() -> None:
    resolve = messages()[-1]
    responses.get(f"{API}/tickets.json", json=search_reply([{"id": 501, "type": "problem"}]))
    responses.put(f"{API}/tickets/501.json", json=audit(501, status="solved"))
    target().deliver(resolve, None, NOW)
    assert responses.calls[1].request.url == f"{API}/tickets/501.json"
    comment = sent(1)["ticket"]["comment"]
    assert comment["public"] is False, "a draft: nothing reaches customers until a lead publishes it"
    body = comment["body"]
    assert body.startswith(DRAFT_HEADING)
    draft = body.split("\n")[2]
    assert draft == resolution_draft(resolve)
    assert draft.startswith(f"We have resolved the issue affecting {resolve.service}.")
    assert resolve.summary in draft and f"{resolve.onset:%Y-%m-%d %H:%M} UTC" in draft
    internal = [resolve.link, *(cause.change for cause in resolve.likely_causes), "distinct customers"]
    assert not [word for word in internal if word in draft], "the draft holds nothing internal"
    assert resolve.link in body, "the internal picture follows the draft"


@responses.activate
def test_a_429_is_handed_to_the_outbox_instead_of_zenpy_sleeping() -> None:
    responses.get(
        f"{API}/tickets.json",
        status=429,
        headers={"Retry-After": "45"},
        body="Rate limit for ticket updates exceeded, please wait before updating this ticket again",
    )
    started = time.monotonic()
    with pytest.raises(RetryableDeliveryError) as limited:
        target().deliver(messages()[0], None, NOW)
    assert limited.value.retry_after == 45.0 and time.monotonic() - started < 5
    assert len(responses.calls) == 1


@responses.activate
def test_an_invalid_ticket_is_final_and_a_server_error_is_not() -> None:
    responses.get(f"{API}/tickets.json", json=search_reply([]))
    responses.post(
        f"{API}/tickets.json",
        status=422,
        json={
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"base": [{"description": "Subject: cannot be blank"}]},
        },
    )
    with pytest.raises(PermanentDeliveryError, match="422.*cannot be blank") as invalid:
        target().deliver(messages()[0], None, NOW)
    assert TOKEN not in str(invalid.value)
    responses.replace(responses.POST, f"{API}/tickets.json", status=503, json={"error": "ServiceUnavailable"})
    with pytest.raises(RetryableDeliveryError, match="503"):
        target().deliver(messages()[0], None, NOW)
