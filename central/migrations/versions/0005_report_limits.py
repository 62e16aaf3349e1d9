"""citizen reports: a per-client allowance shared by every central instance (report_allowances), and a
short video with its key frames on each report

Revision ID: 0005_report_limits
Revises: 0004_notices
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_report_limits"
down_revision = "0004_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_allowances",
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_key", "window_start"),
    )
    with op.batch_alter_table("report_allowances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_allowances_window_start"), ["window_start"], unique=False)
    with op.batch_alter_table("citizen_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("video_frames", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("citizen_reports", schema=None) as batch_op:
        batch_op.drop_column("video_frames")
        batch_op.drop_column("video")
    with op.batch_alter_table("report_allowances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_allowances_window_start"))
    op.drop_table("report_allowances")
