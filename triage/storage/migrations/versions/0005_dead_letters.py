"""Tasks of the scale-out runner that failed for good: dead_letters

Also the merge point of the two branches that 0002 (outbox) and 0003/0004
(actions, API keys) grew from 0001, so the history has a single head again.

Revision ID: 0005
Revises: 0002, 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = ("0002", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=50), nullable=True),
        sa.Column("tenant", sa.String(length=100), nullable=True),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_dead_letters_tenant", "dead_letters", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_tenant", table_name="dead_letters")
    op.drop_table("dead_letters")
