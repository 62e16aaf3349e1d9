"""grades a city can trust: job leases (one central instance runs each periodic job); inspection checklist
items and photos; officer role scope (users.scope_area, users.scope_road)

Revision ID: 0003_grades_trust
Revises: 0002_episode_end_reason
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_grades_trust"
down_revision = "0002_episode_end_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("photos", sa.JSON(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_area", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("scope_road", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("scope_road")
        batch_op.drop_column("scope_area")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_column("photos")
        batch_op.drop_column("items")
    op.drop_table("job_leases")
