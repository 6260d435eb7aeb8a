"""Alembic migrations, run by curation.db.schema at start-up (a package so that they ship with the code)."""
