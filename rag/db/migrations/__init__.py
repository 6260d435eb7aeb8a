"""Alembic migrations, run by rag.db.schema at start-up (a package so that they ship with the code)."""
