from auction_common.cli import service_main
from notification_service.app import SERVICE_DIR, build_parts
from notification_service.settings import load

service_main("notification_service", SERVICE_DIR, load, build_parts)
