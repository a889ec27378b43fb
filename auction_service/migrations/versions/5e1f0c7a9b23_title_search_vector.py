"""a title-only search vector, GIN-indexed: relevance ranks title matches first, alone

Revision ID: 5e1f0c7a9b23
Revises: 4b1f0c6e2a93
Create Date: 2026-11-30 13:20:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision: str = '5e1f0c7a9b23'
down_revision: Union[str, Sequence[str], None] = '4b1f0c6e2a93'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('auctions', sa.Column('title_vector', postgresql.TSVECTOR(), sa.Computed("to_tsvector('english'::regconfig, coalesce(title, ''))", persisted=True), nullable=False), schema='auctions')
    op.create_index('ix_auctions_title_search', 'auctions', ['title_vector'], unique=False, schema='auctions', postgresql_using='gin')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_auctions_title_search', table_name='auctions', schema='auctions', postgresql_using='gin')
    op.drop_column('auctions', 'title_vector', schema='auctions')
