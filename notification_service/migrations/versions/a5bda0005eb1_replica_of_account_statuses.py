"""replica of account statuses (suspended accounts are refused)

Revision ID: a5bda0005eb1
Revises: 8c4e1a7b3d52
Create Date: 2026-11-30 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'a5bda0005eb1'
down_revision: Union[str, Sequence[str], None] = '8c4e1a7b3d52'
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
    schema='notifications'
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('account_statuses', schema='notifications')
