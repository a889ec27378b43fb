"""account versions (user events carry them)

Revision ID: 4b8d1e6a2c75
Revises: ef71ec6b4f0c
Create Date: 2026-11-30 10:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '4b8d1e6a2c75'
down_revision: Union[str, Sequence[str], None] = 'ef71ec6b4f0c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('users', sa.Column('version', sa.Integer(), server_default='1', nullable=False), schema='users')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('users', 'version', schema='users')
