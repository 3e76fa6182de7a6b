"""Which triage pass last wrote a tenant's state: triage_state_marks

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_state_marks",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )


def downgrade() -> None:
    op.drop_table("triage_state_marks")
