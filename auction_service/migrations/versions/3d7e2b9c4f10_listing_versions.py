"""listing versions (the catalog's events carry them)

Revision ID: 3d7e2b9c4f10
Revises: 7a15df06a656
Create Date: 2026-11-30 10:05:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '3d7e2b9c4f10'
down_revision: Union[str, Sequence[str], None] = '7a15df06a656'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('auctions', sa.Column('version', sa.Integer(), server_default='1', nullable=False), schema='auctions')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('auctions', 'version', schema='auctions')
