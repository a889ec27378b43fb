"""watches follow only newer ends; finished auctions remembered

Revision ID: 8c4e1a7b3d52
Revises: 6f2a9d3e8b14
Create Date: 2026-11-30 10:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '8c4e1a7b3d52'
down_revision: Union[str, Sequence[str], None] = '6f2a9d3e8b14'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('watches', sa.Column('end_seq', sa.BigInteger(), server_default='0', nullable=False), schema='notifications')
    op.add_column('watches', sa.Column('listing_version', sa.Integer(), server_default='0', nullable=False), schema='notifications')
    op.create_table('finished_auctions',
    sa.Column('auction_id', sa.UUID(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('auction_id'),
    schema='notifications'
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('finished_auctions', schema='notifications')
    op.drop_column('watches', 'listing_version', schema='notifications')
    op.drop_column('watches', 'end_seq', schema='notifications')
