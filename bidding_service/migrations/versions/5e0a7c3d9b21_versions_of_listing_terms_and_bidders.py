"""versions of listing terms and bidders (events applied only when newer)

Revision ID: 5e0a7c3d9b21
Revises: 2c1f18c43548
Create Date: 2026-11-30 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5e0a7c3d9b21'
down_revision: Union[str, Sequence[str], None] = '2c1f18c43548'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('auctions', sa.Column('terms_version', sa.Integer(), server_default='0', nullable=False), schema='bidding')
    op.add_column('bidders', sa.Column('version', sa.Integer(), server_default='0', nullable=False), schema='bidding')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('bidders', 'version', schema='bidding')
    op.drop_column('auctions', 'terms_version', schema='bidding')
