"""Who may use the API: key roles and settings, and the stored (hashed) keys table.

These live in ``triage/`` because the settings and the migrations (both here)
must know them, and ``triage/`` never imports ``api/``; ``api/`` uses them.
"""
