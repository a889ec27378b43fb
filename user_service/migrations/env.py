from auction_common.migrations import run_migrations
from user_service.models import metadata

run_migrations(metadata)
