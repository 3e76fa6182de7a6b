"""Whether a cluster member counts towards its cluster: cluster_members.counted

A surging incident also lists reports it took in only at a looser level (a surge
join or a plain-cosine attachment); those are its customers, so a support lead
sees them, but they never counted towards paging. Rows written before this
column existed were all counted members, hence the server default.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cluster_members") as batch:
        batch.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("cluster_members") as batch:
        batch.drop_column("counted")
