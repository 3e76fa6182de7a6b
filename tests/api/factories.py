"""Builders for a small, believable tenant: two services, clusters in every state, an escalation
with ranked causes, change events and analysed posts. All text is written here for the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from triage.storage.models import (
    AnalysisRow,
    ChangeEventRow,
    ClusterMemberRow,
    ClusterRow,
    EscalationRow,
    PostRow,
    ServiceRow,
    SourceRow,
)

TENANT = "acme"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
_EMBEDDING = np.zeros(384, dtype=np.float32).tobytes()

_LOGIN_COMPLAINTS = [
    "cannot log in to the app, it keeps spinning",
    "login page says session expired every time I try",
    "app will not let me sign in since this morning",
    "stuck on the sign in screen again",
    "two factor code never arrives so I cannot log in",
    "sign in broken on android for me",
]
_PAYMENT_COMPLAINTS = [
    "my payment was declined twice at the checkout",
    "checkout fails with an error after I enter my card",
    "card payment refused but the money left my account",
    "cannot pay for my order, the button does nothing",
]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Builder:
    """Adds rows to one tenant, numbering posts and authors so every row is distinct."""

    session: Session
    tenant: str = TENANT
    post_number: int = 0
    posts: dict[str, PostRow] = field(default_factory=dict)

    def service(self, name: str, description: str) -> ServiceRow:
        row = ServiceRow(tenant=self.tenant, name=name, description=description, keywords=[])
        self.session.add(row)
        return row

    def post(
        self,
        text: str,
        minutes: float,
        *,
        author: str | None = None,
        sentiment: str = "negative",
        problem: float = 0.9,
        category: str | None = "access",
        source: str = "twitter",
        shares: int | None = None,
    ) -> PostRow:
        self.post_number += 1
        external_id = f"{source[0]}{self.post_number}"
        meta = {"public_metrics": {"retweet_count": shares, "quote_count": 0}} if shares is not None else {}
        row = PostRow(
            tenant=self.tenant,
            source=source,
            external_id=external_id,
            author_key=author or f"person{self.post_number}",
            text=text,
            lang="en",
            url=f"https://example.test/{source}/{external_id}",
            created_at=at(minutes),
            meta=meta,
        )
        self.session.add(row)
        self.session.flush()
        self.session.add(
            AnalysisRow(
                post_id=row.id,
                model_version="test-v1",
                problem_probability=problem,
                category=category,
                sentiment=sentiment,
                sentiment_scores={sentiment: 0.9},
                language="en",
                embedding=_EMBEDDING,
            )
        )
        self.posts[external_id] = row
        return row

    def cluster(
        self, key: str, label: str, service: str | None, state: str, members: list[PostRow]
    ) -> ClusterRow:
        row = ClusterRow(
            tenant=self.tenant,
            key=key,
            label=label,
            representative_post_id=members[0].id,
            service=service,
            state=state,
            onset_at=members[0].created_at,
            last_post_at=members[-1].created_at,
            distinct_authors=len({post.author_key for post in members}),
            post_count=len(members),
            details={},
        )
        self.session.add(row)
        self.session.flush()
        for post in members:
            self.session.add(ClusterMemberRow(cluster_id=row.id, post_id=post.id, joined_at=post.created_at))
        return row

    def change(
        self, external_id: str, minutes: float, service: str, kind: str, summary: str
    ) -> ChangeEventRow:
        row = ChangeEventRow(
            tenant=self.tenant,
            source="test",
            external_id=external_id,
            service=service,
            kind=kind,
            summary=summary,
            started_at=at(minutes),
            url=f"https://example.test/changes/{external_id}",
        )
        self.session.add(row)
        return row

    def escalation(
        self,
        cluster: ClusterRow,
        severity: str,
        minutes: float,
        causes: list[dict[str, object]],
        state: str = "triggered",
    ) -> EscalationRow:
        row = EscalationRow(
            tenant=self.tenant,
            dedup_key=f"{self.tenant}:{cluster.key}",
            cluster_key=cluster.key,
            state=state,
            severity=severity,
            service=cluster.service,
            first_triggered_at=at(minutes),
            updated_at=at(minutes + 5),
            top_change=str(causes[0]["change"]) if causes else None,
            ranked_changes=causes,
            details={
                "history": [
                    [at(minutes).isoformat(), "trigger", "6 people in 30 min"],
                    [at(minutes + 5).isoformat(), "update", "9 people in 30 min"],
                ]
            },
        )
        self.session.add(row)
        return row


def build_incident_day(session: Session, tenant: str = TENANT) -> dict[str, ClusterRow]:
    """A morning with a login outage (escalated, caused by a deploy), a smaller payment problem,
    an old resolved cluster, and some happy chatter."""
    build = Builder(session, tenant)
    build.service("login", "signing in, passwords, two factor codes")
    build.service("payments", "checkout, card payments, refunds")
    session.add(
        SourceRow(
            tenant=tenant,
            name="x-search",
            kind="twitter",
            cursor={"since_id": "1790"},
            last_error=None,
            updated_at=at(120),
        )
    )
    session.add(
        SourceRow(
            tenant=tenant,
            name="zendesk",
            kind="zendesk",
            cursor={"start_time": 1777},
            last_error="429 Too Many Requests: retry after 60 s",
            updated_at=at(90),
        )
    )
    build.change("c1", 20, "login", "deploy", "auth-service v4.2: new session token format")
    build.change("c2", 35, "payments", "config", "raise card gateway timeout to 8 s")
    build.change("c3", 50, "login", "alert", "login error rate above 5%")
    old = [
        build.post("refund page showed the wrong amount", minutes, category="billing")
        for minutes in (-300, -290)
    ]
    login = [
        build.post(text, 30 + index * 3, shares=index * 4) for index, text in enumerate(_LOGIN_COMPLAINTS * 2)
    ]
    payments = [
        build.post(text, 60 + index * 7, category="payments")
        for index, text in enumerate(_PAYMENT_COMPLAINTS)
    ]
    for index in range(5):
        build.post(
            f"love the new dark mode, thanks team ({index})",
            40 + index * 15,
            sentiment="positive",
            problem=0.05,
            category=None,
        )
    build.post("how do I change my email address?", 100, sentiment="neutral", problem=0.1, category=None)
    clusters = {
        "login": build.cluster(
            "k-login", "cannot log in · sign in · session expired", "login", "active", login
        ),
        "payments": build.cluster(
            "k-pay", "payment declined · checkout fails", "payments", "emerging", payments
        ),
        "old": build.cluster("k-old", "refund wrong amount", "payments", "resolved", old),
    }
    build.escalation(
        clusters["login"],
        "error",
        45,
        [
            {
                "change": "c1",
                "score": 0.82,
                "reasons": ["deployed 10 min before onset", "same service: login"],
            },
            {"change": "c2", "score": 0.21, "reasons": ["config change 5 min after onset"]},
        ],
    )
    session.flush()
    return clusters
