"""watchers_seq: each watch or unwatch numbers the watcher count it leaves

Revision ID: d41f0a7c9e21
Revises: cc678232bcbb
Create Date: 2026-11-30 13:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'd41f0a7c9e21'
down_revision: Union[str, Sequence[str], None] = 'cc678232bcbb'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('auctions', sa.Column('watchers_seq', sa.BigInteger(), server_default='0', nullable=False), schema='auctions')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('auctions', 'watchers_seq', schema='auctions')
