"""SVG charts are well-formed XML, and the live board's fingerprint moves when the board would."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import timedelta

from sqlalchemy.orm import Session

from api.charts import Band, Line, Marker, sparkline, time_chart
from api.queries.clusters import board_fingerprint
from tests.api.factories import TENANT, Builder, at
from triage.actions.service import record_cluster_action


def test_sparkline_is_svg_even_when_empty() -> None:
    for values in ([], [0, 0, 0], [1, 5, 2]):
        root = ElementTree.fromstring(str(sparkline(values, label="posts & <more>")))
        assert root.tag.endswith("svg")


def test_time_chart_escapes_labels_and_places_markers() -> None:
    starts = [at(minutes) for minutes in range(0, 60, 10)]
    svg = str(
        time_chart(
            starts,
            timedelta(minutes=10),
            stacked=[Line("negative", [1, 2, 3, 0, 1, 0], "negative")],
            lines=[Line("people", [1, 1, 2, 0, 1, 0], "authors")],
            markers=[Marker(at(25), 'deploy "v2" <api>', "change")],
            bands=[Band(at(20), at(40), "incident & co", "incident")],
            title="a < b",
        )
    )
    root = ElementTree.fromstring(svg)
    titles = [element.text for element in root.iter() if element.tag.endswith("title")]
    assert 'deploy "v2" <api>' in titles and "incident & co" in titles
    assert svg.count('class="bar negative"') == 4


def test_fingerprint_changes_with_new_clusters_and_decisions(session: Session) -> None:
    before = board_fingerprint(session, TENANT)
    record_cluster_action(session, TENANT, "k-pay", "confirm", "dana", at(130))
    after_decision = board_fingerprint(session, TENANT)
    build = Builder(session, post_number=500)
    build.cluster("k-new", "new problem", "login", "emerging", [build.post("brand new problem", 131)])
    after_cluster = board_fingerprint(session, TENANT)
    assert len({before, after_decision, after_cluster}) == 3
    assert board_fingerprint(session, TENANT) == after_cluster
