"""FAQ entries, feedback votes and the answer log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision; models.py may move on.
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("pinned_message_id", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_faq_entries_guild", "faq_entries", ["guild_id", "id"])
    op.create_table(
        "votes",
        sa.Column("answer_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("at", _WHEN, nullable=False),
        sa.CheckConstraint("vote IN (-1, 1)", name="ck_votes_vote"),
    )
    op.create_index("ix_votes_guild_at", "votes", ["guild_id", "at"])
    op.create_table(
        "answer_log",
        sa.Column("answer_id", sa.String(64), primary_key=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("question_key", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("grounded", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("faq_id", sa.Integer(), nullable=True),
        sa.Column("at", _WHEN, nullable=False),
    )
    op.create_index("ix_answer_log_guild_at", "answer_log", ["guild_id", "at"])


def downgrade() -> None:
    op.drop_table("answer_log")
    op.drop_table("votes")
    op.drop_table("faq_entries")
