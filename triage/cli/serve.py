"""``triage serve``: the API and web UI in one process, on the embedded database by default."""

from __future__ import annotations

import typer

from triage.settings import Settings


def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on; 127.0.0.1 keeps local open mode local."
    ),
    port: int = typer.Option(8000, help="TCP port."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the clusters board, sentiment dashboard, sources page and the REST API (/v1, docs at /docs)."""
    import uvicorn

    if reload:
        uvicorn.run(
            "api.app:create_app", factory=True, host=host, port=port, reload=True, log_level=log_level
        )
        return
    from api.app import create_app

    app = create_app(Settings())

    class _Server(uvicorn.Server):
        """Tells the app that shutdown began, so open live streams end on their next poll instead of
        holding the shutdown until uvicorn cancels them."""

        def handle_exit(self, sig: int, frame: object) -> None:
            app.state.shutting_down = True
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
    _Server(config).run()
