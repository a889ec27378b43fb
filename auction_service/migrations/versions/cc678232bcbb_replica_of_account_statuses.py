"""replica of account statuses (suspended accounts are refused)

Revision ID: cc678232bcbb
Revises: 3d7e2b9c4f10
Create Date: 2026-11-30 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'cc678232bcbb'
down_revision: Union[str, Sequence[str], None] = '3d7e2b9c4f10'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('account_statuses',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('user_id'),
    schema='auctions'
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('account_statuses', schema='auctions')
