"""API keys kept in the database: created by ``triage keys create``, stored only as salted hashes."""
