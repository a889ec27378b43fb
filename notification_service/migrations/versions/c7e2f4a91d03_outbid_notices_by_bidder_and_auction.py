"""unread outbid notices found by bidder and auction

Revision ID: c7e2f4a91d03
Revises: bb39186a9565
Create Date: 2026-12-01 06:30:00.000000

The quiet period's look-up (``notification_service.outbid``) asks for a bidder's unread outbid
notice on an auction; the unread index by user made it read every unread notice of the bidder
(a bidding war leaves thousands), ~1.3 ms of PostgreSQL per batch of events. The key is a
column the database keeps (``unread_outbid_of``, see the model), not an expression over
``data``: a notice brought up to date rewrites ``data``, and an index over it would rule out
HOT updates.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c7e2f4a91d03'
down_revision: Union[str, Sequence[str], None] = 'bb39186a9565'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UNREAD_OUTBID_OF = ("CASE WHEN kind = 'outbid' AND read_at IS NULL "
                    "THEN user_id::text || ' ' || (data ->> 'auction_id') END")


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('notifications', sa.Column('unread_outbid_of', sa.Text(),
                                             sa.Computed(UNREAD_OUTBID_OF, persisted=True),
                                             nullable=True), schema='notifications')
    op.create_index('ix_notifications_unread_outbid', 'notifications',
                    ['unread_outbid_of', 'created_at'], unique=False, schema='notifications',
                    postgresql_where=sa.text('unread_outbid_of IS NOT NULL'))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_notifications_unread_outbid', table_name='notifications',
                  schema='notifications',
                  postgresql_where=sa.text('unread_outbid_of IS NOT NULL'))
    op.drop_column('notifications', 'unread_outbid_of', schema='notifications')
