from auction_common.migrations import run_migrations
from notification_service.models import metadata

run_migrations(metadata)
