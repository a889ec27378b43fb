"""contact versions (user events applied only when newer)

Revision ID: 6f2a9d3e8b14
Revises: 54c6a9be92c5
Create Date: 2026-11-30 10:12:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '6f2a9d3e8b14'
down_revision: Union[str, Sequence[str], None] = '54c6a9be92c5'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('contacts', sa.Column('version', sa.Integer(), server_default='0', nullable=False), schema='notifications')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('contacts', 'version', schema='notifications')
