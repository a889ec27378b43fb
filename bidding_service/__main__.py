from auction_common.cli import service_main
from bidding_service.app import SERVICE_DIR, build_parts
from bidding_service.settings import load

service_main("bidding_service", SERVICE_DIR, load, build_parts)
