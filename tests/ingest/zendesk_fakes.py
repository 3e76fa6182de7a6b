"""Zendesk API bodies as the API documents them, built per test (no recorded data)."""

from __future__ import annotations

from typing import Any

BASE = "https://acme.zendesk.com/api/v2"
EXPORT_URL = f"{BASE}/incremental/tickets/cursor.json"


def ticket(
    ticket_id: int,
    *,
    subject: str = "Card declined",
    description: str = "My card is declined at every shop",
    status: str = "open",
    organization_id: int | None = 3,
    requester_id: int = 5,
    updated_at: str = "2026-03-01T10:05:00Z",
) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "url": f"{BASE}/tickets/{ticket_id}.json",
        "external_id": None,
        "type": "incident",
        "subject": subject,
        "raw_subject": subject,
        "description": description,
        "priority": "high",
        "status": status,
        "recipient": None,
        "requester_id": requester_id,
        "submitter_id": requester_id,
        "assignee_id": None,
        "organization_id": organization_id,
        "group_id": None,
        "collaborator_ids": [],
        "follower_ids": [],
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": ["cards", "declined"],
        "custom_fields": [],
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": "2026-03-01T10:02:11Z",
        "updated_at": updated_at,
        "generated_timestamp": 1772359500,
    }


def export_page(tickets: list[dict[str, Any]], after: str, end_of_stream: bool) -> dict[str, Any]:
    return {
        "tickets": tickets,
        "after_url": f"{EXPORT_URL}?cursor={after}",
        "after_cursor": after,
        "before_url": None,
        "before_cursor": None,
        "end_of_stream": end_of_stream,
    }


def comments(ticket_id: int, bodies: list[tuple[str, bool]]) -> dict[str, Any]:
    return {
        "comments": [
            {
                "id": ticket_id * 100 + index,
                "type": "Comment",
                "author_id": 5,
                "body": body,
                "html_body": f"<p>{body}</p>",
                "plain_body": body,
                "public": public,
                "attachments": [],
                "audit_id": ticket_id * 1000 + index,
                "via": {"channel": "web"},
                "created_at": "2026-03-01T10:02:11Z",
                "metadata": {},
            }
            for index, (body, public) in enumerate(bodies)
        ],
        "next_page": None,
        "previous_page": None,
        "count": len(bodies),
    }
