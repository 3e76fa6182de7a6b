"""The server-rendered pages work as plain HTML: links, GET filters and post/redirect/get forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from triage.storage.models import PostRow

HTML = {"accept": "text/html"}


def _cluster_rows(html: str) -> list[str]:
    return re.findall(r'data-cluster="([^"]+)"', html)


def test_board_lists_clusters_with_sparklines(client: TestClient) -> None:
    html = client.get("/").text
    assert _cluster_rows(html) == ["k-login", "k-pay", "k-old"]
    assert html.count('<svg class="spark"') == 3
    assert "auth-service v4.2" in html and "local open mode" in html


def test_board_filters_without_javascript(client: TestClient) -> None:
    assert _cluster_rows(client.get("/", params={"state": "emerging"}).text) == ["k-pay"]
    assert _cluster_rows(client.get("/", params={"service": "login"}).text) == ["k-login"]
    assert _cluster_rows(client.get("/", params={"window": "1h"}).text) == ["k-login", "k-pay"]


def test_board_rows_fragment_is_only_the_table_body(client: TestClient) -> None:
    fragment = client.get("/board/rows", params={"state": "active"}).text
    assert "<html" not in fragment and _cluster_rows(fragment) == ["k-login"]


def test_cluster_page_shows_chart_causes_history_and_posts(client: TestClient) -> None:
    html = client.get("/clusters/k-login").text
    assert '<svg class="chart"' in html and "deployed 10 min before onset" in html
    assert "6 people in 30 min" in html and html.count('name="post_id"') == 12


def test_mute_form_redirects_and_shows_the_decision(client: TestClient) -> None:
    response = client.post("/clusters/k-pay/actions/mute", data={"minutes": "240"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/clusters/k-pay?")
    page = client.get(response.headers["location"]).text
    assert "Muted." in page and "muted until" in page and "Unmute" in page


def test_split_form_takes_ticked_posts(client: TestClient) -> None:
    ids = re.findall(r'name="post_id" value="(\d+)"', client.get("/clusters/k-login").text)[:3]
    response = client.post("/clusters/k-login/actions/split", data={"post_id": ids})
    assert "Split off the picked posts." in response.text and "(3 posts)" in response.text


def test_refused_action_comes_back_as_a_message(client: TestClient) -> None:
    response = client.post("/clusters/k-login/actions/split", data={})
    assert response.status_code == 200 and "pick at least one" in response.text


def test_relabel_form(client: TestClient) -> None:
    post_id = re.findall(r'action="/posts/(\d+)/label', client.get("/clusters/k-pay").text)[0]
    response = client.post(f"/posts/{post_id}/label", data={"label": "category:billing", "back": "k-pay"})
    assert "Label saved." in response.text and ">billing</span>" in response.text


def test_sentiment_dashboard_charts_each_service(client: TestClient) -> None:
    html = client.get("/sentiment", params={"window": "all"}).text
    assert html.count('<svg class="chart"') == 3
    assert "Most-shared negative posts" in html and "login" in html and "payments" in html


def test_sentiment_custom_range_must_be_ordered(client: TestClient) -> None:
    response = client.get(
        "/sentiment", params={"from": "2026-05-04T10:00", "to": "2026-05-04T09:00"}, headers=HTML
    )
    assert response.status_code == 422 and "swap" in response.text


def test_sources_page(client: TestClient) -> None:
    html = client.get("/sources").text
    assert "429 Too Many Requests" in html and "test-v1" in html


def test_unknown_cluster_page_is_an_html_error(client: TestClient) -> None:
    response = client.get("/clusters/nope", headers=HTML)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


def test_live_stream_sends_a_board_event(client: TestClient) -> None:
    with client.stream("GET", "/events/board", params={"max_events": 1}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert "event: board" in body


def test_form_posted_from_another_site_is_refused(client: TestClient) -> None:
    response = client.post("/clusters/k-pay/actions/confirm", headers={"origin": "https://evil.example"})
    assert response.status_code == 403 and "another site" in response.json()["detail"]


def test_source_links_are_only_http(client: TestClient, session: Session) -> None:
    declined = session.scalar(select(PostRow.id).where(PostRow.text.like("my payment was declined%")))
    session.execute(update(PostRow).where(PostRow.id == declined).values(url="javascript:alert(1)"))
    session.commit()
    assert "javascript:" not in client.get("/clusters/k-pay").text
