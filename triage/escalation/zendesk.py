"""Zendesk: one problem ticket per signal, the member tickets linked to it as incidents.

The problem ticket carries ``external_id`` = the message's ``dedup_key``, so a
retried or re-sent trigger finds the ticket it already made instead of opening
a second one (Zendesk has no idempotency key for ticket creation). Triggers and
updates add an internal note with the current picture and link every member
ticket — Zendesk posts whose external id is a ticket id — with one
``update_many`` call per 100 tickets: ``type=incident``, ``problem_id``, and
tags added (``additional_tags``, which keeps the agents' own tags). Solving the
problem ticket on resolve lets Zendesk solve the linked incidents with it.
The resolving note is still internal (``public: false``) but opens with a
public-ready reply draft (:func:`resolution_draft`, in customer words, no
internal counts or causes) that a support lead can review and publish on the
problem ticket, or paste into a macro; nothing is said to customers
automatically.
``update_many`` runs as a background job in Zendesk; a member ticket that cannot
change (closed) fails there without failing the delivery.

zenpy sleeps through ``429`` responses itself; a response hook on its session
raises instead, so the outbox worker's retry and ``Retry-After`` handling apply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, ZenpyException

from triage.errors import ConfigurationError
from triage.escalation.base import (
    RETRYABLE_STATUSES,
    DeliveryReceipt,
    EscalationTarget,
    PermanentDeliveryError,
    RetryableDeliveryError,
    parse_retry_after,
    shorten,
)
from triage.escalation.message import ImpactMessage
from triage.escalation.settings import TargetSettings

_PRIORITY = {"critical": "urgent", "error": "high", "warning": "normal", "info": "low"}
_UPDATE_MANY_LIMIT = 100
TAG = "signal-triage"


class _Throttled(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__("429")
        self.response = response


def _raise_on_429(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.status_code == 429:
        raise _Throttled(response)


def cluster_tag(message: ImpactMessage) -> str:
    """A tag naming the signal, so agents can find every ticket of one problem."""
    return "st-" + "".join(char if char.isalnum() else "-" for char in message.dedup_key.lower())[:60]


def note(message: ImpactMessage) -> str:
    lines = [
        message.headline,
        f"Severity {message.severity}; since {message.onset:%Y-%m-%d %H:%M} UTC; "
        f"{message.distinct_authors} distinct customers, {message.posts} posts.",
        f"Why: {message.detail}",
    ]
    if message.sentiment:
        lines.append(
            "Sentiment: " + ", ".join(f"{label} {count}" for label, count in message.sentiment.items())
        )
    for cause in message.likely_causes:
        lines.append(f"Likely cause {cause.change} (score {cause.score:.2f}): {'; '.join(cause.reasons)}")
    lines += [f"- [{sample.source}] {sample.text}" for sample in message.samples]
    lines.append(f"Cluster page: {message.link}")
    return "\n".join(lines)


#: the first line of the resolving note, above the draft a support lead may publish
DRAFT_HEADING = "Draft public reply (review, then publish or apply as a macro):"


def resolution_draft(message: ImpactMessage) -> str:
    """A customer-facing reply announcing the resolution: service, what people saw, since when."""
    service = message.service or "our service"
    return (
        f"We have resolved the issue affecting {service}. "
        f"Since {message.onset:%Y-%m-%d %H:%M} UTC some customers were affected by: {message.summary}. "
        f"Everything should work normally again as of {message.decided_at:%Y-%m-%d %H:%M} UTC. "
        "We are sorry for the inconvenience; if you still see a problem, reply to this message "
        "and we will look into it."
    )


def resolution_note(message: ImpactMessage) -> str:
    """The internal note solving the problem ticket: the draft first, then the usual picture."""
    return "\n".join([DRAFT_HEADING, "", resolution_draft(message), "", "---", note(message)])


class ZendeskTarget(EscalationTarget):
    kind = "zendesk"

    def __init__(self, config: TargetSettings, session: requests.Session | None = None) -> None:
        super().__init__(config)
        host = urlparse(config.url or "").hostname or ""
        subdomain, _, domain = host.partition(".")
        if not subdomain or not domain:
            raise ConfigurationError(
                f"zendesk target {config.name!r}: url must look like https://<subdomain>.zendesk.com"
            )
        assert config.secret is not None  # checked by TargetSettings
        session = session or requests.Session()
        session.hooks["response"].append(_raise_on_429)
        self.client = Zenpy(
            subdomain=subdomain,
            domain=domain,
            email=config.email,
            token=config.secret.get_secret_value(),
            session=session,
            timeout=config.timeout_seconds,
            disable_cache=True,
        )

    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        what = f"zendesk {self.name}"
        try:
            return self._deliver(message)
        except _Throttled as throttled:
            retry_after = parse_retry_after(throttled.response.headers.get("Retry-After"), now)
            raise RetryableDeliveryError(f"{what} answered 429 (rate limited)", 429, retry_after) from None
        except APIException as error:
            response = getattr(error, "response", None)
            status = response.status_code if response is not None else None
            detail = f"{what} answered {status}: {shorten(str(error), 500)}"
            if status is None or status in RETRYABLE_STATUSES:
                raise RetryableDeliveryError(detail, status) from None
            raise PermanentDeliveryError(detail, status) from None
        except requests.HTTPError as error:  # zenpy's fallback for error bodies that are not JSON
            status = error.response.status_code if error.response is not None else None
            detail = f"{what} answered {status}"
            if status is None or status in RETRYABLE_STATUSES:
                raise RetryableDeliveryError(detail, status) from None
            raise PermanentDeliveryError(detail, status) from None
        except requests.RequestException as error:
            raise RetryableDeliveryError(f"{what} unreachable ({type(error).__name__})") from None
        except ZenpyException as error:
            raise PermanentDeliveryError(f"{what}: {shorten(str(error), 300)}") from None

    def find_problem(self, message: ImpactMessage) -> Ticket | None:
        for ticket in self.client.tickets(external_id=message.dedup_key):
            return ticket
        return None

    def _deliver(self, message: ImpactMessage) -> DeliveryReceipt:
        problem = self.find_problem(message)
        comment = Comment(body=note(message), public=False)
        if message.action == "resolve":
            if problem is None:
                return DeliveryReceipt(200, "no problem ticket to solve")
            draft = Comment(body=resolution_note(message), public=False)
            self.client.tickets.update(Ticket(id=problem.id, status="solved", comment=draft))
            return DeliveryReceipt(200, f"solved problem ticket {problem.id}")
        tags = [TAG, cluster_tag(message)]
        if problem is None:
            audit = self.client.tickets.create(
                Ticket(
                    subject=shorten(message.headline, 250),
                    comment=comment,
                    type="problem",
                    priority=_PRIORITY.get(message.severity, "normal"),
                    tags=tags,
                    external_id=message.dedup_key,
                )
            )
            problem_id = audit.ticket.id
        else:
            problem_id = problem.id
            self.client.tickets.update(
                Ticket(id=problem_id, comment=comment, priority=_PRIORITY.get(message.severity, "normal"))
            )
        members = [ticket_id for ticket_id in message.zendesk_ticket_ids if ticket_id != problem_id]
        for start in range(0, len(members), _UPDATE_MANY_LIMIT):
            chunk = members[start : start + _UPDATE_MANY_LIMIT]
            self.client.tickets.update(
                [
                    Ticket(id=ticket_id, type="incident", problem_id=problem_id, additional_tags=tags)
                    for ticket_id in chunk
                ]
            )
        return DeliveryReceipt(200, f"problem ticket {problem_id}, {len(members)} incidents linked")
