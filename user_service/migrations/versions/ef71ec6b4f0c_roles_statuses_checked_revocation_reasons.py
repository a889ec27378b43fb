"""roles and statuses checked, revocation reasons

Revision ID: ef71ec6b4f0c
Revises: 30bbfc266d7f
Create Date: 2026-11-26 13:22:23.102786

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'ef71ec6b4f0c'
down_revision: Union[str, Sequence[str], None] = '30bbfc266d7f'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('refresh_tokens', sa.Column('revoked_reason', sa.String(length=20), nullable=True), schema='users')
    # Alembic does not autogenerate CHECK constraints: written by hand, as in models.py.
    op.create_check_constraint('ck_users_role', 'users', "role IN ('user', 'admin')", schema='users')
    op.create_check_constraint('ck_users_status', 'users', "status IN ('active', 'suspended')", schema='users')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_constraint('ck_users_status', 'users', type_='check', schema='users')
    op.drop_constraint('ck_users_role', 'users', type_='check', schema='users')
    op.drop_column('refresh_tokens', 'revoked_reason', schema='users')
