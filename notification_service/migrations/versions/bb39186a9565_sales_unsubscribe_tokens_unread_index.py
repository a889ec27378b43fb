"""sales, unsubscribe tokens, the unread index

Revision ID: bb39186a9565
Revises: a5bda0005eb1
Create Date: 2026-11-30 09:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'bb39186a9565'
down_revision: Union[str, Sequence[str], None] = 'a5bda0005eb1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sales',
    sa.Column('auction_id', sa.UUID(), nullable=False),
    sa.Column('seller_id', sa.UUID(), nullable=False),
    sa.Column('buyer_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('auction_id'),
    schema='notifications'
    )
    op.create_table('signing_keys',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('name'),
    schema='notifications'
    )
    op.add_column('email_deliveries', sa.Column('unsubscribe_token', sa.String(length=200), nullable=True), schema='notifications')
    op.create_index('ix_notifications_unread', 'notifications', ['user_id'], unique=False, schema='notifications', postgresql_where=sa.text('read_at IS NULL'))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_notifications_unread', table_name='notifications', schema='notifications', postgresql_where=sa.text('read_at IS NULL'))
    op.drop_column('email_deliveries', 'unsubscribe_token', schema='notifications')
    op.drop_table('signing_keys', schema='notifications')
    op.drop_table('sales', schema='notifications')
