"""Escalation: customer-impact signals to PagerDuty, signed webhooks, Slack and Zendesk.

``outbox.enqueue_signal_messages`` writes the engine's decisions to the outbox (``models``) in the
caller's transaction; ``delivery.DeliveryWorker`` delivers them through the targets (``base`` holds
the interface and the registry, one module per vendor). Nothing is imported here, so that
``triage.settings`` can import ``triage.escalation.settings`` without an import cycle.
"""
