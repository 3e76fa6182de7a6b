"""Configuration names of the change feeds, mapped to their classes."""

from __future__ import annotations

from ingest.feeds.alertmanager import AlertmanagerFeed
from ingest.feeds.base import ChangeFeed
from ingest.feeds.generic import GenericChangeFeed
from ingest.feeds.github import GitHubDeploymentFeed
from ingest.feeds.pagerduty import PagerDutyChangeFeed

FEEDS: dict[str, type[ChangeFeed]] = {
    feed.kind: feed
    for feed in (GitHubDeploymentFeed, AlertmanagerFeed, PagerDutyChangeFeed, GenericChangeFeed)
}
