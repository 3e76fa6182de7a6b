"""An app whose settings carry a sources section (and API keys), for the intake and webhook tests.

``Settings`` gains ``sources`` (and ``api``) from the lead; until then this
subclass adds them, and it keeps working as a plain override afterwards.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from triage.access.settings import ApiSettings
from triage.settings import Settings
from triage.sources_settings import SourcesSettings


def client_for(
    tmp_path: Path, sources: SourcesSettings | None = None, api: ApiSettings | None = None
) -> TestClient:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{(tmp_path / 'api.db').as_posix()}",
        sources=sources or SourcesSettings(),
        api=api or ApiSettings(),
    )
    return TestClient(create_app(settings))
