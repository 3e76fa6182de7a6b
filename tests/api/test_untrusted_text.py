"""Post text, author names, cluster labels and change summaries come from the internet: every page
shows them as text, never as markup, and every HTML answer carries a Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.security import PAGE_POLICY
from api.templating import TEMPLATES_DIR, templates
from tests.api.factories import Builder
from triage.storage.database import transaction

TENANT = "hostile"
SCRIPT = "<script>alert('pwned')</script>"
IMAGE = '<img src=x onerror="alert(1)">'
BREAKOUT = '"><svg onload=alert(2)>'
PAYLOADS = (SCRIPT, IMAGE, BREAKOUT)
#: what must never reach a page unescaped, whichever payload carried it
RAW_MARKERS = ("<script>alert", "<img src=x", "<svg onload", 'href="javascript:')
HTML = {"accept": "text/html"}


@pytest.fixture
def hostile(app: FastAPI, client: TestClient) -> TestClient:
    """A tenant whose every stored text is a payload, shown on the board, the cluster page and the
    dashboard."""
    with transaction(app.state.sessions) as session:
        build = Builder(session, TENANT)
        build.service("login", "signing in")
        build.change("evil-change", 31, "login", "deploy", f"deploy {SCRIPT} {IMAGE}")
        posts = [
            build.post(f"cannot log in {payload}", 30 + index * 3, author=f"author{payload}", shares=9)
            for index, payload in enumerate(PAYLOADS * 2)
        ]
        posts[0].url = "javascript:alert(3)"
        cluster = build.cluster("k-evil", f"label {SCRIPT} {BREAKOUT}", "login", "active", posts)
        build.escalation(
            cluster,
            "error",
            45,
            [{"change": "evil-change", "score": 0.9, "reasons": [f"reason {IMAGE}"]}],
        )
    return client


def _assert_inert(html: str, *, expect: tuple[str, ...]) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"unescaped {marker!r} reached the page"
    scripts = re.findall(r"<script[^>]*>", html)
    assert all(tag.startswith('<script src="/static/') for tag in scripts), f"inline script: {scripts}"
    for escaped in expect:
        assert escaped in html, f"{escaped!r} is not on the page (the fixture no longer reaches it?)"


def test_board_escapes_labels_and_change_summaries(hostile: TestClient) -> None:
    html = hostile.get("/", params={"tenant": TENANT, "window": "all"}, headers=HTML).text
    _assert_inert(html, expect=("label &lt;script&gt;alert(", "deploy &lt;script&gt;alert(", "&lt;img src=x"))


def test_cluster_page_escapes_posts_authors_summaries_and_reasons(hostile: TestClient) -> None:
    html = hostile.get("/clusters/k-evil", params={"tenant": TENANT}, headers=HTML).text
    _assert_inert(
        html,
        expect=(
            "cannot log in &lt;script&gt;alert(",
            "author&lt;img src=x onerror=",
            "author&#34;&gt;&lt;svg onload=",
            "deploy &lt;script&gt;alert(",
            "reason &lt;img src=x",
        ),
    )


def test_dashboard_escapes_posts_authors_and_change_markers(hostile: TestClient) -> None:
    html = hostile.get("/sentiment", params={"tenant": TENANT, "window": "all"}, headers=HTML).text
    _assert_inert(
        html,
        expect=("cannot log in &lt;script&gt;alert(", "author&lt;script&gt;alert(", "deploy &lt;script&gt;"),
    )


def test_board_rows_fragment_escapes_too(hostile: TestClient) -> None:
    html = hostile.get("/board/rows", params={"tenant": TENANT, "window": "all"}, headers=HTML).text
    _assert_inert(html, expect=("label &lt;script&gt;alert(",))


@pytest.mark.parametrize(
    "path", ["/", "/board/rows", "/clusters/k-login", "/sentiment", "/sources", "/login", "/no-such-page"]
)
def test_every_html_answer_has_the_content_security_policy(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


def test_policy_allows_no_inline_script_or_other_origins() -> None:
    directives = dict(part.split(" ", 1) for part in PAGE_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert "unsafe" not in PAGE_POLICY


def test_api_docs_page_gets_its_own_policy(client: TestClient) -> None:
    response = client.get("/docs")
    assert "cdn.jsdelivr.net" in response.headers["content-security-policy"]


def test_templates_autoescape_and_never_mark_text_safe() -> None:
    autoescape = templates.env.autoescape
    for template in Path(TEMPLATES_DIR).glob("*.html"):
        assert autoescape is True or (callable(autoescape) and autoescape(template.name)), template.name
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b(?!_)", text), f"{template.name} marks text as safe"
        assert "autoescape false" not in text, f"{template.name} turns autoescaping off"
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{template.name} has an inline script"
        assert not re.search(r"\son[a-z]+=", text), f"{template.name} has an inline event handler"
