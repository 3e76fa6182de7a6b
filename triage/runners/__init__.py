"""Runners decide when and where the stages run; the stages themselves live elsewhere.

The embedded runner is ``triage run`` (``triage/cli/run.py``): one process, a
schedule of jobs. The scale-out runner in this package runs the same stage
functions as Celery tasks on Redis, with beat for the schedule; see
``docs/scale-out.md``.
"""
