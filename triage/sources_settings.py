"""Settings of the live sources, the change-feed webhooks and the service catalog.

They nest under ``Settings.sources`` (environment: ``SIGNAL_TRIAGE_SOURCES__...``,
e.g. ``SIGNAL_TRIAGE_SOURCES__TWITTER_BEARER_TOKEN``). Every default works with
no file: a source that lacks its credentials says which setting to fill when it
is pulled, and nothing else is affected. Secrets are ``SecretStr`` so they never
show in a repr, a log line or an error message.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from ingest.feeds.service_map import ServiceMap, ServiceRule


class CatalogEntry(BaseModel):
    """One service and the names the outside world uses for it."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    repositories: list[str] = Field(
        default_factory=list,
        description="GitHub repositories (owner/name) whose deploys change this service.",
    )
    alert_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Alert labels naming this service, e.g. {'job': 'checkout-api'}; one match is enough.",
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="Words in a change's summary that point at this service (last resort).",
    )


class ServiceCatalogSettings(BaseModel):
    """Maps repositories, alert labels and keywords of incoming changes to services.

    An event that maps to nothing is still stored, with no service, and listed
    as unmapped: a change nobody catalogued is exactly the one to look at.
    """

    services: list[CatalogEntry] = Field(default_factory=list)
    service_label_names: list[str] = Field(
        default_factory=lambda: ["service", "app", "job"],
        description="Alert labels whose value is taken as a service name when it names a catalogued service.",
    )

    def service_map(self) -> ServiceMap:
        rules = tuple(
            ServiceRule(
                name=entry.name,
                repositories=tuple(entry.repositories),
                alert_labels=tuple(sorted(entry.alert_labels.items())),
                keywords=tuple(entry.keywords),
            )
            for entry in self.services
        )
        return ServiceMap(rules, tuple(self.service_label_names))


class WebhookSettings(BaseModel):
    """Secrets the change-feed webhooks are checked with.

    GitHub signs its deliveries (``X-Hub-Signature-256``); the other feeds send
    a bearer token (Alertmanager ``http_config.authorization``, or any tool's
    ``Authorization`` header). A feed with no secret configured is refused, so a
    forgotten setting never opens an unauthenticated write path. A ``whsec_<base64>``
    secret (e.g. as ``generic_token``) makes the feed check Standard Webhooks
    signatures instead, which also refuses stale timestamps and reused ids
    (``ingest/feeds/standard_webhooks.py``).
    """

    github_secret: SecretStr | None = None
    alertmanager_token: SecretStr | None = None
    pagerduty_token: SecretStr | None = None
    generic_token: SecretStr | None = None
    allow_unauthenticated: bool = Field(
        False, description="Accept feeds with no secret configured (only for a local demo on loopback)."
    )

    def secret_for(self, kind: str) -> SecretStr | None:
        return {
            "github": self.github_secret,
            "alertmanager": self.alertmanager_token,
            "pagerduty": self.pagerduty_token,
            "generic": self.generic_token,
        }.get(kind)


class SourcesSettings(BaseModel):
    """Where posts come from, and how the live ones are reached."""

    tenant: str = Field("default", description="Tenant live sources and webhooks store under.")
    author_hash_salt: SecretStr | None = Field(
        None, description="Secret salt for hashing X author ids into author keys; required for the X sources."
    )
    poll_interval_seconds: float = Field(
        60.0, description="Pause between pulls of `triage sources pull --loop`."
    )

    twitter_bearer_token: SecretStr | None = Field(None, description="X API v2 app-only bearer token.")
    twitter_query: str = Field(
        "",
        description="Recent-search query, used verbatim; when empty it is built from the handles and terms.",
    )
    twitter_handles: list[str] = Field(
        default_factory=list, description="Brand handles, e.g. ['@acme', '@acmehelp']."
    )
    twitter_terms: list[str] = Field(
        default_factory=list, description="Product names and phrases to search for."
    )
    twitter_languages: list[str] = Field(
        default_factory=list, description="Only these languages, e.g. ['en', 'de']."
    )
    twitter_exclude_retweets: bool = True
    twitter_page_size: int = Field(100, ge=10, le=100, description="Tweets per recent-search page (10-100).")
    twitter_stream_rules: dict[str, str] = Field(
        default_factory=dict,
        description="Filtered-stream rules as {tag: rule}; synced to X before connecting.",
    )

    zendesk_subdomain: str | None = Field(None, description="The 'acme' of acme.zendesk.com.")
    zendesk_email: str | None = Field(None, description="Agent email the API token belongs to.")
    zendesk_token: SecretStr | None = Field(None, description="Zendesk API token.")
    zendesk_start_time: datetime | None = Field(
        None,
        description="Where the first export starts; default: zendesk_lookback_hours before the first pull.",
    )
    zendesk_lookback_hours: float = 24.0

    watched_folder: Path | None = Field(
        None, description="Folder whose JSONL/CSV files are picked up as they appear."
    )
    watched_folder_settle_seconds: float = Field(
        5.0, description="A file modified more recently than this is still being written and waits."
    )
    watched_folder_batch_lines: int = Field(
        5000,
        ge=1,
        description="Lines of a dropped file stored per transaction (and per cursor step): smaller batches "
        "make a crash redo less, larger ones store faster.",
    )

    intake_max_body_bytes: int = Field(5 * 1024 * 1024, description="Largest accepted POST /v1/posts body.")
    intake_max_posts: int = Field(5000, description="Most posts accepted in one POST /v1/posts.")
    webhook_max_body_bytes: int = Field(1024 * 1024, description="Largest accepted change-feed webhook body.")

    webhooks: WebhookSettings = WebhookSettings()
    catalog: ServiceCatalogSettings = ServiceCatalogSettings()


def sources_settings(settings: object) -> SourcesSettings:
    """The sources section of ``settings``, or the defaults until ``Settings`` has one."""
    found = getattr(settings, "sources", None)
    return found if isinstance(found, SourcesSettings) else SourcesSettings()
