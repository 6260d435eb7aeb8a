"""What moderators curate and what the bot records: FAQ entries and their rules, votes, the answer log, stats,
export/import, storage (SQLAlchemy + Alembic). No Discord import."""
