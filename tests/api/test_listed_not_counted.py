"""A cluster's page and API tell the posts it counts from those it only lists (taken in while it
surged, at a looser level), so a support lead knows which reports paged and which were gathered."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from triage.storage.models import ClusterMemberRow, ClusterRow, PostRow


def list_only(session: Session, text_start: str) -> int:
    post_id = session.scalar(select(PostRow.id).where(PostRow.text.like(f"{text_start}%")))
    assert post_id is not None
    session.execute(update(ClusterMemberRow).where(ClusterMemberRow.post_id == post_id).values(counted=False))
    session.commit()
    return post_id


def test_cluster_detail_marks_the_posts_it_only_lists(client: TestClient, session: Session) -> None:
    listed = list_only(session, "card payment refused")
    body = client.get("/v1/clusters/k-pay").json()
    assert body["listed_only_posts"] == 1
    flags = {post["id"]: post["counted"] for post in body["samples"]["items"]}
    assert flags == {post_id: post_id != listed for post_id in flags} and len(flags) == 4
    assert client.get("/v1/clusters/k-login").json()["listed_only_posts"] == 0


def test_posts_outside_any_cluster_have_no_counted_flag(client: TestClient, session: Session) -> None:
    list_only(session, "card payment refused")
    chatter = client.get("/v1/posts", params={"q": "dark mode"}).json()["items"]
    assert chatter and {post["counted"] for post in chatter} == {None}
    listed = client.get("/v1/posts", params={"q": "card payment refused"}).json()["items"]
    assert [post["counted"] for post in listed] == [False]


def test_cluster_page_badges_listed_posts_and_counts_them(client: TestClient, session: Session) -> None:
    list_only(session, "card payment refused")
    page = client.get("/clusters/k-pay").text
    assert page.count('class="pill listed"') == 1
    assert '<span class="value">1</span><span class="name">listed, not counted</span>' in page
    assert "listed, not counted" not in client.get("/clusters/k-login").text


def test_every_cluster_member_of_the_fixture_counts(session: Session) -> None:
    """The fixture's clusters are plain ones; the tests above make the only listed member."""
    rows = session.execute(
        select(ClusterRow.key, ClusterMemberRow.counted).join(
            ClusterMemberRow, ClusterMemberRow.cluster_id == ClusterRow.id
        )
    )
    assert {counted for _, counted in rows} == {True}
