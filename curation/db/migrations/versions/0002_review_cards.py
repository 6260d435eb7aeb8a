"""The review queue: cards for refused questions, 👎 votes and "Ask a human" presses.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision; models.py may move on.
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_cards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("downvotes", sa.Integer(), nullable=False),
        sa.Column("humans", sa.Integer(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("closest", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("card_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("faq_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("resolved_at", _WHEN, nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="ck_review_cards_status"),
    )
    op.create_index("ix_review_cards_guild_status", "review_cards", ["guild_id", "status", "id"])


def downgrade() -> None:
    op.drop_table("review_cards")
