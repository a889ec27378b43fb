from auction_common.cli import service_main
from auction_service.app import SERVICE_DIR, build_parts
from auction_service.settings import load

service_main("auction_service", SERVICE_DIR, load, build_parts)
