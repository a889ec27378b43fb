"""Buy-It-Now availability in the read model, as bidding_service decides it

Revision ID: 4b1f0c6e2a93
Revises: d41f0a7c9e21
Create Date: 2026-11-30 13:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '4b1f0c6e2a93'
down_revision: Union[str, Sequence[str], None] = 'd41f0a7c9e21'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the column, filled for existing listings by the rule the catalog applied until now
    (the same as bidding's); from here on bidding's events and answers keep it."""
    op.add_column('auctions', sa.Column('buy_now_available', sa.Boolean(),
                                        server_default='false', nullable=False),
                  schema='auctions')
    op.execute("""
        UPDATE auctions.auctions SET buy_now_available = buy_now_price IS NOT NULL
            AND outcome IS NULL AND cancelled_at IS NULL
            AND CASE WHEN reserve_price IS NOT NULL THEN NOT reserve_met ELSE bid_count = 0 END
    """)


def downgrade() -> None:
    """Drop the column."""
    op.drop_column('auctions', 'buy_now_available', schema='auctions')
