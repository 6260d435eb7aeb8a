"""FAQ freshness: how often each entry answered and when last, a review-by date, the cited sources' versions.

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing entries keep every row: they start with no uses, no review date and no recorded source versions
    # (their citations' passages are then compared with the index directly).
    with op.batch_alter_table("faq_entries") as batch:
        batch.add_column(sa.Column("use_count", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("review_by", sa.Date(), nullable=True))
        batch.add_column(sa.Column("cited_sources", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faq_entries") as batch:
        batch.drop_column("cited_sources")
        batch.drop_column("review_by")
        batch.drop_column("last_used_at")
        batch.drop_column("use_count")
