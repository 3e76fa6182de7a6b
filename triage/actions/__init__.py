"""What people decided about clusters and posts: confirm, mute, merge, split, escalate, resolve, relabel.

Every decision is an append-only row (who, when, what). The triage pass reads them back as
constraints through :func:`triage.actions.service.load_constraints`, so a later pass respects them.
"""
