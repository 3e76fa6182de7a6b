"""Escalation settings: defaults that need no file, problems named without ever quoting a secret."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr

from triage.errors import ConfigurationError
from triage.escalation.base import build_target
from triage.escalation.settings import EscalationSettings, TargetSettings

SECRET = "SUPERSECRET-routing-key-000000000"


def test_defaults_send_nothing_anywhere() -> None:
    settings = EscalationSettings()
    settings.check()
    assert settings.targets == [] and settings.public_base_url == "http://127.0.0.1:8000"


def test_every_problem_is_named_and_no_secret_is_quoted() -> None:
    class Outer(BaseModel):  # how the application settings will hold it
        escalation: EscalationSettings

    settings = Outer.model_validate(
        {
            "escalation": {
                "targets": [
                    {
                        "name": "pd",
                        "kind": "pagerduty",
                        "routing_key": SECRET,
                        "url": "http://events.example",
                    },
                    {"name": "hook", "kind": "webhook", "secret": SECRET},
                    {"name": "hook", "kind": "slack"},
                    {
                        "name": "desk",
                        "kind": "zendesk",
                        "url": "https://zendesk.com",
                        "email": "a@b.c",
                        "secret": SECRET,
                    },
                ]
            }
        }
    ).escalation
    with pytest.raises(ConfigurationError) as error:
        settings.check()
    message = str(error.value)
    for expected in (
        "must start with https://",
        "'hook' (webhook) needs url",
        "needs secret",
        "repeated: hook",
        "<subdomain>.zendesk.com",
    ):
        assert expected in message
    assert SECRET not in message and SECRET not in repr(settings)


def test_a_target_is_built_only_from_a_complete_configuration() -> None:
    with pytest.raises(ConfigurationError, match="needs url"):
        build_target(TargetSettings(name="hook", kind="webhook", secret=SecretStr(SECRET)))


def test_routes_are_pagerduty_routing_keys_per_service() -> None:
    config = TargetSettings(
        name="pd", kind="pagerduty", routing_key=SecretStr(SECRET), routing_keys={"cards": SecretStr(SECRET)}
    )
    assert (config.route_for("cards"), config.route_for("transfers"), config.route_for(None)) == (
        "cards",
        None,
        None,
    )
    assert config.effective_rate_per_minute == 120.0
