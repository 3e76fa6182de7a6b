"""A delivery worker in a process of its own, so that a test can ``SIGKILL`` it mid-delivery.

``python -m tests.triage.escalation.crashing_worker DATABASE_URL RECEIVER_URL MODE``

- ``before-send``: the target announces the message it was handed on stdout, then hangs before
  any byte leaves: the claim is committed, the send never happens.
- ``after-send``: the real webhook target sends; the test's receiver holds its answer back, so the
  kill lands after the receiver got the message and before the outcome is written.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime

from pydantic import SecretStr

from triage.escalation.base import DeliveryReceipt
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.message import ImpactMessage
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.escalation.webhook import WebhookTarget
from triage.storage.database import create_db_engine, session_factory

SECRET = "whsec_" + "QUJD" * 8  # 24 bytes


def escalation_settings(url: str) -> EscalationSettings:
    return EscalationSettings(
        targets=[TargetSettings(name="hook", kind="webhook", url=url, secret=SecretStr(SECRET))],
        lease_seconds=120,
    )


class HangingTarget(WebhookTarget):
    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        print(f"sending {message.message_id}", flush=True)
        threading.Event().wait()  # until the test kills this process
        raise AssertionError("unreachable")


def main() -> None:
    database_url, url, mode = sys.argv[1:4]
    settings = escalation_settings(url)
    target = (HangingTarget if mode == "before-send" else WebhookTarget)(settings.targets[0])
    engine = create_db_engine(database_url)
    DeliveryWorker(session_factory(engine), settings, targets={"hook": target}).deliver_until_empty()


if __name__ == "__main__":
    main()
