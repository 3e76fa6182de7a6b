"""Read-side queries behind the REST API and the web UI. They return frozen dataclasses, so
SQLAlchemy rows never leave this package and the routes only shape and render."""
