"""Where customer-impact signals go and how hard delivery tries.

Every setting is documented here. With no targets configured (the default and
the embedded demo) nothing is enqueued and nothing leaves the machine. Secrets
(routing keys, webhook secrets, the Slack webhook URL, the Zendesk token) are
``SecretStr``: they never appear in reprs, logs, errors or the outbox table.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from triage.errors import ConfigurationError

TargetKind = Literal["pagerduty", "webhook", "slack", "zendesk"]
Severity = Literal["info", "warning", "error", "critical"]
#: severities from least to most severe (PagerDuty's scale, which the engine's severities are on)
SEVERITY_ORDER: tuple[str, ...] = ("info", "warning", "error", "critical")

#: messages per minute per target (per routing key for PagerDuty) when a target does not say
DEFAULT_RATE_PER_MINUTE: dict[str, float] = {
    # PagerDuty Events API v2 accepts about 120 events per minute per routing key
    "pagerduty": 120.0,
    # Slack incoming webhooks allow about one message per second
    "slack": 60.0,
    "webhook": 600.0,
    # Zendesk Support plans allow 200-700 requests/minute per account; one message costs a few requests
    "zendesk": 60.0,
}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class TargetSettings(BaseModel):
    """One configured destination. Which fields matter depends on ``kind``:

    - ``pagerduty``: ``routing_key`` (the Events API v2 integration key), optional ``routing_keys`` per
      service (a cluster keeps the key chosen when it was triggered), optional ``url`` for another
      region or a test receiver (default ``https://events.pagerduty.com``).
    - ``webhook``: ``url`` and ``secret``, the Standard Webhooks signing secret ``whsec_<base64 of
      24-64 random bytes>`` (see ``triage.escalation.webhook``).
    - ``slack``: ``secret`` is the incoming-webhook URL, because that URL is the credential.
    - ``zendesk``: ``url`` (``https://acme.zendesk.com``), ``email`` and ``secret`` (an API token).
    """

    #: validation errors must not echo the input: it holds the secrets
    model_config = ConfigDict(hide_input_in_errors=True)

    name: str = Field(description="Unique name; outbox rows and the CLI refer to the target by it.")
    kind: TargetKind
    url: str | None = Field(default=None, description="Endpoint or base URL (not secret).")
    routing_key: SecretStr | None = Field(
        default=None, description="PagerDuty default routing (integration) key."
    )
    routing_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="PagerDuty routing key per service name; others use routing_key."
    )
    secret: SecretStr | None = Field(
        default=None, description="Signing key, Slack webhook URL or Zendesk API token."
    )
    email: str | None = Field(default=None, description="Zendesk agent email the API token belongs to.")
    rate_per_minute: float | None = Field(
        default=None,
        gt=0,
        description="Messages per minute to this target (per routing key); default by kind.",
    )
    burst: int = Field(default=10, ge=1, description="Messages that may go at once before the rate applies.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="HTTP timeout of one delivery attempt.")
    forward_changes: bool = Field(
        default=False,
        description="PagerDuty only: also send the change events from feeds (deploys, config and flag "
        "changes; not alerts) to PagerDuty's Change Events API, on the service's routing key.",
    )

    def problems(self) -> list[str]:
        """What is missing or wrong for this target's kind, in words that never quote a value.

        Not a pydantic validator on purpose: a validation error quotes the raw input, and that input
        holds the secrets.
        """
        missing: list[str] = []
        if self.kind == "pagerduty" and self.routing_key is None and not self.routing_keys:
            missing.append("routing_key")
        if self.kind == "webhook":
            missing += [name for name in ("url", "secret") if getattr(self, name) is None]
        if self.kind == "slack" and self.secret is None:
            missing.append("secret (the incoming-webhook URL)")
        if self.kind == "zendesk":
            missing += [name for name in ("url", "email", "secret") if getattr(self, name) is None]
        found = (
            [f"escalation target {self.name!r} ({self.kind}) needs {', '.join(missing)}"] if missing else []
        )
        if self.forward_changes and self.kind != "pagerduty":
            found.append(f"escalation target {self.name!r}: only pagerduty targets can forward_changes")
        if self.kind == "webhook" and self.secret is not None:
            from triage.escalation.webhook import secret_key  # the scheme lives with the target

            try:
                secret_key(self.secret.get_secret_value())
            except ValueError as error:
                found.append(f"escalation target {self.name!r}: {error}")
        found += self._url_problems()
        if self.kind == "pagerduty" and self.url is not None and not self.url.startswith("https://"):
            found.append(f"escalation target {self.name!r}: the PagerDuty url must start with https://")
        if self.kind == "zendesk" and self.url and (urlparse(self.url).hostname or "").count(".") < 2:
            found.append(
                f"escalation target {self.name!r}: the Zendesk url must look like https://<subdomain>.zendesk.com"
            )
        return found

    def _url_problems(self) -> list[str]:
        """An http(s) URL with a host and no credentials in it; https unless it stays on this machine.

        Credentials belong in ``secret`` (a ``SecretStr``): a ``user:password@`` in the URL would be
        printed wherever the URL is (configuration dumps, errors), so it is refused. The messages
        never quote the URL, for the same reason.
        """
        if self.url is None:
            return []
        where = f"escalation target {self.name!r}"
        try:
            parsed = urlparse(self.url)
            host = parsed.hostname
            has_credentials = bool(parsed.username or parsed.password)
            parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            return [f"{where}: the url is not a valid URL"]
        if parsed.scheme not in ("http", "https") or not host:
            return [f"{where}: the url must be an http:// or https:// URL with a host"]
        if has_credentials:
            return [f"{where}: the url must not carry credentials (user:password@); put them in secret"]
        if self.kind in ("webhook", "zendesk") and parsed.scheme != "https" and not _is_loopback(host):
            return [f"{where}: the url must start with https:// (plain http only to this machine)"]
        return []

    @property
    def effective_rate_per_minute(self) -> float:
        return self.rate_per_minute or DEFAULT_RATE_PER_MINUTE[self.kind]

    def route_for(self, service: str | None) -> str | None:
        """Which of this target's routes a newly triggered cluster of ``service`` goes to.

        Only PagerDuty has routes (a routing key per service). The answer is pinned in the outbox
        at trigger time so updates and the resolve of one cluster always use the same routing key,
        even when the cluster's service changes later.
        """
        if self.kind == "pagerduty" and service is not None and service in self.routing_keys:
            return service
        return None


class RoutingRule(BaseModel):
    """Send signals of these services at or above this severity to these targets.

    A signal goes to every target of every rule it matches. A target starts hearing of a signal at
    the first decision that matches one of its rules: that message is sent as a trigger (a signal that
    opened as a warning reaches an ``error``-only pager when it becomes an error), and from then on the
    target gets every update and the resolve of that signal, even if its severity drops, so no
    alert is left open.
    """

    targets: list[str] = Field(min_length=1, description="Names of the targets this rule sends to.")
    services: list[str] = Field(
        default_factory=list,
        description="Service names this rule matches; empty: every service, and signals with none.",
    )
    min_severity: Severity = Field(
        default="info", description="Lowest severity this rule matches: info, warning, error, critical."
    )

    def matches(self, service: str | None, severity: str) -> bool:
        if self.services and service not in self.services:
            return False
        rank = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
        return rank >= SEVERITY_ORDER.index(self.min_severity)


class EscalationSettings(BaseModel):
    """Escalation targets and the outbox's delivery policy."""

    model_config = ConfigDict(hide_input_in_errors=True)

    targets: list[TargetSettings] = Field(default_factory=list, description="Where signals are sent.")
    routing: list[RoutingRule] = Field(
        default_factory=list,
        description="Which targets hear of which signals, by service and severity; empty: every target "
        "hears of every signal.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base of the links in messages: {public_base_url}/clusters/{key}.",
    )
    max_attempts: int = Field(
        default=8, ge=1, description="Failed attempts after which a message is dead-lettered."
    )
    backoff_initial_seconds: float = Field(
        default=2.0, gt=0, description="Backoff before the second attempt."
    )
    backoff_max_seconds: float = Field(default=600.0, gt=0, description="Longest backoff between attempts.")
    inline_wait_max_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Retries whose wait is at most this happen in the same pass; longer waits (a long "
        "Retry-After, late backoff) put the message back in the outbox so other targets are not held up.",
    )
    lease_seconds: float = Field(
        default=300.0, gt=0, description="A message claimed by a worker that died is retried after this long."
    )
    batch_size: int = Field(default=200, ge=1, description="Messages a worker delivers at most per pass.")
    sample_posts: int = Field(default=5, ge=0, description="Sample posts carried by each message.")
    max_causes: int = Field(default=3, ge=0, description="Ranked likely causes carried by each message.")

    def check(self) -> None:
        """Raise ``ConfigurationError`` naming every problem of the targets (never their values)."""
        names = [target.name for target in self.targets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        found = (
            [f"escalation target names must be unique; repeated: {', '.join(duplicates)}"]
            if duplicates
            else []
        )
        for target in self.targets:
            found += target.problems()
        unknown = sorted({name for rule in self.routing for name in rule.targets} - set(names))
        if unknown:
            found.append(f"routing rules name targets that are not configured: {', '.join(unknown)}")
        if found:
            raise ConfigurationError("; ".join(found) + "; fix the escalation settings")

    def targets_for(self, service: str | None, severity: str) -> set[str]:
        """Names of the targets that a signal of ``service`` at ``severity`` goes to."""
        if not self.routing:
            return {target.name for target in self.targets}
        return {name for rule in self.routing if rule.matches(service, severity) for name in rule.targets}

    def target(self, name: str) -> TargetSettings | None:
        return next((target for target in self.targets if target.name == name), None)
