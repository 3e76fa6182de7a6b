"""people's decisions: cluster_actions and post_labels

Revision ID: 0003
Revises: 0001
Branches beside 0002 (also on 0001); ``migrate()`` upgrades to "heads", so both apply.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("cluster_key", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("target_cluster_key", sa.String(length=100), nullable=True),
        sa.Column("post_ids", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cluster_actions", schema=None) as batch_op:
        batch_op.create_index("ix_cluster_actions_tenant_cluster", ["tenant", "cluster_key"], unique=False)

    op.create_table(
        "post_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("post_labels", schema=None) as batch_op:
        batch_op.create_index("ix_post_labels_tenant_post", ["tenant", "post_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("post_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_post_labels_tenant_post")
    op.drop_table("post_labels")
    with op.batch_alter_table("cluster_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_cluster_actions_tenant_cluster")
    op.drop_table("cluster_actions")
