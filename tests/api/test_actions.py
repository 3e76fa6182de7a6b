"""Decisions are recorded (who, when, what) and read back as constraints for the triage pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api.factories import TENANT, at
from triage.actions.models import ClusterActionRow
from triage.actions.service import ActionError, label_post, load_constraints, record_cluster_action
from triage.storage.models import ClusterMemberRow, ClusterRow, PostRow


def _members(session: Session, key: str) -> list[int]:
    cluster_id = session.scalar(select(ClusterRow.id).where(ClusterRow.key == key))
    return sorted(
        session.scalars(select(ClusterMemberRow.post_id).where(ClusterMemberRow.cluster_id == cluster_id))
    )


def test_mute_is_recorded_with_expiry_and_ends_then(session: Session) -> None:
    now = at(120)
    record_cluster_action(session, TENANT, "k-pay", "mute", "dana", now, expires_at=now + timedelta(hours=4))
    constraints = load_constraints(session, TENANT)
    assert constraints.mutes == {"k-pay": now + timedelta(hours=4)}
    assert constraints.is_muted("k-pay", now + timedelta(hours=3))
    assert not constraints.is_muted("k-pay", now + timedelta(hours=5))
    row = session.scalar(select(ClusterActionRow))
    assert (row.actor, row.action, row.cluster_key) == ("dana", "mute", "k-pay")


def test_unmute_ends_a_mute_without_expiry(session: Session) -> None:
    record_cluster_action(session, TENANT, "k-pay", "mute", "dana", at(120))
    assert load_constraints(session, TENANT).is_muted("k-pay", at(10_000))
    record_cluster_action(session, TENANT, "k-pay", "unmute", "dana", at(130))
    assert load_constraints(session, TENANT).mutes == {}


def test_merges_are_followed_through_chains_and_never_loop(session: Session) -> None:
    record_cluster_action(session, TENANT, "k-old", "merge", "dana", at(120), target_cluster_key="k-pay")
    record_cluster_action(session, TENANT, "k-pay", "merge", "dana", at(121), target_cluster_key="k-login")
    assert load_constraints(session, TENANT).merges == {"k-old": "k-login", "k-pay": "k-login"}
    with pytest.raises(ActionError, match="already merged"):
        record_cluster_action(
            session, TENANT, "k-login", "merge", "dana", at(122), target_cluster_key="k-old"
        )
    with pytest.raises(ActionError, match="itself"):
        record_cluster_action(session, TENANT, "k-pay", "merge", "dana", at(122), target_cluster_key="k-pay")


def test_split_records_leaving_posts_and_cannot_link_pairs(session: Session) -> None:
    members = _members(session, "k-login")
    picked, remaining = members[:2], members[2:]
    record_cluster_action(session, TENANT, "k-login", "split", "dana", at(120), post_ids=picked)
    constraints = load_constraints(session, TENANT)
    assert constraints.splits == {"k-login": frozenset(picked)}
    assert constraints.split_groups == (frozenset(picked),)
    assert len(constraints.cannot_link) == len(picked) * len(remaining)
    assert not constraints.can_link(picked[0], remaining[0]) and constraints.can_link(picked[0], picked[1])


def test_split_refuses_posts_from_elsewhere_and_taking_everything(session: Session) -> None:
    with pytest.raises(ActionError, match="not in cluster"):
        record_cluster_action(
            session, TENANT, "k-login", "split", "dana", at(120), post_ids=_members(session, "k-pay")
        )
    with pytest.raises(ActionError, match="at least one post behind"):
        record_cluster_action(
            session, TENANT, "k-pay", "split", "dana", at(120), post_ids=_members(session, "k-pay")
        )


def test_latest_relabel_wins(session: Session) -> None:
    post_id = session.scalar(select(PostRow.id).where(PostRow.text.like("love the new dark mode%")))
    label_post(session, TENANT, post_id, "problem", "dana", at(120))
    label_post(session, TENANT, post_id, "not_problem", "sam", at(121))
    other = _members(session, "k-pay")[0]
    label_post(session, TENANT, other, "category", "sam", at(122), category="checkout")
    relabels = load_constraints(session, TENANT).relabels
    assert (relabels[post_id].is_problem, relabels[post_id].category) == (False, None)
    assert (relabels[other].is_problem, relabels[other].category) == (True, "checkout")


def test_escalate_and_resolve_fold_in_order(session: Session) -> None:
    record_cluster_action(session, TENANT, "k-pay", "confirm", "dana", at(120))
    record_cluster_action(session, TENANT, "k-pay", "escalate", "dana", at(121))
    assert set(load_constraints(session, TENANT).escalate_now) == {"k-pay"}
    record_cluster_action(session, TENANT, "k-pay", "resolve", "dana", at(150))
    constraints = load_constraints(session, TENANT)
    assert constraints.escalate_now == {} and constraints.resolved == {"k-pay": at(150)}
    assert constraints.confirmed == frozenset({"k-pay"})


def test_constraints_are_per_tenant(session: Session) -> None:
    record_cluster_action(session, TENANT, "k-pay", "mute", "dana", at(120))
    assert load_constraints(session, "someone-else").mutes == {}


def test_api_records_actions_and_shows_constraints(client: TestClient) -> None:
    muted = client.post("/v1/clusters/k-pay/actions", json={"action": "mute", "expires_in_minutes": 90})
    assert muted.status_code == 201 and muted.json()["actor"] == "local" and muted.json()["expires_at"]
    merged = client.post(
        "/v1/clusters/k-old/actions", json={"action": "merge", "target_cluster_key": "k-pay"}
    )
    assert merged.status_code == 201
    log = client.get("/v1/actions").json()["items"]
    assert [item["action"] for item in log] == ["merge", "mute"]
    constraints = client.get("/v1/constraints").json()
    assert constraints["merges"] == {"k-old": "k-pay"} and "k-pay" in constraints["mutes"]
    board = {item["key"]: item for item in client.get("/v1/clusters").json()["items"]}
    assert board["k-pay"]["lead"]["muted"] and board["k-old"]["lead"]["merged_into"] == "k-pay"


def test_api_refusal_is_409_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/clusters/k-pay/actions", json={"action": "merge", "target_cluster_key": "k-pay"}
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "itself" in response.json()["detail"]
