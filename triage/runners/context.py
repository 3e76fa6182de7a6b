"""What a worker process builds once and every task in it reuses: database, model, broker client.

Tasks receive ids and names, never live objects, so each worker process needs
its own engine, its own model and its own Redis client. They are built lazily
on first use, which matters twice: a process that only sends tasks (beat, the
replay runner) never loads the model, and a prefork child loads it after the
fork rather than inheriting a half-initialised torch from its parent.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from triage.errors import ConfigurationError
from triage.settings import Settings
from triage.storage.database import create_db_engine, session_factory

if TYPE_CHECKING:
    import redis

    from classifier.analysis import Analyzer
    from triage.escalation.delivery import DeliveryWorker
    from triage.runners.continued_triage import ContinuedTriage

log = logging.getLogger(__name__)


class WorkerContext:
    """One process's connections and model for the scale-out tasks."""

    def __init__(self, settings: Settings) -> None:
        if not settings.broker_url:
            raise ConfigurationError(
                "the scale-out runner needs a broker: set SIGNAL_TRIAGE_BROKER_URL, "
                "e.g. redis://127.0.0.1:6379/0"
            )
        self.settings = settings
        self.broker_url: str = settings.broker_url
        self._model_lock = threading.Lock()

    @cached_property
    def engine(self) -> Engine:
        return create_db_engine(self.settings.resolved_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def redis(self) -> redis.Redis:
        import redis as redis_client

        return redis_client.Redis.from_url(self.broker_url)

    @cached_property
    def delivery(self) -> DeliveryWorker:
        from triage.escalation.delivery import DeliveryWorker

        return DeliveryWorker(self.sessions, self.settings.escalation)

    @cached_property
    def continued_triage(self) -> ContinuedTriage:
        """This worker's memory of each tenant's triage, so its next tick continues from its last."""
        from triage.runners.continued_triage import ContinuedTriage

        return ContinuedTriage(self.settings)

    def analyzer(self) -> Analyzer:
        """The classifier, loaded on first use and kept for the life of the process."""
        with self._model_lock:
            cached: Analyzer | None = self.__dict__.get("_analyzer")
            if cached is None:
                from classifier.analysis import load_analyzer

                cached = load_analyzer(self.settings.model_dir, backend=self.settings.analysis_backend)
                self.__dict__["_analyzer"] = cached
                log.info("worker_model_loaded model_version=%s", cached.model_version)
            return cached

    def after_fork(self) -> None:
        """A forked child must not share its parent's database or broker sockets."""
        if "engine" in self.__dict__:
            self.engine.dispose(close=False)
        self.__dict__.pop("redis", None)

    def close(self) -> None:
        if "delivery" in self.__dict__:
            self.delivery.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
